"""StatsStore.aggregate's reply counts, on SQL (SQLite, MariaDB, PostgreSQL) and DynamoDB (moto),
where the replies live in the derived store while feedback stays in SQL.

Given replies drafted, moved and sent through the reply and queue ports, expect
`pending_responses` to count the replies still waiting (generated, pending approval, approved,
auto-approved) per venue, and `sent_today` the replies sent in each venue's local day up to and
including `now` (windows built as the stats job builds them), with the same numbers in both stores.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import make_venue
from support.queue_setup import MANAGERS, claim_item, feedback, queued_reply, reply, venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import ReplyStatus
from encore_backend.domain.stats_windows import windows_for
from encore_backend.storage.sql.stats_aggregate import COUNT_KEYS

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # 08:00 in New York (EDT since March 8)
NEW_YORK = "America/New_York"
TICK = timedelta(microseconds=1)


def sent(ctx: Container, clock: ManualClock, venue_id: str, at: datetime) -> None:
    """A reply queued and sent at `at` through the queue."""
    clock.set(at)
    item = queued_reply(ctx, venue_id=venue_id)
    got = claim_item(ctx, item["queue_id"], "w")
    assert ctx.email_queue.mark_sent(
        got, claim="w", now=at, backend="smtp", provider_message_id=None
    )


def sent_history(ctx: Container, sends: list[tuple[str, datetime]]) -> None:
    """Replies sent at these instants, imported in one go."""
    replies, outcomes = [], []
    for venue_id, at in sends:
        fid = feedback(ctx, venue_id, age=timedelta(days=1))
        replies.append({**reply(ctx, fid, status="sent", venue_id=venue_id), "sent_at": at})
        outcomes.append(
            {"feedback_id": fid, "status": "responded", "responded_at": at,
             "response_seconds": 3600}
        )  # fmt: skip
    ctx.replies.import_history(replies, outcomes)


def drafted(ctx: Container, status: str, moved_to: ReplyStatus | None = None) -> None:
    row = reply(ctx, feedback(ctx), status=status)
    assert ctx.replies.save(reply=row)
    if moved_to is not None:
        assert ctx.replies.update_status(
            row["response_id"], status=moved_to, from_statuses=(ReplyStatus(status),)
        )


def test_pending_and_sent_today_count_the_replies_of_each_venues_day(
    store_ctx: Container, clock: ManualClock
) -> None:
    ctx = store_ctx
    venue(ctx, "v1")
    make_venue(ctx.engine, "v2", now=NOW - timedelta(days=30), timezone=NEW_YORK,
               manager_emails=MANAGERS)  # fmt: skip
    venue(ctx, "quiet")
    utc_midnight = datetime(2026, 3, 11, tzinfo=UTC)
    ny_midnight = datetime(2026, 3, 11, 4, tzinfo=UTC)
    sent(ctx, clock, "v1", NOW)
    sent_history(
        ctx,
        [
            ("v1", utc_midnight - TICK),  # yesterday
            ("v1", utc_midnight),
            ("v2", ny_midnight - TICK),  # yesterday in New York
            ("v2", ny_midnight),
            ("v1", NOW + TICK),  # after the windows' `now`
        ],
    )
    drafted(ctx, "generated")
    drafted(ctx, "pending_approval")
    drafted(ctx, "generated", moved_to=ReplyStatus.APPROVED)
    drafted(ctx, "pending_approval", moved_to=ReplyStatus.REJECTED)
    drafted(ctx, "failed")
    queued_reply(ctx, venue_id="v2")  # auto-approved, waiting in the queue
    cancelled = queued_reply(ctx, venue_id="v2")
    assert ctx.email_queue.cancel(cancelled["queue_id"], now=clock.now(), reason="test")

    zones = ctx.stats.venue_timezones()
    assert zones == {"v1": "UTC", "v2": NEW_YORK, "quiet": "UTC"}
    counts = ctx.stats.aggregate({v: windows_for(tz, NOW) for v, tz in zones.items()})

    assert set(counts) == set(zones)
    assert all(set(row) == set(COUNT_KEYS) for row in counts.values())
    assert {v: counts[v]["sent_today"] for v in zones} == {"v1": 2, "v2": 1, "quiet": 0}
    assert {v: counts[v]["pending_responses"] for v in zones} == {"v1": 3, "v2": 1, "quiet": 0}
    assert all(type(n) is int for row in counts.values() for n in row.values())


def test_overdue_responses_count_escalated_feedback_still_without_a_sent_reply(
    store_ctx: Container, clock: ManualClock
) -> None:
    """Given feedback escalated by the response deadline, some answered since, expect
    `overdue_responses` to count those escalated and still without a sent reply, per venue."""
    ctx = store_ctx
    venue(ctx, "v1")
    venue(ctx, "v2")
    escalated = NOW - timedelta(hours=3)
    feedback(ctx, "v1", escalated_at=escalated)
    feedback(ctx, "v1", escalated_at=escalated, age=timedelta(days=40))  # any age counts
    feedback(ctx, "v1")  # not escalated
    feedback(ctx, "v2", escalated_at=escalated, responded_at=NOW, status="responded")
    feedback(ctx, "v2", escalated_at=escalated)

    zones = ctx.stats.venue_timezones()
    counts = ctx.stats.aggregate({v: windows_for(tz, NOW) for v, tz in zones.items()})

    assert {v: counts[v]["overdue_responses"] for v in zones} == {"v1": 2, "v2": 1}
