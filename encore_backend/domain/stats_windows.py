"""The stats windows of SPEC §5: local today, week (Monday), month and the trailing 30 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from encore_backend.clock import as_utc

TRAILING_DAYS = 30


@dataclass(frozen=True)
class StatsWindows:
    """UTC instants bounding one venue's windows at `now` (each window is [start, now])."""

    now: datetime
    today_start: datetime
    week_start: datetime
    month_start: datetime
    trailing_start: datetime

    @property
    def calendar_start(self) -> datetime:
        """The earliest of today, this week and this month: one range scan covers all three."""
        return min(self.week_start, self.month_start)

    @property
    def scan_start(self) -> datetime:
        """The earliest instant any window needs."""
        return min(self.calendar_start, self.trailing_start)


def zone_of(timezone: str | None) -> ZoneInfo:
    """The venue's zone; an unknown or empty name falls back to UTC rather than failing a run."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC (a midnight skipped by DST maps to the jump)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def windows_for(timezone: str | None, now: datetime) -> StatsWindows:
    """The windows of a venue in `timezone` at `now` (aware or naive UTC)."""
    now = as_utc(now)
    zone = zone_of(timezone)
    today = now.astimezone(zone).date()
    return StatsWindows(
        now=now,
        today_start=local_midnight(today, zone),
        week_start=local_midnight(today - timedelta(days=today.weekday()), zone),
        month_start=local_midnight(today.replace(day=1), zone),
        trailing_start=now - timedelta(days=TRAILING_DAYS),
    )
