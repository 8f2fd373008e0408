"""A wall-clock schedule in UTC: every hour at a minute, or weekly at a day and hour.

Implements the registry's Schedule protocol for the report and cleanup jobs. The hour and the
weekday may come from settings (SCHEDULER_CLEANUP_HOUR, SCHEDULER_CLEANUP_WEEKDAY).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from encore_backend.clock import as_utc
from encore_backend.config import WEEKDAYS, Settings


@dataclass(frozen=True)
class Cron:
    """At `minute` past every hour; with an hour setting, daily; with a weekday too, weekly."""

    minute: int = 0
    hour_setting: str | None = None
    weekday_setting: str | None = None

    def hour(self, settings: Settings) -> int | None:
        return int(getattr(settings, self.hour_setting)) if self.hour_setting else None

    def weekday(self, settings: Settings) -> int | None:
        if not self.weekday_setting:
            return None
        return WEEKDAYS.index(str(getattr(settings, self.weekday_setting))[:3].lower())

    def trigger(self, settings: Settings) -> CronTrigger:
        hour, weekday = self.hour(settings), self.weekday(settings)
        return CronTrigger(
            minute=self.minute,
            hour="*" if hour is None else hour,
            day_of_week="*" if weekday is None else WEEKDAYS[weekday],
            timezone=UTC,
        )

    def period(self, settings: Settings) -> timedelta:
        if self.hour(settings) is None:
            return timedelta(hours=1)
        return timedelta(days=1) if self.weekday(settings) is None else timedelta(weeks=1)

    def latest(self, settings: Settings, now: datetime) -> datetime | None:
        """The latest fire time at or before `now`."""
        now = as_utc(now)
        hour, weekday = self.hour(settings), self.weekday(settings)
        candidate = now.replace(minute=self.minute, second=0, microsecond=0)
        if hour is not None:
            candidate = candidate.replace(hour=hour)
        if weekday is not None:
            candidate -= timedelta(days=(candidate.weekday() - weekday) % 7)
        while candidate > now:
            candidate -= self.period(settings)
        return candidate

    def first(self, settings: Settings, now: datetime) -> datetime | None:
        """The next tick after `now`: a fresh install has no missed report or cleanup."""
        return self.trigger(settings).get_next_fire_time(None, as_utc(now))  # type: ignore[no-any-return]

    def describe(self, settings: Settings) -> str:
        hour, weekday = self.hour(settings), self.weekday(settings)
        if hour is None:
            return f"hourly at :{self.minute:02d}"
        at = f"{hour:02d}:{self.minute:02d} UTC"
        return f"daily at {at}" if weekday is None else f"{WEEKDAYS[weekday]} at {at}"
