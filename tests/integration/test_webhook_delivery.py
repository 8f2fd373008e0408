"""Webhook delivery against a real local HTTP receiver: signature, retries, backoff, give-up.

Waits between the tries of one pass go through the injected sleep, which moves the manual clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from factories import make_feedback, make_venue
from reply_support import use_manual_sleep
from sqlalchemy import Engine, select
from support.webhook_receiver import WebhookReceiver, free_port

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.notify.webhook import (
    MAX_ATTEMPTS,
    TRIES_PER_PASS,
    backoff_seconds,
    deliver_due,
    sign,
    verify_signature,
)
from encore_backend.scheduler.jobs import alert_detector
from encore_backend.services import alert_service
from encore_backend.storage.sql import models as m

SECRET = "whsec-venue-one"


@pytest.fixture
def sleeps(ctx: Container, clock: ManualClock) -> list[float]:
    """Sleeps of this test's runs: recorded, and the manual clock moved by them."""
    return use_manual_sleep(ctx, clock)


@pytest.fixture
def receiver(sleeps: list[float]) -> Iterator[WebhookReceiver]:
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def only_delivery(engine: Engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(select(m.webhook_deliveries)).all()
    assert len(rows) == 1
    return dict(rows[0]._mapping)


def test_delivery_is_signed_with_the_venue_secret(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    feedback_id = make_feedback(engine, "v1", created_at=now, rating=1, comment="food poisoning")

    result = alert_detector.run(ctx, now)

    assert result.details["webhooks_delivered"] == 1
    [req] = receiver.requests
    assert req.path == "/hooks/encore"
    assert verify_signature(SECRET, req.body, req.headers["x-encore-signature"])
    assert not verify_signature("another-secret", req.body, req.headers["x-encore-signature"])
    delivery = only_delivery(engine)
    assert req.headers["x-encore-event"] == "alert.created"
    assert req.headers["x-encore-delivery"] == delivery["delivery_id"]
    assert req.headers["x-encore-timestamp"] == str(int(now.timestamp()))
    assert req.headers["content-type"] == "application/json"
    body = json.loads(req.body)
    assert body["event"] == "alert.created"
    alert = body["alert"]
    assert alert["feedback_id"] == feedback_id
    assert alert["level"] == "critical"
    assert alert["detected_at"] == iso_z(now) and alert["detected_at"].endswith("Z")
    assert set(alert) == {
        "alert_id", "venue_id", "feedback_id", "level", "title", "description", "reasons",
        "detected_at", "is_read", "acknowledged_by", "acknowledged_at", "archived_at",
        "escalated_at",
    }  # fmt: skip
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["delivered_at"] == now
    [attempt] = ctx.webhooks.attempts(delivery["delivery_id"])
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0


def test_receiver_down_then_up_is_delivered_once(
    ctx: Container, engine: Engine, clock: ManualClock, sleeps: list[float]
) -> None:
    now = clock.now()
    port = free_port()
    down = WebhookReceiver(port=port)
    make_venue(engine, "v1", now=now, webhook_url=down.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="cockroach")

    first = alert_detector.run(ctx, now)

    assert first.details == {
        "alerts_created": 1, "webhooks_delivered": 0, "webhooks_failed": 1, "webhooks_given_up": 0,
    }  # fmt: skip
    assert sleeps == [0.5, 1.0]  # three tries in the pass, refused each time
    delivery = only_delivery(engine)
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    after = clock.now()
    assert (
        after + timedelta(seconds=24)
        <= delivery["next_attempt_at"]
        <= after + timedelta(seconds=30)
    )
    tries = ctx.webhooks.attempts(delivery["delivery_id"])
    assert len(tries) == TRIES_PER_PASS
    assert [t["attempted_at"] for t in tries] == [now, now + timedelta(seconds=0.5), after]
    assert all(t["status_code"] is None and "ConnectError" in t["error"] for t in tries)
    assert delivery["last_error"] == tries[-1]["error"]
    assert alert_detector.run(ctx, clock.advance(seconds=5)).details["webhooks_failed"] == 0

    up = down.start()
    try:
        alert_detector.run(ctx, clock.advance(seconds=30))
        alert_detector.run(ctx, clock.advance(hours=2))
    finally:
        up.stop()

    assert len(up.requests) == len(up.successes()) == 1
    assert verify_signature(
        SECRET, up.requests[0].body, up.requests[0].headers["x-encore-signature"]
    )
    delivery = only_delivery(engine)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    assert len(ctx.webhooks.attempts(delivery["delivery_id"])) == TRIES_PER_PASS + 1


def test_server_errors_are_retried_within_the_pass_with_the_same_body(
    ctx: Container,
    engine: Engine,
    clock: ManualClock,
    receiver: WebhookReceiver,
    sleeps: list[float],
) -> None:
    receiver.statuses = [500, 503]
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="")

    result = alert_detector.run(ctx, now)

    assert result.details["webhooks_delivered"] == 1 and result.details["webhooks_failed"] == 0
    assert [r.status for r in receiver.requests] == [500, 503, 200]
    assert sleeps == [0.5, 1.0]
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["x-encore-delivery"] for r in receiver.requests}) == 1
    delivery = only_delivery(engine)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)
    tries = ctx.webhooks.attempts(delivery["delivery_id"])
    assert [t["status_code"] for t in tries] == [500, 503, 200]
    assert tries[0]["error"].startswith("HTTP 500") and tries[2]["error"] is None


