"""The APScheduler binding: triggers from the registry, the job store bootstrap chose.

Only the scheduler leader (leader.py) runs a BackgroundScheduler on the shared job store; the
other processes serve HTTP and stand by, and the run recorder's claim still makes each tick run
once. The stored callable is the module-level `fire`, which finds this process's scheduler
through the handle `start()` sets, so the stored job is picklable and the same in every process.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from encore_backend.clock import iso_z
from encore_backend.config import Settings
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.scheduler.job_controls import JobControls
from encore_backend.scheduler.leader import LEASE_NAME, LeaderElector
from encore_backend.scheduler.provider_status import provider_errors, stopped_reason
from encore_backend.scheduler.registry import JobSpec, Schedule, get_spec, registry_for
from encore_backend.scheduler.runner import (
    reap_dead_local_runs,
    record_tick,
    run_job,
    run_record,
)
from encore_backend.services.pacing import stop_paced_runs, stopping_event

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.scheduler")
FIRE_REF = "encore_backend.scheduler.scheduler:fire"

_started: list[EngineScheduler] = []  # this process's started schedulers (one, but for tests)


def fire(job_id: str, fire_time: datetime | None = None) -> None:
    """The callable stored in APScheduler: run one schedule tick of `job_id` here.

    A tick that reaches us after a pause was pressed (before the leader applied it) or after
    this process lost the lead does not run.
    """
    engine = next((started for started in _started if started.leading), None)
    if engine is None:
        log.warning("tick of %s not run: this process does not lead", job_id)
        return
    if engine.ctx.job_controls.is_paused(job_id):
        log.info("tick of %s not run: paused", job_id)
        return
    run_job(engine.ctx, job_id, trigger=RunTrigger.SCHEDULE, fire_time=fire_time)


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


def new_apscheduler(ctx: Container) -> BackgroundScheduler:
    """A BackgroundScheduler on the container's job store; coalescing, one instance per job."""
    return _Scheduler(
        jobstores={"default": ctx.job_store()},
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
        # A job new to the store has nothing to catch up: its first tick is the schedule's own
        # (interval jobs run their current tick at once: fresh stats on a first start).
        first = spec.schedule.first(settings, now)
        if first is not None and now - first > spec.catch_up(settings):
            first = spec.schedule.trigger(settings).get_next_fire_time(None, now)
        scheduler.add_job(FIRE_REF, id=spec.id, next_run_time=first, **options)
        return
    next_run = kept_next_run_time(existing.next_run_time, spec.schedule, settings, now)
    scheduler.modify_job(spec.id, func=FIRE_REF, next_run_time=next_run, **options)


class EngineScheduler(JobControls):
    """This process's part in scheduling: an elector always, APScheduler while it leads.

    Pause and resume are written to `job_controls` by whichever process takes the request and
    applied by the leader (at once if that is us, else within one election round), so a press
    is never overwritten by the leader's own job-store writes.
    """

    def __init__(self, ctx: Container) -> None:
        self.ctx = ctx
        self.started_at: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._elector: LeaderElector | None = None
        self._applied: set[str] | None = None  # the pauses the job store reflects
        self._lock = threading.RLock()

    @property
    def running(self) -> bool:
        """Taking part in scheduling (leading or standing by)."""
        return self._elector is not None

    @property
    def leading(self) -> bool:
        scheduler = self._scheduler
        return scheduler is not None and scheduler.running

    def start(self) -> None:
        _started.append(self)
        now = self.ctx.clock.now()
        stopping_event(self.ctx).clear()  # a scheduler started again after a shutdown
        self.started_at = now
        self._elector = LeaderElector(
            self.ctx, on_elected=self._lead, on_deposed=self._stand_by, on_renewed=self._apply
        )
        self._elector.start()
        role = "leader" if self.leading else "standby"
        log.info("scheduler started at %s as %s with jobs %s", iso_z(now), role, self._ids())

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking ticks; with `wait`, let running jobs finish first (paced runs stop
        waiting for permits at once, so that is seconds, not a run's whole budget)."""
        stop_paced_runs(self.ctx)
        elector, self._elector = self._elector, None
        if elector is not None:
            elector.stop()
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=wait)
        if elector is not None:
            elector.release()
        if self in _started:
            _started.remove(self)
        log.info("scheduler stopped")

    def _lead(self, now: datetime) -> None:
        """Elected: reap our host's dead runs, sync the store, start firing ticks."""
        reap_dead_local_runs(self.ctx, now=now)
        scheduler = new_apscheduler(self.ctx)
        scheduler.start(paused=True)
        try:
            sync_jobs(scheduler, self.ctx, now=now)
            paused = self.ctx.job_controls.paused_ids()
            apply_pauses(scheduler, paused)
        except Exception:
            scheduler.shutdown(wait=False)
            raise
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_max_instances, EVENT_JOB_MAX_INSTANCES)
        with self._lock:
            self._scheduler, self._applied = scheduler, paused
        scheduler.resume()

    def _stand_by(self) -> None:
        """Deposed: stop firing at once (running jobs finish; their claims keep them single)."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def _apply(self) -> None:
        """On the leader, after each renewal: bring the job store in line with the controls
        (only when they changed: the leader is the store's one writer)."""
        with self._lock:
            if self._scheduler is None:
                return
            paused = self.ctx.job_controls.paused_ids()
            if paused != self._applied:
                apply_pauses(self._scheduler, paused)
                self._applied = paused

    def run_now(self, job_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        """A manual run in this process; its run record (JobBusy, DryRunUnsupported)."""
        params = {"dry_run": True} if dry_run else None
        record = run_job(self.ctx, job_id, trigger=RunTrigger.MANUAL, params=params)
        assert record is not None  # a manual run's tick key is unique: it cannot lose a claim
        return run_record(record)

    def jobs(self) -> list[dict[str, Any]]:
        """Every registry job: trigger, next run time, pause state and its newest run."""
        stored = self.ctx.scheduled_jobs.next_run_times()
        paused = self.ctx.job_controls.paused_ids()
        return [
            self._describe(spec, spec.id in stored, stored.get(spec.id), spec.id in paused)
            for spec in registry_for(self.ctx).values()
        ]

    def leader(self) -> dict[str, Any] | None:
        """The process holding the scheduler lease now, or None when the lease has lapsed."""
        lease = self.ctx.leases.current(name=LEASE_NAME)
        if lease is None:
            return None
        mine = (
            self.leading and self._elector is not None and lease["holder"] == self._elector.holder
        )
        if not mine and lease["expires_at"] <= self.ctx.clock.now():
            return None
        return {"holder": lease["holder"], "since": iso_z(lease["acquired_at"])}

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when a leader fires ticks and no unpaused job is overdue by two intervals."""
        body: dict[str, Any] = {
            "running": self.running,
            "started_at": iso_z(self.started_at),
            "role": "leader" if self.leading else "standby",
        }
        if not self.running:
            return False, {"status": "unavailable", "reason": "scheduler is not running", **body}
        body["leader"] = leader = self.leader()
        jobs = self.jobs()
        body["provider_errors"] = provider_errors(self.ctx, jobs)
        now = self.ctx.clock.now()
        overdue = [job["id"] for job in jobs if _overdue(self.ctx, job, now)]
        if overdue:
            reason = f"overdue by more than two intervals: {', '.join(overdue)}"
            return False, {"status": "unavailable", "reason": reason, **body}
        if leader is None:
            return False, {"status": "unavailable", "reason": "no scheduler leader", **body}
        if body["provider_errors"]:
            reason = "; ".join(stopped_reason(problem) for problem in body["provider_errors"])
            return False, {"status": "unavailable", "reason": reason, **body}
        return True, {"status": "ok", **body}

    def _describe(
        self, spec: JobSpec, scheduled: bool, next_run: datetime | None, paused: bool
    ) -> dict[str, Any]:
        last = self.ctx.job_runs.latest(job_id=spec.id)
        return {
            "id": spec.id,
            "trigger": spec.schedule.describe(self.ctx.settings),
            "next_run_time": iso_z(self._next_run(spec, next_run, paused)),
            "paused": paused,
            "scheduled": scheduled,
            "dry_run": spec.dry_run,
            "last_run": run_record(last) if last else None,
        }

    def _next_run(self, spec: JobSpec, stored: datetime | None, paused: bool) -> datetime | None:
        """The stored next tick; for a job resumed but not yet applied by the leader (or not
        yet stored), the next tick on its grid."""
        if paused:
            return None
        if stored is not None:
            return stored
        trigger = spec.schedule.trigger(self.ctx.settings)
        return trigger.get_next_fire_time(None, self.ctx.clock.now())  # type: ignore[no-any-return]

    def _ids(self) -> str:
        return ", ".join(registry_for(self.ctx))

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


def apply_pauses(scheduler: BackgroundScheduler, paused: set[str]) -> None:
    """Pause and resume stored jobs to match the operators' controls (the leader only)."""
    for job in scheduler.get_jobs():
        stored_paused = job.next_run_time is None
        if job.id in paused and not stored_paused:
            scheduler.pause_job(job.id)
        elif job.id not in paused and stored_paused:
            scheduler.resume_job(job.id)


def _overdue(ctx: Container, job: dict[str, Any], now: datetime) -> bool:
    if not job["scheduled"]:
        return True  # the leader stores every job; one missing never fires
    if job["paused"] or job["next_run_time"] is None:
        return False
    period = get_spec(ctx, job["id"]).schedule.period(ctx.settings)
    next_run = datetime.fromisoformat(job["next_run_time"].replace("Z", "+00:00"))
    return now - next_run > 2 * period
