"""A registry job's schedule as Celery beat reads it: the same fire times as the embedded
scheduler (interval grids anchored at EPOCH, the Cron hours), coalesced after downtime.

Celery's own `schedule` counts from the last run, so its ticks drift off the grid; this one
asks the registry for the latest fire time, so every beat (and a standby taking over) names
the same `(job_id, fire_time)` the database claims.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from celery.schedules import schedstate, schedule

from encore_backend.clock import as_utc
from encore_backend.config import Settings
from encore_backend.scheduler.registry import JobSpec

NEVER_YEAR = 1  # RedBeat hands a never-run entry datetime(MINYEAR, 1, 2)


class RegistrySchedule(schedule):  # type: ignore[misc]
    """Due when the registry's latest fire time is after the last tick beat sent."""

    def __init__(self, spec: JobSpec, settings: Settings, nowfun: Callable[[], datetime]) -> None:
        super().__init__(run_every=spec.schedule.period(settings), nowfun=nowfun)
        self.spec, self.settings = spec, settings

    def fire_time(self, now: datetime) -> datetime | None:
        """The tick a send at `now` stands for (the latest fire time at or before it)."""
        return self.spec.schedule.latest(self.settings, as_utc(now))

    def started(self, now: datetime) -> datetime:
        """The last_run_at of an entry new to Redis, as if the tick before its first had been
        sent: an interval job sends its current tick at once, a Cron job waits for its next
        one, as on the embedded scheduler's first start (a first tick older than its catch-up
        window is left out)."""
        now = as_utc(now)
        first = self._first_tick(now)
        return now if first is None else first - timedelta(microseconds=1)

    def _first_tick(self, now: datetime) -> datetime | None:
        """The schedule's first tick at or before `now`, unless older than its catch-up."""
        first = self.spec.schedule.first(self.settings, now)
        if first is None or first > now or now - first > self.spec.catch_up(self.settings):
            return None
        return first

    def next_fire(self, now: datetime) -> datetime | None:
        trigger = self.spec.schedule.trigger(self.settings)
        return trigger.get_next_fire_time(None, as_utc(now))  # type: ignore[no-any-return]

    def is_due(self, last_run_at: datetime | None) -> schedstate:
        now = as_utc(self.now())
        latest = self._latest_due(now, last_run_at)
        upcoming = self.next_fire(now)
        wait = (upcoming - now).total_seconds() if upcoming else 3600.0
        return schedstate(is_due=latest is not None, next=max(wait, 0.0))

    def _latest_due(self, now: datetime, last_run_at: datetime | None) -> datetime | None:
        """The fire time to send now, if any: one per grid slot; a job never sent starts with
        its schedule's first tick, unless that is older than its catch-up window."""
        if last_run_at is None or last_run_at.year <= NEVER_YEAR:  # RedBeat's "never run"
            return self._first_tick(now)
        latest = self.fire_time(now)
        if latest is None or latest <= as_utc(last_run_at):
            return None
        return latest

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        now = as_utc(self.now())
        if self._latest_due(now, last_run_at) is not None:
            return timedelta(0)
        upcoming = self.next_fire(now)
        return (upcoming - now) if upcoming else timedelta(hours=1)

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.spec, self.settings, self.nowfun))

    def __repr__(self) -> str:
        return f"<RegistrySchedule {self.spec.id}: {self.spec.schedule.describe(self.settings)}>"
