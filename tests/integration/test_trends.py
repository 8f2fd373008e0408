"""The dashboard's 30-day trend: hourly counts stored by stats_aggregator, folded into the
venue's local days; the stored hours equal a live aggregate of the feedback table."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from factories import make_feedback, make_venue
from sqlalchemy import Engine, delete, select

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.scheduler.jobs import stats_aggregator
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.trends import SqlTrendStore
from encore_backend.web.trends import venue_trend

EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def live_hours(engine: Engine, venue_id: str) -> list[tuple[datetime, int, int]]:
    """The oracle: the venue's feedback aggregated per UTC hour in Python, read right now."""
    f = m.feedback.c
    with engine.connect() as conn:
        rows = conn.execute(select(f.created_at, f.rating).where(f.venue_id == venue_id)).all()
    counts: Counter[datetime] = Counter()
    sums: Counter[datetime] = Counter()
    for created_at, rating in rows:
        hour = created_at.replace(minute=0, second=0, microsecond=0)
        counts[hour] += 1
        sums[hour] += rating
    return sorted((hour, n, sums[hour]) for hour, n in counts.items())


def stored_hours(ctx: Container, venue_id: str) -> list[tuple[datetime, int, int]]:
    return sorted(ctx.trends.hourly_feedback(venue_id, since=EVER[0], until=EVER[1]))


def stats_run(ctx: Container, now: datetime) -> int:
    """One stats_aggregator run at `now`; how many trend hours it recounted."""
    return int(stats_aggregator.run(ctx, now).details["trend_hours"])


def cursor(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(m.count_cursors.c.feedback_id)).scalar()


def test_hourly_counts_and_rating_sums(ctx: Container) -> None:
    make_venue(ctx.engine, "v1", now=datetime(2026, 3, 1, tzinfo=UTC))
    make_venue(ctx.engine, "v2", now=datetime(2026, 3, 1, tzinfo=UTC))
    for minute, rating in ((5, 5), (50, 3)):
        make_feedback(ctx.engine, "v1", created_at=datetime(2026, 3, 9, 23, minute, tzinfo=UTC),
                      rating=rating)  # fmt: skip
    make_feedback(ctx.engine, "v1", created_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC), rating=1)
    make_feedback(ctx.engine, "v2", created_at=datetime(2026, 3, 9, 23, 5, tzinfo=UTC), rating=2)
    stats_run(ctx, datetime(2026, 3, 11, tzinfo=UTC))
    rows = SqlTrendStore(ctx.engine).hourly_feedback(
        "v1", since=datetime(2026, 3, 9, tzinfo=UTC), until=datetime(2026, 3, 11, tzinfo=UTC)
    )
    assert sorted(rows) == [
        (datetime(2026, 3, 9, 23, tzinfo=UTC), 2, 8),
        (datetime(2026, 3, 10, 1, tzinfo=UTC), 1, 1),
    ]


def test_thirty_local_days_end_today(ctx: Container, clock: ManualClock) -> None:
    now = clock.now()  # 2026-03-10 12:00 UTC = 21:00 in Tokyo
    make_venue(ctx.engine, "tokyo", now=now, timezone="Asia/Tokyo")
    # 9th 23:00 UTC is the 10th 08:00 in Tokyo; 9th 14:00 UTC is the 9th 23:00 there.
    make_feedback(ctx.engine, "tokyo", created_at=now - timedelta(hours=13), rating=4)
    make_feedback(ctx.engine, "tokyo", created_at=now - timedelta(hours=22), rating=2)
    make_feedback(ctx.engine, "tokyo", created_at=now - timedelta(days=31), rating=5)  # too old
    stats_run(ctx, now)
    days = venue_trend(ctx, venue_id="tokyo", timezone="Asia/Tokyo", now=now)
    assert len(days) == 30 and days[-1].day.isoformat() == "2026-03-10"
    assert [(d.day.isoformat(), d.feedback, d.average_rating) for d in days if d.feedback] == [
        ("2026-03-09", 1, 2.0),
        ("2026-03-10", 1, 4.0),
    ]


