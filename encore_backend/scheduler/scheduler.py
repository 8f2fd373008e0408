"""The APScheduler binding: triggers from the registry, the job store in our database.

Each process runs its own BackgroundScheduler on the shared job store; the run recorder's claim
makes each tick run once. The stored callable is the module-level `fire`, which finds this
process's container through the handle `start()` sets, so the stored job is picklable and the
same in every process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from encore_backend.clock import iso_z
from encore_backend.config import Settings
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.scheduler.registry import JobSpec, Schedule, get_spec, registry_for
from encore_backend.scheduler.runner import reap_dead_local_runs, record_tick, run_job, run_record
from encore_backend.services.pacing import stop_paced_runs, stopping_event

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.scheduler")
JOBSTORE_TABLE = "encore_scheduler_jobs"
FIRE_REF = "encore_backend.scheduler.scheduler:fire"

_active: Container | None = None  # this process's container, set by EngineScheduler.start()


def fire(job_id: str, fire_time: datetime | None = None) -> None:
    """The callable stored in APScheduler: run one schedule tick of `job_id` here."""
    ctx = _active
    if ctx is None:
        log.error("tick of %s fired with no started EngineScheduler in this process", job_id)
        return
    run_job(ctx, job_id, trigger=RunTrigger.SCHEDULE, fire_time=fire_time)


class _AtFireTime:
    """A view of an APScheduler job whose kwargs carry the tick's scheduled time."""

    def __init__(self, job: Job, fire_time: datetime) -> None:
        self._job = job
        self.kwargs = {**job.kwargs, "fire_time": fire_time}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class TickExecutor(ThreadPoolExecutor):
    """A thread pool that hands `fire` the scheduled time, not the (later) moment it runs."""

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        super()._do_submit_job(_AtFireTime(job, run_times[-1]), run_times)


class _Scheduler(BackgroundScheduler):
    """Processes jobs only while running.

    APScheduler 3.11 runs one more `_process_jobs` pass after `shutdown()` has marked it stopped
    and shut its executors: a due tick would then fail to submit yet still have its next run time
    advanced in the shared store, losing a catch-up run.
    """

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        return super()._process_jobs()  # type: ignore[no-any-return]


class _JobStore(SQLAlchemyJobStore):
    """The SQLAlchemy job store on the container's engine, which it must not dispose."""

    def shutdown(self) -> None:
        pass