def test_a_pass_that_keeps_failing_waits_for_a_later_run(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 502, 503, 500, 500, 500]
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="")

    alert_detector.run(ctx, now)
    delivery = only_delivery(engine)
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 503)
    assert delivery["last_error"].startswith("HTTP 503")
    second = alert_detector.run(ctx, clock.advance(seconds=30))
    assert second.details["webhooks_failed"] == 1
    assert only_delivery(engine)["next_attempt_at"] >= clock.now() + timedelta(seconds=48)
    alert_detector.run(ctx, clock.advance(seconds=60))

    assert [r.status for r in receiver.requests] == [500, 502, 503, 500, 500, 500, 200]
    assert len({r.body for r in receiver.requests}) == 1
    delivery = only_delivery(engine)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


def test_a_client_error_is_not_retried_within_the_pass(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [404]
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="")

    alert_detector.run(ctx, now)

    assert [r.status for r in receiver.requests] == [404]
    delivery = only_delivery(engine)
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)  # a later run tries again


def test_gives_up_after_max_attempts_keeping_the_error(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    receiver.default = 500
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="")

    given_up = 0
    for _ in range(MAX_ATTEMPTS + 2):
        given_up += alert_detector.run(ctx, clock.now()).details["webhooks_given_up"]
        clock.advance(hours=1, seconds=1)

    assert len(receiver.requests) == MAX_ATTEMPTS * TRIES_PER_PASS
    assert given_up == 1
    delivery = only_delivery(engine)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == MAX_ATTEMPTS
    assert delivery["last_error"].startswith("HTTP 500")
    assert delivery["next_attempt_at"] is None
    assert len(ctx.webhooks.attempts(delivery["delivery_id"])) == MAX_ATTEMPTS * TRIES_PER_PASS


def test_only_alerts_at_the_venue_level_are_sent(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url)
    make_venue(engine, "v2", now=now, webhook_url=receiver.url,
               settings={"alert_notify_min_level": "critical"})  # fmt: skip
    make_feedback(engine, "v1", created_at=now, rating=2, comment="")  # medium: not sent
    make_feedback(engine, "v2", created_at=now, rating=1, comment="")  # high: not sent
    sent = make_feedback(engine, "v2", created_at=now, rating=5, comment="got sick")

    result = alert_detector.run(ctx, now)

    assert result.details["alerts_created"] == 3
    assert [json.loads(r.body)["alert"]["feedback_id"] for r in receiver.requests] == [sent]


def test_event_run_delivers_only_its_own_alert(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url)
    older = make_feedback(engine, "v1", created_at=now, rating=1, comment="")
    newer = make_feedback(engine, "v1", created_at=now, rating=1, comment="")
    receiver.statuses = [500] * TRIES_PER_PASS
    alert_detector.run(ctx, now, feedback_ids=[older])  # its pass fails, retry due in ~30 s

    result = alert_detector.run(ctx, clock.advance(minutes=5), feedback_ids=[newer])

    assert result.details["webhooks_delivered"] == 1
    bodies = [json.loads(r.body)["alert"]["feedback_id"] for r in receiver.requests]
    assert bodies == [older] * TRIES_PER_PASS + [newer]  # the older waits for the periodic run
    alert_detector.run(ctx, clock.now())
    assert len(receiver.successes()) == 2


def test_backoff_doubles_from_30_seconds_to_an_hour_with_jitter() -> None:
    assert [backoff_seconds(n, jitter=0) for n in (1, 2, 3, 7, 8, 20)] == [
        30, 60, 120, 1920, 3600, 3600,
    ]  # fmt: skip
    assert 24 <= backoff_seconds(1, jitter=0.999) < 30


def test_verify_signature_rejects_tampering() -> None:
    body = b'{"event":"alert.created"}'
    header = sign("s", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("s", body, header)
    assert not verify_signature("s", body + b" ", header)
    assert not verify_signature("s", body, None)
    assert not verify_signature("s", body, "sha256=" + "0" * 64)


@pytest.mark.slow
def test_a_receiver_down_for_a_quarter_hour_gets_the_alert_once_it_is_back(
    ctx: Container, engine: Engine, clock: ManualClock, sleeps: list[float]
) -> None:
    """Fault test: connections refused for 15 minutes while the detector runs every 30 s (the
    clock driven, nothing slept); once the receiver is up the alert arrives, once."""
    start = clock.now()
    receiver = WebhookReceiver(port=free_port())
    make_venue(engine, "v1", now=start, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=start, rating=1, comment="food poisoning")
    passes = 0
    while clock.now() < start + timedelta(minutes=15):
        passes += alert_detector.run(ctx, clock.now()).details["webhooks_failed"]
        clock.advance(seconds=30)
    assert only_delivery(engine)["status"] == "pending" and passes >= 4

    receiver.start()
    try:
        for _ in range(240):  # two more hours of runs every 30 s
            alert_detector.run(ctx, clock.advance(seconds=30))
    finally:
        receiver.stop()

    assert len(receiver.requests) == len(receiver.successes()) == 1
    delivery = only_delivery(engine)
    assert delivery["status"] == "delivered" and delivery["attempts"] <= MAX_ATTEMPTS
    assert delivery["delivered_at"] >= start + timedelta(minutes=15)


def test_waits_within_passes_stay_inside_the_run_budget(
    ctx: Container, engine: Engine, clock: ManualClock, sleeps: list[float]
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=f"http://127.0.0.1:{free_port()}/down")
    for _ in range(50):
        make_feedback(engine, "v1", created_at=now, rating=1, comment="")
    assert len(alert_service.detect(ctx, now=now).delivery_ids) == 50

    stats = deliver_due(ctx, now=now)

    # each pass waits 0.5 s + 1 s between refused tries until the 60 s budget nears its end;
    # the passes after that make one try each and wait for nothing
    assert stats.failed == 50 and 70 <= stats.retried < 2 * 50
    assert clock.now() - now <= timedelta(seconds=60)
