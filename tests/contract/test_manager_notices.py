"""Manager emails under preferences, on the SQL and DynamoDB queue stores alike: an alert email
deferred past quiet hours is not due before their end, and a digest (a notice with a key and a
payload) is queued once per (notice_key, recipient) and claimed with its content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from support.queue_setup import MANAGERS, feedback, venue

from encore_backend.bootstrap import Container
from encore_backend.domain.manager_prefs import Pref
from encore_backend.services.manager_mail import manager_items

LEASE = timedelta(minutes=5)
NIGHT = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # UTC venue: in quiet hours 22-07
MORNING = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)


def claim(ctx: Container, now: datetime, token: str = "w1") -> dict[str, Any] | None:
    return ctx.email_queue.claim_next(now=now, claim=token, lease_until=now + LEASE)


def test_an_alert_email_deferred_by_quiet_hours_is_due_at_their_end(
    store_ctx: Container,
) -> None:
    store_ctx.clock.set(NIGHT)  # type: ignore[attr-defined]
    venue(store_ctx)
    fid = feedback(store_ctx, comment="A cockroach", rating=1, alert_scanned_at=None)
    alert = {
        "alert_id": str(uuid.uuid4()),
        "venue_id": "v1",
        "feedback_id": fid,
        "level": "high",
        "title": "Hygiene concern",
        "description": "",
        "reasons": [{"rule": "hygiene_keyword", "level": "high", "keyword": "cockroach"}],
        "detected_at": NIGHT,
        "is_read": False,
    }
    prefs = {MANAGERS[0]: Pref("immediate", quiet_start_hour=22, quiet_end_hour=7)}
    items = manager_items(
        store_ctx.settings,
        kind="alert",
        venue_id="v1",
        manager_emails=MANAGERS,
        now=NIGHT,
        prefs=prefs,
        level="high",
        timezone="UTC",
        alert_id=alert["alert_id"],
        feedback_id=fid,
    )
    assert [(i["customer_email"], i["scheduled_send_time"]) for i in items] == [
        (MANAGERS[0], MORNING)  # the standard address gets no high alert
    ]
    store_ctx.alerts.save_scan(
        feedback_ids=[fid],
        alerts=[alert],
        deliveries={},
        now=NIGHT,
        emails={alert["alert_id"]: items},
    )

    assert claim(store_ctx, NIGHT) is None
    assert claim(store_ctx, MORNING - timedelta(seconds=1)) is None
    got = claim(store_ctx, MORNING)
    assert got is not None and got["customer_email"] == MANAGERS[0] and got["level"] == "high"


def digest_items(ctx: Container, now: datetime) -> list[dict[str, Any]]:
    prefs = {address: Pref("digest", digest_hour=7) for address in MANAGERS}
    return manager_items(
        ctx.settings,
        kind="digest",
        venue_id="v1",
        manager_emails=MANAGERS,
        now=now,
        prefs=prefs,
        timezone="UTC",
        notice_key="digest:v1:2026-03-11",
        payload={"feedback": 3, "alert_counts": {"critical": 1}, "unanswered": []},
    )


def test_a_digest_is_queued_once_per_recipient_and_claimed_with_its_content(
    store_ctx: Container,
) -> None:
    store_ctx.clock.set(MORNING)  # type: ignore[attr-defined]
    venue(store_ctx)
    queue = store_ctx.email_queue

    assert queue.add_notices(digest_items(store_ctx, MORNING)) == 2
    assert queue.add_notices(digest_items(store_ctx, MORNING)) == 0  # a rerun: fresh ids, same keys
    assert queue.add_notices([]) == 0

    claimed = [claim(store_ctx, MORNING, f"w{n}") for n in range(3)]
    assert claimed[2] is None
    for got in claimed[:2]:
        assert got is not None and got["kind"] == "digest"
        assert got["notice_key"] == "digest:v1:2026-03-11"
        assert got["content"]["feedback"] == 3
        assert got["venue_name"] == "Venue v1"
    assert sorted(g["customer_email"] for g in claimed[:2] if g) == MANAGERS
