"""The one list of jobs: id, the function it runs, its trigger, catch-up window and lease.

Adding a job is one entry in REGISTRY. Every engine (APScheduler today, Celery later) reads this
list; nothing registers jobs at import time.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from encore_backend.clock import as_utc
from encore_backend.config import Settings
from encore_backend.scheduler.cron import Cron
from encore_backend.scheduler.result import JobResult

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

# Interval grids are anchored here so every process computes the same fire times.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
MIN_CATCH_UP = timedelta(seconds=30)
# A run's lease: well above the SQLite busy timeout, so a heartbeat that waits out a busy
# database never lets a live run's lease expire (the heartbeat renews every third of it).
DEFAULT_LEASE = timedelta(minutes=2)
REGISTRY_OVERRIDE_KEY = "job_registry"  # ctx.extras key a test uses to run its own jobs

JobFunc = Callable[..., JobResult]


class UnknownJob(KeyError):
    """A job id that is not in the registry."""


class DryRunUnsupported(ValueError):
    """A dry run was asked of a job that cannot preview its work (API: 400, CLI: exit 2)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"{job_id} does not support dry runs: run it for real or not at all")
        self.job_id = job_id


class Schedule(Protocol):
    def trigger(self, settings: Settings) -> BaseTrigger:
        """The APScheduler trigger for these settings."""
        ...

    def period(self, settings: Settings) -> timedelta:
        """The nominal time between ticks (health checks use it)."""
        ...

    def latest(self, settings: Settings, now: datetime) -> datetime | None:
        """The latest fire time at or before `now`."""
        ...

    def describe(self, settings: Settings) -> str:
        """A short human description, e.g. "every 5 min"."""
        ...

    def first(self, settings: Settings, now: datetime) -> datetime | None:
        """The first fire time of a job new to the job store (nothing before it to catch up)."""
        ...


@dataclass(frozen=True)
class Every:
    """Every N minutes on a grid anchored at EPOCH; N from a setting or fixed."""

    setting: str | None = None
    minutes: float | None = None

    def interval(self, settings: Settings) -> timedelta:
        value = getattr(settings, self.setting) if self.setting else self.minutes
        return timedelta(minutes=float(value))  # type: ignore[arg-type]

    def trigger(self, settings: Settings) -> IntervalTrigger:
        seconds = self.interval(settings).total_seconds()
        return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC)

    def period(self, settings: Settings) -> timedelta:
        return self.interval(settings)

    def latest(self, settings: Settings, now: datetime) -> datetime | None:
        return grid_floor(as_utc(now), self.interval(settings))

    def first(self, settings: Settings, now: datetime) -> datetime | None:
        """The current tick, at once: a first start gets fresh stats and alerts."""
        return self.latest(settings, now)

    def describe(self, settings: Settings) -> str:
        seconds = self.interval(settings).total_seconds()
        if seconds < 60:
            return f"every {seconds:g} s"
        return f"every {seconds / 60:g} min"


def grid_floor(now: datetime, step: timedelta) -> datetime:
    """The latest EPOCH-anchored grid time ≤ now (exact in whole microseconds)."""
    step_us = step // timedelta(microseconds=1)
    elapsed_us = (now - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=(elapsed_us // step_us) * step_us)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job. `func` is "module:function" (or a callable, for tests)."""

    id: str
    func: str | JobFunc
    schedule: Schedule
    catch_up_window: timedelta | None = None  # None: one period, at least MIN_CATCH_UP
    lease: timedelta = DEFAULT_LEASE
    description: str = ""
    # True when the job honours params["dry_run"]: it reports what it would do, changes nothing.
    dry_run: bool = False

    def load(self) -> JobFunc:
        """The job function, imported on first use (jobs may import heavy modules)."""
        if callable(self.func):
            return self.func
        module, _, name = self.func.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    def catch_up(self, settings: Settings) -> timedelta:
        """How late a tick may still run; later than this it is recorded `missed`."""
        if self.catch_up_window is not None:
            return self.catch_up_window
        return max(self.schedule.period(settings), MIN_CATCH_UP)

    def misfire_grace_seconds(self, settings: Settings) -> int:
        return max(1, math.ceil(self.catch_up(settings).total_seconds()))


REGISTRY: tuple[JobSpec, ...] = (
    JobSpec(
        id="stats_aggregator",
        func="encore_backend.scheduler.jobs.stats_aggregator:run",
        schedule=Every("scheduler_stats_interval_minutes"),
        description="computes dashboard stats for every venue and stores a snapshot",
    ),
    JobSpec(
        id="alert_detector",
        func="encore_backend.scheduler.jobs.alert_detector:run",
        schedule=Every("scheduler_alert_interval_minutes"),
        description="scans feedback not yet scanned, creates alerts, notifies",
    ),
    JobSpec(
        id="ai_generator",
        func="encore_backend.scheduler.jobs.ai_generator:run",
        schedule=Every("scheduler_ai_interval_minutes"),
        description="drafts replies for feedback without one, per venue settings",
        dry_run=True,
    ),
    JobSpec(
        id="email_sender",
        func="encore_backend.scheduler.jobs.email_sender:run",
        schedule=Every("scheduler_email_interval_minutes"),
        description="sends queue items whose scheduled_send_time has passed",
        dry_run=True,
    ),
    JobSpec(
        id="daily_report",
        func="encore_backend.scheduler.jobs.daily_report:run",
        schedule=Cron(minute=5),
        catch_up_window=timedelta(hours=6),
        description="hourly: each venue's report on its previous local day, at the report hour",
    ),
    JobSpec(
        id="weekly_report",
        func="encore_backend.scheduler.jobs.weekly_report:run",
        schedule=Cron(minute=5),
        catch_up_window=timedelta(hours=6),
        description="hourly: each venue's Monday-Sunday report, on Mondays at the report hour",
    ),
    JobSpec(
        id="weekly_cleanup",
        func="encore_backend.scheduler.jobs.weekly_cleanup:run",
        schedule=Cron(
            hour_setting="scheduler_cleanup_hour", weekday_setting="scheduler_cleanup_weekday"
        ),
        catch_up_window=timedelta(days=1),
        description="archive, purge, trim, thin, monthly rollups, orphan check",
        dry_run=True,
    ),
    JobSpec(
        id="response_sla",
        func="encore_backend.scheduler.jobs.response_sla:run",
        schedule=Every(minutes=15),
        description="escalates bad feedback still unanswered after the response deadline",
        dry_run=True,
    ),
)


def as_registry(specs: tuple[JobSpec, ...] | list[JobSpec]) -> dict[str, JobSpec]:
    return {spec.id: spec for spec in specs}


def registry_for(ctx: Container) -> dict[str, JobSpec]:
    """The jobs of this container: REGISTRY, unless a test put its own list in ctx.extras."""
    override = ctx.extras.get(REGISTRY_OVERRIDE_KEY)
    return as_registry(override if override is not None else REGISTRY)


def get_spec(ctx: Container, job_id: str) -> JobSpec:
    try:
        return registry_for(ctx)[job_id]
    except KeyError:
        raise UnknownJob(job_id) from None
