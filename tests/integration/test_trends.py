"""The dashboard's 30-day trend: hourly counts from SQL folded into the venue's local days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import make_feedback, make_venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.storage.sql.trends import SqlTrendStore
from encore_backend.web.trends import venue_trend


def test_hourly_counts_and_rating_sums(ctx: Container) -> None:
    make_venue(ctx.engine, "v1", now=datetime(2026, 3, 1, tzinfo=UTC))
    make_venue(ctx.engine, "v2", now=datetime(2026, 3, 1, tzinfo=UTC))
    for minute, rating in ((5, 5), (50, 3)):
        make_feedback(ctx.engine, "v1", created_at=datetime(2026, 3, 9, 23, minute, tzinfo=UTC),
                      rating=rating)  # fmt: skip
    make_feedback(ctx.engine, "v1", created_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC), rating=1)
    make_feedback(ctx.engine, "v2", created_at=datetime(2026, 3, 9, 23, 5, tzinfo=UTC), rating=2)
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
    days = venue_trend(ctx, venue_id="tokyo", timezone="Asia/Tokyo", now=now)
    assert len(days) == 30 and days[-1].day.isoformat() == "2026-03-10"
    assert [(d.day.isoformat(), d.feedback, d.average_rating) for d in days if d.feedback] == [
        ("2026-03-09", 1, 2.0),
        ("2026-03-10", 1, 4.0),
    ]
