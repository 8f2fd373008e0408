"""The MonthlyStatsStore contract, on SQL (SQLite, MariaDB, PostgreSQL) and DynamoDB (moto).

Given replies sent through the queue port at chosen instants around a month's bounds, expect
`counts` to give every asked venue all the count fields, `responses_sent` counting the replies
sent in [start, end) only (one sent exactly at `end` belongs to the next month), and the feedback
counts of the same window; rollups saved read back newest months, oldest first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.queue_setup import claim_item, feedback, queued_reply, reply, venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.storage.sql.monthly_stats import COUNT_FIELDS

START = datetime(2026, 4, 1, tzinfo=UTC)
END = datetime(2026, 5, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.fixture
def venues(store_ctx: Container) -> Container:
    for venue_id in ("v1", "v2", "v3"):
        venue(store_ctx, venue_id)
    return store_ctx


def send_at(ctx: Container, clock: ManualClock, venue_id: str, at: datetime) -> None:
    """A reply queued and sent at `at` through the queue (its feedback two hours older)."""
    clock.set(at)
    item = queued_reply(ctx, venue_id=venue_id)
    got = claim_item(ctx, item["queue_id"], "w")
    assert ctx.email_queue.mark_sent(
        got, claim="w", now=at, backend="smtp", provider_message_id=None
    )


def sent_history(ctx: Container, clock: ManualClock, sends: list[tuple[str, datetime]]) -> None:
    """Replies sent at these instants, imported in one go (each feedback two hours older)."""
    replies, outcomes = [], []
    for venue_id, at in sends:
        clock.set(at)
        fid = feedback(ctx, venue_id)
        replies.append({**reply(ctx, fid, status="sent", venue_id=venue_id), "sent_at": at})
        outcomes.append(
            {"feedback_id": fid, "status": "responded", "responded_at": at,
             "response_seconds": 7200}
        )  # fmt: skip
    ctx.replies.import_history(replies, outcomes)


def test_responses_sent_count_replies_sent_in_the_half_open_window(
    venues: Container, clock: ManualClock
) -> None:
    ctx = venues
    send_at(ctx, clock, "v1", START)
    sent_history(
        ctx,
        clock,
        [
            ("v1", START - TICK),  # the month before
            ("v2", START + timedelta(days=3)),
            ("v1", END - TICK),
            ("v1", END),  # the next month's
            ("v2", END + timedelta(hours=3)),
        ],
    )

    counts = ctx.monthly_stats.counts(["v1", "v2", "v3"], start=START, end=END)

    assert set(counts) == {"v1", "v2", "v3"}
    assert all(set(c) == set(COUNT_FIELDS) for c in counts.values())
    assert all(type(n) is int for c in counts.values() for n in c.values())
    assert [counts[v]["responses_sent"] for v in ("v1", "v2", "v3")] == [2, 1, 0]
    # Each feedback came two hours before its reply: v1's last two are in the window (and
    # answered), v2's first.
    assert [counts[v]["feedback_count"] for v in ("v1", "v2", "v3")] == [2, 1, 0]
    assert [counts[v]["responded_count"] for v in ("v1", "v2", "v3")] == [2, 1, 0]
    assert ctx.monthly_stats.counts(["v2"], start=START, end=END) == {"v2": counts["v2"]}
    assert ctx.monthly_stats.counts([], start=START, end=END) == {}
    next_month = ctx.monthly_stats.counts(["v1", "v2"], start=END, end=END + timedelta(days=31))
    assert [next_month[v]["responses_sent"] for v in ("v1", "v2")] == [1, 1]


def test_sources_and_saved_rollups(venues: Container, clock: ManualClock) -> None:
    ctx = venues
    first = feedback(ctx, "v1", age=timedelta(days=40))
    created = ctx.feedback.get(first)
    assert created is not None
    sources = {s["venue_id"]: s for s in ctx.monthly_stats.sources()}
    assert set(sources) == {"v1", "v2", "v3"}
    assert sources["v1"]["first_at"] == created["created_at"]
    assert (sources["v2"]["first_at"], sources["v2"]["timezone"]) == (None, "UTC")
    assert ctx.monthly_stats.stored_months() == set()

    now = clock.now()
    rows = [
        {"venue_id": "v1", "month": m, "period_start": s, "period_end": e, "computed_at": now}
        | dict.fromkeys(COUNT_FIELDS, n)
        for n, (m, s, e) in enumerate(
            [("2026-03", START - timedelta(days=31), START), ("2026-04", START, END)]
        )
    ]
    assert ctx.monthly_stats.save(rows) == 2
    assert ctx.monthly_stats.save(rows[1:]) == 1  # a rerun replaces
    assert ctx.monthly_stats.stored_months() == {("v1", "2026-03"), ("v1", "2026-04")}
    listed = ctx.monthly_stats.list_for_venue("v1", limit=1)
    assert [(r["month"], r["responses_sent"]) for r in listed] == [("2026-04", 1)]
    assert [r["month"] for r in ctx.monthly_stats.list_for_venue("v1", limit=5)] == [
        "2026-03",
        "2026-04",
    ]