def new_apscheduler(ctx: Container) -> BackgroundScheduler:
    """A BackgroundScheduler on our job store table; coalescing, one instance per job."""
    return _Scheduler(
        jobstores={"default": _JobStore(engine=ctx.engine, tablename=JOBSTORE_TABLE)},
        executors={"default": TickExecutor(max_workers=10)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )


def kept_next_run_time(
    stored: datetime | None, schedule: Schedule, settings: Settings, now: datetime
) -> datetime | None:
    """At re-registration: keep pause; keep an overdue tick (one catch-up); else the new grid."""
    if stored is None:
        return None
    if stored > now:
        return schedule.trigger(settings).get_next_fire_time(None, now)  # type: ignore[no-any-return]
    return schedule.latest(settings, now) or stored


def sync_jobs(scheduler: BackgroundScheduler, ctx: Container, *, now: datetime) -> None:
    """Make the store match the registry: add new jobs, update changed ones, drop removed ones."""
    specs = registry_for(ctx)
    for job in scheduler.get_jobs():
        if job.id not in specs:
            scheduler.remove_job(job.id)
    for spec in specs.values():
        _register(scheduler, spec, ctx.settings, now)


def _register(
    scheduler: BackgroundScheduler, spec: JobSpec, settings: Settings, now: datetime
) -> None:
    options: dict[str, Any] = {
        "trigger": spec.schedule.trigger(settings),
        "args": (spec.id,),
        "name": spec.id,
        "misfire_grace_time": spec.misfire_grace_seconds(settings),
        "coalesce": True,
        "max_instances": 1,
    }
    existing = scheduler.get_job(spec.id)
    if existing is None:
        # A job new to the store runs its current tick at once: fresh stats on a first start.
        first = spec.schedule.latest(settings, now)
        scheduler.add_job(FIRE_REF, id=spec.id, next_run_time=first, **options)
        return
    next_run = kept_next_run_time(existing.next_run_time, spec.schedule, settings, now)
    scheduler.modify_job(spec.id, func=FIRE_REF, next_run_time=next_run, **options)


class EngineScheduler:
    """Starts, stops and controls this process's scheduler; controls also work while stopped."""

    def __init__(self, ctx: Container) -> None:
        self.ctx = ctx
        self.started_at: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def start(self) -> None:
        global _active
        _active = self.ctx
        now = self.ctx.clock.now()
        reap_dead_local_runs(self.ctx, now=now)
        stopping_event(self.ctx).clear()  # a scheduler started again after a shutdown
        scheduler = new_apscheduler(self.ctx)
        scheduler.start(paused=True)
        sync_jobs(scheduler, self.ctx, now=now)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_max_instances, EVENT_JOB_MAX_INSTANCES)
        scheduler.resume()
        self._scheduler, self.started_at = scheduler, now
        log.info("scheduler started at %s with jobs %s", iso_z(now), ", ".join(self._ids()))

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking ticks; with `wait`, let running jobs finish first (paced runs stop
        waiting for permits at once, so that is seconds, not a run's whole budget)."""
        global _active
        stop_paced_runs(self.ctx)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._scheduler = None
        if _active is self.ctx:
            _active = None
        log.info("scheduler stopped")

    def pause(self, job_id: str) -> dict[str, Any]:
        """Pause a job in the job store (persists across restarts and processes)."""
        get_spec(self.ctx, job_id)
        with self._control(sync=True) as scheduler:
            scheduler.pause_job(job_id)
        return self.job(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        get_spec(self.ctx, job_id)
        with self._control(sync=True) as scheduler:
            scheduler.resume_job(job_id)
        return self.job(job_id)

    def job(self, job_id: str) -> dict[str, Any]:
        return next(job for job in self.jobs() if job["id"] == job_id)

    def jobs(self) -> list[dict[str, Any]]:
        """Every registry job: trigger, next run time, pause state and its newest run."""
        with self._control(sync=False) as scheduler:
            stored = {job.id: job for job in scheduler.get_jobs()}
        return [
            self._describe(spec, stored.get(spec.id)) for spec in registry_for(self.ctx).values()
        ]

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when running and no unpaused job is overdue by more than two intervals."""
        body: dict[str, Any] = {"running": self.running, "started_at": iso_z(self.started_at)}
        if not self.running:
            return False, {"status": "unavailable", "reason": "scheduler is not running", **body}
        now = self.ctx.clock.now()
        overdue = [job["id"] for job in self.jobs() if _overdue(self.ctx, job, now)]
        if overdue:
            reason = f"overdue by more than two intervals: {', '.join(overdue)}"
            return False, {"status": "unavailable", "reason": reason, **body}
        return True, {"status": "ok", **body}

    def _describe(self, spec: JobSpec, job: Job | None) -> dict[str, Any]:
        last = self.ctx.job_runs.latest(job_id=spec.id)
        return {
            "id": spec.id,
            "trigger": spec.schedule.describe(self.ctx.settings),
            "next_run_time": iso_z(job.next_run_time) if job else None,
            "paused": job is not None and job.next_run_time is None,
            "scheduled": job is not None,
            "last_run": run_record(last) if last else None,
        }

    @contextmanager
    def _control(self, *, sync: bool) -> Iterator[BackgroundScheduler]:
        """This process's scheduler, or a paused one on the same store just for this call."""
        if self._scheduler is not None and self.running:
            yield self._scheduler
            return
        offline = new_apscheduler(self.ctx)
        offline.start(paused=True)
        try:
            if sync:
                sync_jobs(offline, self.ctx, now=self.ctx.clock.now())
            yield offline
        finally:
            offline.shutdown(wait=False)

    def _ids(self) -> list[str]:
        return list(registry_for(self.ctx))

    def _on_missed(self, event: JobEvent) -> None:
        if event.job_id in registry_for(self.ctx):
            error = "missed: later than the catch-up window"
            fire_time = event.scheduled_run_time  # type: ignore[attr-defined]
            record_tick(
                self.ctx, event.job_id, fire_time=fire_time, status=RunStatus.MISSED, error=error
            )

    def _on_max_instances(self, event: JobEvent) -> None:
        if event.job_id in registry_for(self.ctx):
            fire_time = event.scheduled_run_times[-1]  # type: ignore[attr-defined]
            error = "still running in this process"
            record_tick(
                self.ctx, event.job_id, fire_time=fire_time, status=RunStatus.SKIPPED, error=error
            )


def _overdue(ctx: Container, job: dict[str, Any], now: datetime) -> bool:
    if job["paused"] or job["next_run_time"] is None:
        return not job["scheduled"]
    period = get_spec(ctx, job["id"]).schedule.period(ctx.settings)
    next_run = datetime.fromisoformat(job["next_run_time"].replace("Z", "+00:00"))
    return now - next_run > 2 * period
