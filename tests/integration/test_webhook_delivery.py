"""Webhook delivery against a real local HTTP receiver: signature, retries, backoff, give-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from factories import make_feedback, make_venue
from sqlalchemy import Engine, select
from support.webhook_receiver import WebhookReceiver, free_port

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.notify.webhook import MAX_ATTEMPTS, backoff_seconds, sign, verify_signature
from encore_backend.scheduler.jobs import alert_detector
from encore_backend.storage.sql import models as m

SECRET = "whsec-venue-one"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
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
    }  # fmt: skip
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["delivered_at"] == now
    [attempt] = ctx.webhooks.attempts(delivery["delivery_id"])
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0


def test_receiver_down_then_up_is_delivered_once(
    ctx: Container, engine: Engine, clock: ManualClock
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
    delivery = only_delivery(engine)
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert now + timedelta(seconds=24) <= delivery["next_attempt_at"] <= now + timedelta(seconds=30)
    [attempt] = ctx.webhooks.attempts(delivery["delivery_id"])
    assert attempt["status_code"] is None
    assert "ConnectError" in attempt["error"]
    assert delivery["last_error"] == attempt["error"]
    assert alert_detector.run(ctx, clock.advance(seconds=5)).details["webhooks_failed"] == 0

    up = down.start()
    try:
        alert_detector.run(ctx, clock.advance(seconds=30))
        alert_detector.run(ctx, clock.advance(hours=2))
    finally:
        up.stop()

    assert len(up.successes()) == 1
    assert verify_signature(
        SECRET, up.requests[0].body, up.requests[0].headers["x-encore-signature"]
    )
    delivery = only_delivery(engine)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    assert len(ctx.webhooks.attempts(delivery["delivery_id"])) == 2


def test_server_errors_are_retried_with_the_same_body(
    ctx: Container, engine: Engine, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 503]
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="")

    alert_detector.run(ctx, now)
    delivery = only_delivery(engine)
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 500)
    assert delivery["last_error"].startswith("HTTP 500")
    second = alert_detector.run(ctx, clock.advance(seconds=30))
    assert second.details["webhooks_failed"] == 1
    assert only_delivery(engine)["next_attempt_at"] >= clock.now() + timedelta(seconds=48)
    alert_detector.run(ctx, clock.advance(seconds=60))

    assert [r.status for r in receiver.requests] == [500, 503, 200]
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["x-encore-delivery"] for r in receiver.requests}) == 1
    assert only_delivery(engine)["status"] == "delivered"


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

    assert len(receiver.requests) == MAX_ATTEMPTS
    assert given_up == 1
    delivery = only_delivery(engine)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == MAX_ATTEMPTS
    assert delivery["last_error"].startswith("HTTP 500")
    assert delivery["next_attempt_at"] is None
    assert len(ctx.webhooks.attempts(delivery["delivery_id"])) == MAX_ATTEMPTS


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
    receiver.statuses = [500]
    alert_detector.run(ctx, now, feedback_ids=[older])  # fails, retry due in ~30 s

    result = alert_detector.run(ctx, clock.advance(minutes=5), feedback_ids=[newer])

    assert result.details["webhooks_delivered"] == 1
    bodies = [json.loads(r.body)["alert"]["feedback_id"] for r in receiver.requests]
    assert bodies == [older, newer]  # the older retry waits for the periodic run
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
