"""Stats windows with literal instants: local midnight, Monday, month start, DST, +05:30."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from encore_backend.domain.stats_windows import windows_for
from encore_backend.services.stats_service import stats_from_counts, totals
from encore_backend.storage.sql.stats_aggregate import COUNT_KEYS


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NY = "America/New_York"
KOLKATA = "Asia/Kolkata"

# (timezone, now, today_start, week_start, month_start)
CASES = [
    # UTC: a second before and at midnight; Tuesday 10 March 2026.
    ("UTC", utc(2026, 3, 9, 23, 59, 59), utc(2026, 3, 9), utc(2026, 3, 9), utc(2026, 3, 1)),
    ("UTC", utc(2026, 3, 10), utc(2026, 3, 10), utc(2026, 3, 9), utc(2026, 3, 1)),
    # New York, spring forward on Sunday 8 March 2026 (a 23-hour day: 05:00Z to 04:00Z).
    (NY, utc(2026, 3, 8, 5), utc(2026, 3, 8, 5), utc(2026, 3, 2, 5), utc(2026, 3, 1, 5)),
    (NY, utc(2026, 3, 8, 12), utc(2026, 3, 8, 5), utc(2026, 3, 2, 5), utc(2026, 3, 1, 5)),
    (NY, utc(2026, 3, 9, 3, 59), utc(2026, 3, 8, 5), utc(2026, 3, 2, 5), utc(2026, 3, 1, 5)),
    # ... and Monday 9 March starts at 04:00Z (EDT): a new day and a new week.
    (NY, utc(2026, 3, 9, 4), utc(2026, 3, 9, 4), utc(2026, 3, 9, 4), utc(2026, 3, 1, 5)),
    # New York, fall back on Sunday 1 November 2026 (a 25-hour day: 04:00Z to 05:00Z).
    (NY, utc(2026, 11, 1, 3, 59), utc(2026, 10, 31, 4), utc(2026, 10, 26, 4), utc(2026, 10, 1, 4)),
    (NY, utc(2026, 11, 1, 4), utc(2026, 11, 1, 4), utc(2026, 10, 26, 4), utc(2026, 11, 1, 4)),
    (NY, utc(2026, 11, 2, 4, 30), utc(2026, 11, 1, 4), utc(2026, 10, 26, 4), utc(2026, 11, 1, 4)),
    (NY, utc(2026, 11, 2, 5), utc(2026, 11, 2, 5), utc(2026, 11, 2, 5), utc(2026, 11, 1, 4)),
    # Kolkata (+05:30): local midnight is 18:30Z the day before; 1 April 2026 is a Wednesday.
    (KOLKATA, utc(2026, 3, 31, 18, 29), utc(2026, 3, 30, 18, 30), utc(2026, 3, 29, 18, 30),
     utc(2026, 2, 28, 18, 30)),
    (KOLKATA, utc(2026, 3, 31, 18, 30), utc(2026, 3, 31, 18, 30), utc(2026, 3, 29, 18, 30),
     utc(2026, 3, 31, 18, 30)),
    # A midnight skipped by DST (São Paulo, 4 Nov 2018): the day starts at the jump.
    ("America/Sao_Paulo", utc(2018, 11, 4, 12), utc(2018, 11, 4, 3), utc(2018, 10, 29, 3),
     utc(2018, 11, 1, 3)),
]  # fmt: skip


@pytest.mark.parametrize(("tz", "now", "today", "week", "month"), CASES)
def test_windows_start_at_local_midnights(
    tz: str, now: datetime, today: datetime, week: datetime, month: datetime
) -> None:
    w = windows_for(tz, now)
    assert (w.today_start, w.week_start, w.month_start) == (today, week, month)
    assert w.now == now
    assert w.today_start.tzinfo is not None


def test_new_york_dst_days_last_23_and_25_hours() -> None:
    spring = windows_for(NY, utc(2026, 3, 8, 12)).today_start
    after_spring = windows_for(NY, utc(2026, 3, 9, 12)).today_start
    autumn = windows_for(NY, utc(2026, 11, 1, 12)).today_start
    after_autumn = windows_for(NY, utc(2026, 11, 2, 12)).today_start
    assert after_spring - spring == timedelta(hours=23)
    assert after_autumn - autumn == timedelta(hours=25)


def test_trailing_window_is_thirty_absolute_days_even_across_dst() -> None:
    now = utc(2026, 3, 20, 12)
    w = windows_for(NY, now)
    assert w.trailing_start == utc(2026, 2, 18, 12)
    assert w.scan_start == w.trailing_start  # earlier than 1 March


def test_scan_start_is_month_start_when_earlier() -> None:
    w = windows_for(KOLKATA, utc(2026, 3, 31, 12))
    assert w.scan_start == w.month_start == utc(2026, 2, 28, 18, 30)


def test_naive_now_is_utc_and_unknown_zone_falls_back_to_utc() -> None:
    w = windows_for("Not/AZone", datetime(2026, 3, 10, 12))
    assert w.today_start == utc(2026, 3, 10)
    assert windows_for("", utc(2026, 3, 10, 1)).today_start == utc(2026, 3, 10)


def _counts(**values: int) -> dict[str, int]:
    return {key: values.get(key, 0) for key in COUNT_KEYS}


def test_empty_window_gives_nulls_not_zero() -> None:
    stats = stats_from_counts(_counts(pending_responses=2))
    assert stats["feedback_today"] == 0 and stats["pending_responses"] == 2
    for field in ("average_rating", "response_rate", "avg_response_time_hours", "csat"):
        assert stats[field] is None


def test_ratios_and_rounding() -> None:
    counts = _counts(feedback_30d=3, rating_sum_30d=10, positive_30d=2, responded_30d=2)
    stats = stats_from_counts({**counts, "response_seconds_30d": 3 * 3600})
    assert stats["average_rating"] == 3.33
    assert stats["csat"] == 0.6667
    assert stats["response_rate"] == 0.6667
    assert stats["avg_response_time_hours"] == 1.5


def test_totals_sum_counts_and_weight_averages_by_feedback() -> None:
    a = stats_from_counts(
        _counts(feedback_today=2, feedback_30d=3, rating_sum_30d=15, positive_30d=3,
                responded_30d=1, response_seconds_30d=3600)
    )  # fmt: skip
    b = stats_from_counts(_counts(feedback_today=1, feedback_30d=1, rating_sum_30d=1))
    result = totals([a, b, None])
    assert result["feedback_today"] == 3 and result["feedback_30d"] == 4
    assert result["average_rating"] == 4.0  # (5*3 + 1*1) / 4
    assert result["csat"] == 0.75 and result["response_rate"] == 0.25
    assert result["avg_response_time_hours"] == 1.0
    assert totals([])["average_rating"] is None
