"""30-day trends for the venue dashboard: feedback per local day and the day's average rating.

Read from stored per-venue hourly counts (the TrendStore, kept by stats_aggregator), not from
snapshots: those hold trailing windows and are thinned to one a day, so no per-day figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

DAYS = 30


@dataclass(frozen=True)
class DayTrend:
    """One local day: how much feedback arrived and its average rating (None without any)."""

    day: date
    feedback: int
    average_rating: float | None


def fold_days(
    hours: Iterable[tuple[datetime, int, int]], *, zone: tzinfo, first: date, days: int = DAYS
) -> list[DayTrend]:
    """Fold UTC-hour counts into `days` local days from `first` (hours outside are dropped)."""
    counts = {first + timedelta(days=n): [0, 0] for n in range(days)}
    for hour, n, rating_sum in hours:
        day = counts.get(hour.astimezone(zone).date())
        if day is not None:
            day[0] += n
            day[1] += rating_sum
    return [
        DayTrend(day, n, round(total / n, 2) if n else None) for day, (n, total) in counts.items()
    ]


def venue_trend(
    ctx: Container, *, venue_id: str, timezone: str, now: datetime, days: int = DAYS
) -> list[DayTrend]:
    """The venue's last `days` local days, today included."""
    zone = ZoneInfo(timezone)
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    since = datetime.combine(first, time(), zone).astimezone(UTC)
    hourly = ctx.trends.hourly_feedback(venue_id, since=since, until=now + timedelta(seconds=1))
    return fold_days(hourly, zone=zone, first=first, days=days)