def test_stored_hours_equal_a_live_aggregate_and_follow_new_feedback(
    ctx: Container, clock: ManualClock
) -> None:
    now = clock.now()
    for venue_id in ("a", "b"):
        make_venue(ctx.engine, venue_id, now=now - timedelta(days=60))
    for i in range(60):  # spread over 40 days, several per hour, both venues
        created = now - timedelta(days=40) + timedelta(minutes=950 * i)
        make_feedback(ctx.engine, "ab"[i % 2], created_at=created, rating=1 + i % 5)
    assert stats_run(ctx, now) > 0  # the first run counts every bucket
    assert stored_hours(ctx, "a") == live_hours(ctx.engine, "a") != []
    assert stored_hours(ctx, "b") == live_hours(ctx.engine, "b") != []

    # New feedback in an hour that has a bucket, one in a new hour, one created long ago.
    late = now + timedelta(minutes=3)
    for created in (
        now - timedelta(minutes=59),
        now + timedelta(minutes=1),
        now - timedelta(days=20),
    ):
        make_feedback(ctx.engine, "a", created_at=created, rating=2, ingested_at=late)
    assert stored_hours(ctx, "a") != live_hours(ctx.engine, "a")  # read stored, not live
    assert stats_run(ctx, now + timedelta(minutes=5)) == 3
    assert stored_hours(ctx, "a") == live_hours(ctx.engine, "a")
    assert stored_hours(ctx, "b") == live_hours(ctx.engine, "b")


def test_a_lower_id_committing_late_is_still_counted(ctx: Container, clock: ManualClock) -> None:
    """Ids commit out of order: the cursor only passes feedback ingested SETTLE ago."""
    now = clock.now()
    make_venue(ctx.engine, "v", now=now - timedelta(days=1))
    old = make_feedback(ctx.engine, "v", created_at=now - timedelta(hours=5))
    stats_run(ctx, now)
    assert cursor(ctx.engine) == old
    higher = old + 100
    make_feedback(ctx.engine, "v", created_at=now, feedback_id=higher, ingested_at=now)
    stats_run(ctx, now + timedelta(minutes=1))
    assert cursor(ctx.engine) == old  # not settled yet: looked at again next run
    # A lower id that the last run could not see commits now.
    make_feedback(ctx.engine, "v", created_at=now, feedback_id=old + 50, ingested_at=now)
    stats_run(ctx, now + timedelta(minutes=6))
    assert stored_hours(ctx, "v") == live_hours(ctx.engine, "v")
    assert stored_hours(ctx, "v")[-1][1] == 2
    stats_run(ctx, now + timedelta(minutes=30))
    assert cursor(ctx.engine) == higher
    assert stats_run(ctx, now + timedelta(minutes=35)) == 0  # nothing new: nothing recounted


def test_recounting_a_bucket_again_writes_the_same_figures(
    ctx: Container, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(ctx.engine, "v", now=now - timedelta(days=1))
    for minutes, rating in ((10, 5), (20, 1), (70, 4)):
        make_feedback(ctx.engine, "v", created_at=now - timedelta(minutes=minutes), rating=rating)
    stats_run(ctx, now)
    first = stored_hours(ctx, "v")
    stats_run(ctx, now)  # a retried run at the same time
    assert stored_hours(ctx, "v") == first
    with ctx.engine.begin() as conn:  # without the cursor, a run recounts every bucket
        conn.execute(delete(m.count_cursors))
    stats_run(ctx, now + timedelta(minutes=1))
    assert stored_hours(ctx, "v") == first == live_hours(ctx.engine, "v")
    assert [n for _, n, _ in first] == [1, 2]


def test_deleting_a_venue_drops_its_hours(ctx: Container, clock: ManualClock) -> None:
    now = clock.now()
    make_venue(ctx.engine, "gone", now=now - timedelta(days=1))
    make_feedback(ctx.engine, "gone", created_at=now - timedelta(hours=2))
    stats_run(ctx, now)
    assert stored_hours(ctx, "gone") != []
    with ctx.engine.begin() as conn:
        conn.execute(delete(m.venues).where(m.venues.c.venue_id == "gone"))
    assert stored_hours(ctx, "gone") == []
