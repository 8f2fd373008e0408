"""The OpsCountStore contract, on SQL (SQLite, MariaDB, PostgreSQL) and DynamoDB (moto).

Given replies and queue items made through the reply and queue ports, expect the replies of
every venue counted per status (a status change moves the count), and the failed queue items
of every venue listed newest scheduled first, `limit` of them, with only the console's columns.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support.queue_setup import claim_item, feedback, queued_reply, reply, venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import ReplyStatus

LEASE = timedelta(minutes=5)
FAILED_COLUMNS = {"queue_id", "venue_id", "customer_email", "scheduled_send_time", "error"}


@pytest.fixture
def venues(store_ctx: Container) -> Container:
    venue(store_ctx, "v1")
    venue(store_ctx, "v2")
    return store_ctx


def claim(ctx: Container, token: str) -> dict[str, Any]:
    now = ctx.clock.now()
    got = ctx.email_queue.claim_next(now=now, claim=token, lease_until=now + LEASE)
    assert got is not None
    return got


def fail(ctx: Container, token: str, error: str) -> dict[str, Any]:
    """Claim the next due item and fail it for good; the claimed item."""
    got = claim(ctx, token)
    assert ctx.email_queue.mark_failed(
        got, claim=token, now=ctx.clock.now(), error=error, backend="smtp"
    )
    return got


def test_nothing_stored_counts_nothing(store_ctx: Container) -> None:
    assert store_ctx.ops_counts.replies_by_status() == {}
    assert store_ctx.ops_counts.failed_emails() == []
    assert store_ctx.ops_counts.failed_emails(limit=0) == []


def test_replies_by_status_counts_every_venue_and_follows_status_moves(
    venues: Container,
) -> None:
    ctx = venues
    saved = []
    for venue_id, status in [("v1", "generated"), ("v1", "generated"), ("v2", "generated")]:
        row = reply(ctx, feedback(ctx, venue_id), status=status, venue_id=venue_id)
        assert ctx.replies.save(reply=row)
        saved.append(row)
    assert ctx.replies.save(
        reply={**reply(ctx, feedback(ctx, "v2"), venue_id="v2"), "status": "failed"}
    )
    queued_reply(ctx, venue_id="v2")  # auto_approved, with its queue item
    assert ctx.ops_counts.replies_by_status() == {"generated": 3, "failed": 1, "auto_approved": 1}

    assert ctx.replies.update_status(
        saved[0]["response_id"],
        status=ReplyStatus.APPROVED,
        from_statuses=(ReplyStatus.GENERATED,),
    )
    counts = ctx.ops_counts.replies_by_status()
    assert counts == {"generated": 2, "approved": 1, "failed": 1, "auto_approved": 1}
    assert all(type(n) is int for n in counts.values())


def test_failed_emails_lists_the_newest_scheduled_failed_items_of_every_venue(
    venues: Container, clock: ManualClock
) -> None:
    ctx, now = venues, clock.now()
    plan = [("v2", 10), ("v1", 40), ("v2", 20), ("v1", 30)]
    items = {
        minutes: queued_reply(ctx, venue_id=v, send_at=now - timedelta(minutes=minutes))
        for v, minutes in plan
    }
    failed = {}
    for n in range(len(plan)):  # claims take due items in no set order
        clock.advance(seconds=1)
        got = fail(ctx, f"w{n}", f"550 no {n}")
        failed[got["queue_id"]] = f"550 no {n}"
    pending = queued_reply(ctx, venue_id="v1", send_at=now)  # newest, but not failed
    sent = queued_reply(ctx, venue_id="v2", send_at=now - timedelta(minutes=1))
    got = claim_item(ctx, sent["queue_id"], "s")
    assert ctx.email_queue.mark_sent(
        got, claim="s", now=clock.now(), backend="smtp", provider_message_id=None
    )

    newest_first = [items[m] for m in sorted(items)]
    rows = ctx.ops_counts.failed_emails()
    assert [r["queue_id"] for r in rows] == [i["queue_id"] for i in newest_first]
    assert pending["queue_id"] not in failed and sent["queue_id"] not in failed
    for row, item in zip(rows, newest_first, strict=True):
        assert set(row) == FAILED_COLUMNS
        assert row == {
            "queue_id": item["queue_id"],
            "venue_id": item["venue_id"],
            "customer_email": item["customer_email"],
            "scheduled_send_time": item["scheduled_send_time"],
            "error": failed[item["queue_id"]],
        }
        assert row["scheduled_send_time"].tzinfo is not None

    top = ctx.ops_counts.failed_emails(limit=2)
    assert [r["queue_id"] for r in top] == [i["queue_id"] for i in newest_first[:2]]
    assert ctx.ops_counts.failed_emails(limit=0) == []


def test_a_requeued_item_leaves_the_failed_list(venues: Container) -> None:
    ctx = venues
    first = queued_reply(ctx, send_at=ctx.clock.now() - timedelta(minutes=2))
    second = queued_reply(ctx, send_at=ctx.clock.now() - timedelta(minutes=1))
    fail(ctx, "a", "550 a")
    fail(ctx, "b", "550 b")
    assert [r["queue_id"] for r in ctx.ops_counts.failed_emails()] == [
        second["queue_id"],
        first["queue_id"],
    ]

    assert ctx.email_queue.requeue(second["queue_id"], now=ctx.clock.now())

    assert [r["queue_id"] for r in ctx.ops_counts.failed_emails()] == [first["queue_id"]]
    assert ctx.ops_counts.replies_by_status() == {"failed": 1, "approved": 1}
