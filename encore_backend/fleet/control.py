"""The API's view of the fleet (ENCORE_EXECUTOR=celery): the same jobs, pause, resume, run-now
and health calls as the embedded EngineScheduler, answered from the database and Redis.

Pause and resume are rows in the database, read by every tick task, so they hold whichever
beat fires and across its failover. Run-now enqueues and waits for the run record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery.exceptions import TimeoutError as CeleryTimeout
from redbeat.schedulers import ensure_conf

from encore_backend.clock import iso_z
from encore_backend.fleet.app import TICKS, configure
from encore_backend.fleet.beat import RegistryEntry
from encore_backend.fleet.status import REDIS_ERRORS, FleetStatus
from encore_backend.scheduler.control import RunQueued
from encore_backend.scheduler.job_controls import JobControls
from encore_backend.scheduler.provider_status import provider_errors, stopped_reason
from encore_backend.scheduler.registry import DryRunUnsupported, JobSpec, get_spec, registry_for
from encore_backend.scheduler.runner import JobBusy, run_record

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

RUN_NOW_TIMEOUT = timedelta(seconds=60)  # then the API answers 202 with the task id


class FleetScheduler(JobControls):
    """Jobs, controls and health of the Celery profile, for one API process."""

    leading = False  # an API process never fires ticks in this profile

    def __init__(self, ctx: Container) -> None:
        self.ctx = ctx
        self.app = configure(ctx.settings)
        self.status = FleetStatus(self.app)
        self.started_at: datetime | None = None
        # How long run_now waits for a worker's answer (an attribute: tests wait less).
        self.run_now_timeout = RUN_NOW_TIMEOUT

    @property
    def running(self) -> bool:
        """A beat holds the lock (ticks are being fired); False when Redis does not answer."""
        try:
            return self.status.leader() is not None
        except REDIS_ERRORS:
            return False

    def start(self) -> None:
        self.started_at = self.ctx.clock.now()

    def shutdown(self, *, wait: bool = True) -> None:
        """Nothing runs in this process."""

    def run_now(self, job_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Enqueue a manual run and wait for its record; RunQueued when it takes too long."""
        spec = get_spec(self.ctx, job_id)
        if dry_run and not spec.dry_run:
            raise DryRunUnsupported(job_id)
        result = self.app.send_task(
            "encore.run_now", args=(job_id,), kwargs={"dry_run": dry_run}, queue=TICKS
        )
        try:
            answer: dict[str, Any] = result.get(timeout=self.run_now_timeout.total_seconds())
        except CeleryTimeout:
            raise RunQueued(job_id, result.id) from None
        if answer.get("refused") == "busy":
            holder = self.ctx.job_runs.latest(job_id=job_id) or {}
            raise JobBusy(job_id, {"run_id": holder.get("run_id"), "owner": holder.get("owner")})
        if answer.get("refused") == "dry_run":
            raise DryRunUnsupported(job_id)
        return answer

    def jobs(self) -> list[dict[str, Any]]:
        """Every registry job: its next fire time on the registry's grid, pause, newest run;
        `scheduled` says the beat has stored its entry in Redis (None: Redis does not answer;
        the rest comes from the database)."""
        paused = self.ctx.job_controls.paused_ids()
        stored = self._stored_entries()
        return [
            self._describe(spec, None if stored is None else spec.id in stored, spec.id in paused)
            for spec in registry_for(self.ctx).values()
        ]

    def _stored_entries(self) -> set[str] | None:
        ensure_conf(self.app)
        keys = {
            spec.id: RegistryEntry.generate_key(self.app, spec.id)
            for spec in registry_for(self.ctx).values()
        }
        try:
            with self.status.redis.pipeline(transaction=False) as pipe:  # one round trip
                for key in keys.values():
                    pipe.exists(key)
                found = pipe.execute()
        except REDIS_ERRORS:
            return None
        return {job_id for job_id, hit in zip(keys, found, strict=True) if hit}

    def _describe(self, spec: JobSpec, scheduled: bool | None, paused: bool) -> dict[str, Any]:
        last = self.ctx.job_runs.latest(job_id=spec.id)
        trigger = spec.schedule.trigger(self.ctx.settings)
        upcoming = None if paused else trigger.get_next_fire_time(None, self.ctx.clock.now())
        return {
            "id": spec.id,
            "trigger": spec.schedule.describe(self.ctx.settings),
            "next_run_time": iso_z(upcoming),
            "paused": paused,
            "scheduled": scheduled,
            "dry_run": spec.dry_run,
            "last_run": run_record(last) if last else None,
        }

    def leader(self) -> dict[str, Any] | None:
        """The beat holding the RedBeat lock, or None when no beat fires ticks (or Redis does
        not answer: nobody can be seen holding it)."""
        try:
            return self.status.leader()
        except REDIS_ERRORS:
            return None

    def panel(self) -> dict[str, Any]:
        """The console's fleet line: live workers and queue depths, or why they are unknown."""
        try:
            return {"workers": self.status.workers(), "queues": self.status.queue_depths()}
        except REDIS_ERRORS as exc:
            return {
                "workers": [],
                "queues": {},
                "error": f"the broker's Redis does not answer ({exc})",
            }

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when a beat holds the lock, a worker answers, no provider is refusing us and
        no unpaused job's newest run is older than two of its periods (plus its catch-up)."""
        jobs = self.jobs()
        problems = []
        try:
            leader, workers = self.status.leader(), self.status.workers()
            queues: dict[str, int] | None = self.status.queue_depths()
        except REDIS_ERRORS as exc:
            leader, workers, queues = None, [], None
            problems.append(f"the broker's Redis does not answer ({exc})")
        else:
            if leader is None:
                problems.append("no beat holds the schedule lock")
            if not workers:
                problems.append("no worker answers")
        body: dict[str, Any] = {
            "executor": "celery",
            "running": leader is not None,
            "role": "api",
            "leader": leader,
            "workers": workers,
            "queues": queues,
            "provider_errors": provider_errors(self.ctx, jobs),
        }
        overdue = [job["id"] for job in jobs if self._overdue(job)]
        if overdue:
            problems.append(f"overdue by more than two intervals: {', '.join(overdue)}")
        problems += [stopped_reason(problem) for problem in body["provider_errors"]]
        if problems:
            return False, {"status": "unavailable", "reason": "; ".join(problems), **body}
        return True, {"status": "ok", **body}

    def _overdue(self, job: dict[str, Any]) -> bool:
        last = job["last_run"]
        if job["paused"] or last is None or last["fire_time"] is None:
            return False
        spec = get_spec(self.ctx, job["id"])
        period = spec.schedule.period(self.ctx.settings)
        fired = datetime.fromisoformat(last["fire_time"].replace("Z", "+00:00"))
        return self.ctx.clock.now() - fired > 2 * period + spec.catch_up(self.ctx.settings)
