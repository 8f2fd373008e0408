"""Which report periods are due for a venue at `now`: local days and Monday-Sunday weeks.

A period is named by its local dates, so its UTC bounds are a pure function of (timezone, date):
every run, process and retry computes the same `period_start`, which is the unique key of a
report. A report is due at the report hour of the local day after the period; an hour skipped by
spring-forward maps to the jump, a repeated autumn hour to its first occurrence. A run also
returns the earlier periods (up to a lookback) so reports missed while down are produced later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from encore_backend.clock import as_utc
from encore_backend.domain.stats_windows import local_midnight, zone_of

Kind = Literal["daily", "weekly"]
KINDS: tuple[Kind, ...] = ("daily", "weekly")
# How far back a run still produces a missed report: a week of days, four weeks.
LOOKBACK = {"daily": 7, "weekly": 4}
LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True)
class Period:
    """One report period: local first and last date, and the UTC instants [start, end)."""

    kind: Kind
    first_day: date
    last_day: date
    start: datetime
    end: datetime

    @property
    def after(self) -> date:
        """The local day after the period: its report is due on this day."""
        return self.last_day + timedelta(days=1)


def period_of(kind: Kind, first_day: date, zone: ZoneInfo) -> Period:
    """The period of `kind` starting on local date `first_day`."""
    last_day = first_day + LENGTH[kind] - timedelta(days=1)
    end = local_midnight(last_day + timedelta(days=1), zone)
    return Period(kind, first_day, last_day, local_midnight(first_day, zone), end)


def previous(period: Period, zone: ZoneInfo) -> Period:
    """The period just before `period` (the report's comparison)."""
    return period_of(period.kind, period.first_day - LENGTH[period.kind], zone)


def due_at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of `hour`:00 local on `day` (a skipped hour maps to the jump)."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def latest_due(kind: Kind, zone: ZoneInfo, now: datetime, hour: int) -> Period:
    """The newest period whose report is due at `now`."""
    today = as_utc(now).astimezone(zone).date()
    if kind == "daily":
        first = today - timedelta(days=1)
    else:
        first = today - timedelta(days=today.weekday() + 7)  # last week's Monday
    period = period_of(kind, first, zone)
    if due_at(period.after, hour, zone) > as_utc(now):
        period = period_of(kind, first - LENGTH[kind], zone)
    return period


def due_periods(
    kind: Kind,
    timezone: str | None,
    now: datetime,
    *,
    hour: int,
    lookback: int | None = None,
    not_before: datetime | None = None,
) -> list[Period]:
    """Due periods, newest first: the latest always, then up to `lookback` - 1 earlier ones
    that end after `not_before` (a venue created today gets no backlog of empty reports)."""
    zone = zone_of(timezone)
    count = LOOKBACK[kind] if lookback is None else lookback
    periods = [latest_due(kind, zone, now, hour)]
    while len(periods) < count:
        earlier = previous(periods[-1], zone)
        if not_before is not None and earlier.end <= as_utc(not_before):
            break
        periods.append(earlier)
    return periods


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC [start, end) of a local calendar month given as 'YYYY-MM'."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return local_midnight(first, zone), local_midnight(following, zone)


def months_between(first: date, last: date) -> list[str]:
    """Every month from the one holding `first` to the one holding `last`, oldest first."""
    months, year, number = [], first.year, first.month
    while (year, number) <= (last.year, last.month):
        months.append(f"{year:04d}-{number:02d}")
        year, number = year + number // 12, number % 12 + 1
    return months
