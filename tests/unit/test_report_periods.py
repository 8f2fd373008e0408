"""Report periods with literal instants: local days and weeks, report hour, DST gaps and repeats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from encore_backend.domain.report_periods import (
    due_at,
    due_periods,
    latest_due,
    month_bounds,
    months_between,
    period_of,
    previous,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NY, LONDON, SYDNEY, KOLKATA = (
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Australia/Sydney"),
    ZoneInfo("Asia/Kolkata"),
)


@pytest.mark.parametrize(
    ("zone", "before", "at", "day"),
    [
        # New York on EDT since 8 March: 06:00 local on 10 March is 10:00Z.
        (NY, utc(2026, 3, 10, 9, 59), utc(2026, 3, 10, 10), date(2026, 3, 9)),
        # London on GMT until 29 March: 06:00 is 06:00Z; on BST from then, 05:00Z.
        (LONDON, utc(2026, 3, 28, 5, 59), utc(2026, 3, 28, 6), date(2026, 3, 27)),
        (LONDON, utc(2026, 3, 30, 4, 59), utc(2026, 3, 30, 5), date(2026, 3, 29)),
        # Kolkata +05:30: 06:00 is 00:30Z the same day.
        (KOLKATA, utc(2026, 3, 10, 0, 29), utc(2026, 3, 10, 0, 30), date(2026, 3, 9)),
        # Sydney on AEDT (+11) until 03:00 on 5 April: 06:00 on 4 April is 19:00Z on the 3rd.
        (SYDNEY, utc(2026, 4, 3, 18, 59), utc(2026, 4, 3, 19), date(2026, 4, 3)),
        # ... and on AEST (+10) from then: 06:00 on 5 April is 20:00Z on the 4th.
        (SYDNEY, utc(2026, 4, 4, 19, 59), utc(2026, 4, 4, 20), date(2026, 4, 4)),
        (SYDNEY, utc(2026, 4, 5, 19, 59), utc(2026, 4, 5, 20), date(2026, 4, 5)),
    ],
)
def test_the_daily_report_of_a_day_is_due_at_six_local_the_next_morning(
    zone: ZoneInfo, before: datetime, at: datetime, day: date
) -> None:
    assert latest_due("daily", zone, before, 6).first_day == day - timedelta(days=1)
    assert latest_due("daily", zone, at, 6).first_day == day


def test_a_local_day_is_bounded_by_local_midnights_even_when_25_hours_long() -> None:
    # Sydney falls back on Sunday 5 April 2026: the day lasts 25 hours.
    period = period_of("daily", date(2026, 4, 5), SYDNEY)
    assert (period.start, period.end) == (utc(2026, 4, 4, 13), utc(2026, 4, 5, 14))
    assert previous(period, SYDNEY).end == period.start


def test_the_weekly_report_covers_monday_to_sunday_and_is_due_monday_at_the_hour() -> None:
    # New York, week of Monday 2 March 2026 (EST) to Sunday 8 March (spring forward): 167 hours.
    before, at = utc(2026, 3, 9, 9, 59), utc(2026, 3, 9, 10)
    assert latest_due("weekly", NY, before, 6).first_day == date(2026, 2, 23)
    week = latest_due("weekly", NY, at, 6)
    assert (week.first_day, week.last_day) == (date(2026, 3, 2), date(2026, 3, 8))
    assert (week.start, week.end) == (utc(2026, 3, 2, 5), utc(2026, 3, 9, 4))
    # Later in the week the same period stays the latest.
    assert latest_due("weekly", NY, utc(2026, 3, 15, 23), 6) == week


def test_a_report_hour_in_the_spring_gap_falls_due_at_the_jump() -> None:
    # 02:00 does not exist in New York on 8 March 2026; 03:00 EDT (07:00Z) follows 01:59 EST.
    assert due_at(date(2026, 3, 8), 2, NY) == utc(2026, 3, 8, 7)
    assert latest_due("daily", NY, utc(2026, 3, 8, 6, 59), 2).first_day == date(2026, 3, 6)
    assert latest_due("daily", NY, utc(2026, 3, 8, 7), 2).first_day == date(2026, 3, 7)


def test_a_repeated_autumn_hour_is_due_once_at_its_first_occurrence() -> None:
    # 01:00 happens twice in New York on 1 November 2026: 05:00Z (EDT) and 06:00Z (EST).
    assert due_at(date(2026, 11, 1), 1, NY) == utc(2026, 11, 1, 5)
    seen = [latest_due("daily", NY, utc(2026, 11, 1, 4) + timedelta(minutes=m), 1) for m in (
        0, 59, 60, 90, 120, 150
    )]  # fmt: skip
    assert [p.first_day.day for p in seen] == [30, 30, 31, 31, 31, 31]


@pytest.mark.parametrize("zone", [NY, LONDON, SYDNEY, KOLKATA])
@pytest.mark.parametrize("hour", [0, 1, 2, 3, 6, 23])
def test_stepping_through_dst_each_day_becomes_due_once_at_its_hour(
    zone: ZoneInfo, hour: int
) -> None:
    """Every 15 minutes from 1 March to 10 April 2026 and 20 Oct to 10 Nov: the latest due day
    never goes back, moves one day at a time, and moves in the quarter hour after the local
    report hour (the hour after, when DST skips it)."""
    for start, days in ((utc(2026, 3, 1), 40), (utc(2026, 10, 20), 21)):
        instants = [start + timedelta(minutes=15 * i) for i in range(days * 96)]
        seen = [latest_due("daily", zone, t, hour).first_day for t in instants]
        for i in range(1, len(seen)):
            assert (seen[i] - seen[i - 1]).days in (0, 1)
            if seen[i] != seen[i - 1]:
                local = instants[i].astimezone(zone)
                assert local.minute < 15 and local.hour in (hour, hour + 1), local
                assert local.date() == seen[i] + timedelta(days=1)
        assert abs(len(set(seen)) - days) <= 1


def test_due_periods_reach_back_for_missed_reports_newest_first() -> None:
    now = utc(2026, 3, 20, 12)
    days = due_periods("daily", "UTC", now, hour=6)
    assert [p.first_day.day for p in days] == [19, 18, 17, 16, 15, 14, 13]
    weeks = due_periods("weekly", "UTC", now, hour=6)
    assert [p.first_day for p in weeks] == [
        date(2026, 3, 9), date(2026, 3, 2), date(2026, 2, 23), date(2026, 2, 16)
    ]  # fmt: skip
    assert len(due_periods("daily", "UTC", now, hour=6, lookback=3)) == 3


def test_a_new_venue_gets_its_latest_report_but_no_backlog_before_it_existed() -> None:
    now = utc(2026, 3, 20, 12)
    fresh = due_periods("daily", "UTC", now, hour=6, not_before=utc(2026, 3, 20, 9))
    assert [p.first_day.day for p in fresh] == [19]
    older = due_periods("daily", "UTC", now, hour=6, not_before=utc(2026, 3, 17, 9))
    assert [p.first_day.day for p in older] == [19, 18, 17]


def test_an_unknown_timezone_falls_back_to_utc() -> None:
    assert due_periods("daily", "Mars/Olympus", utc(2026, 3, 20, 7), hour=6)[0].start == utc(
        2026, 3, 19
    )


def test_months_are_local_calendar_months() -> None:
    assert months_between(date(2025, 11, 30), date(2026, 2, 1)) == [
        "2025-11", "2025-12", "2026-01", "2026-02"
    ]  # fmt: skip
    assert month_bounds("2026-12", KOLKATA) == (
        utc(2026, 11, 30, 18, 30),
        utc(2026, 12, 31, 18, 30),
    )
    assert month_bounds("2026-03", NY) == (utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))
