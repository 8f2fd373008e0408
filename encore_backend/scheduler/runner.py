"""The run recorder: claim a tick, hold a lease with a heartbeat, run the job, record the outcome.

Every engine (APScheduler, the API's "run now", the CLI, ingestion events) calls `run_job`; the
database decides which process runs a tick, so any number of processes may try.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.clock import iso_z
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.providers.errors import ProviderConfigError
from encore_backend.scheduler.registry import DryRunUnsupported, JobSpec, get_spec
from encore_backend.scheduler.result import JobResult

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.scheduler.runner")

# Observability hooks: the run being executed in this context (JSON logs read its job_id and
# run_id), and callables told about every finished or recorded run (metrics).
current_run: ContextVar[dict[str, Any] | None] = ContextVar("encore_current_run", default=None)
run_observers: list[Callable[[dict[str, Any]], None]] = []
# Who runs here when it is not a plain process: a Lambda invocation names its function and
# request id (SPEC §3), set for the length of the invocation.
invocation_owner: ContextVar[str | None] = ContextVar("encore_invocation_owner", default=None)


def observe_run(record: dict[str, Any]) -> None:
    """Tell every observer about a run record; an observer's failure never fails the run."""
    for observer in list(run_observers):
        try:
            observer(record)
        except Exception:
            log.exception("run observer %r failed", observer)


def current_owner() -> str:
    """host:pid of this process (read per call: a forked worker has its own pid), or the
    invocation's own name inside a Lambda invocation."""
    return invocation_owner.get() or f"{socket.gethostname()}:{os.getpid()}"


class JobBusy(Exception):
    """A manual run was asked for while the job runs elsewhere (API: 409)."""

    def __init__(self, job_id: str, holder: dict[str, Any]) -> None:
        super().__init__(f"{job_id} is already running (run {holder['run_id']}, {holder['owner']})")
        self.job_id = job_id
        self.holder = holder


def tick_key(trigger: RunTrigger, fire_time: datetime | None) -> str:
    """A schedule tick is identified by its fire time; other runs get a unique token."""
    if trigger == RunTrigger.SCHEDULE and fire_time is not None:
        return iso_z(fire_time) or ""
    return f"{trigger.value}:{uuid.uuid4().hex}"


def run_job(
    ctx: Container,
    job_id: str,
    *,
    trigger: RunTrigger,
    fire_time: datetime | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Run `job_id` once and return its run record; None when another process claimed the tick.

    Raises UnknownJob for an id not in the registry, JobBusy for a manual run of a busy job,
    DryRunUnsupported for a dry run of a job that cannot preview.
    """
    spec = get_spec(ctx, job_id)
    dry_run = bool((params or {}).get("dry_run"))
    if dry_run and not spec.dry_run:
        raise DryRunUnsupported(job_id)
    now = ctx.clock.now()
    if trigger == RunTrigger.SCHEDULE and fire_time is None:
        fire_time = spec.schedule.latest(ctx.settings, now)
    ctx.job_runs.expire_leases(now=now, job_id=job_id)
    claim = ctx.job_runs.claim(
        job_id=job_id,
        tick_key=tick_key(trigger, fire_time),
        trigger=trigger.value,
        fire_time=fire_time or now,
        owner=current_owner(),
        clock=ctx.clock,
        lease=spec.lease,
        # Event runs are idempotent and dry runs change nothing: neither holds the job.
        exclusive=trigger != RunTrigger.EVENT and not dry_run,
        dry_run=dry_run,
    )
    if claim.lost:
        log.info("claim lost job_id=%s fire_time=%s", job_id, iso_z(fire_time))
        return None
    if claim.run is None:
        return _busy(ctx, job_id, trigger, fire_time, now, claim.holder or {})
    return _execute(ctx, spec, claim.run, claim.run["started_at"], params or {})


def _busy(
    ctx: Container,
    job_id: str,
    trigger: RunTrigger,
    fire_time: datetime | None,
    now: datetime,
    holder: dict[str, Any],
) -> dict[str, Any] | None:
    """A tick that finds its job running is recorded `skipped`; a manual request is refused."""
    if trigger == RunTrigger.MANUAL:
        raise JobBusy(job_id, holder)
    log.info("tick skipped job_id=%s running_run_id=%s", job_id, holder.get("run_id"))
    return record_tick(
        ctx,
        job_id,
        fire_time=fire_time or now,
        status=RunStatus.SKIPPED,
        error=f"still running: run {holder.get('run_id')} on {holder.get('owner')}",
        now=now,
    )


def _execute(
    ctx: Container, spec: JobSpec, run: dict[str, Any], now: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    run_id = run["run_id"]
    fields = {"job_id": spec.id, "run_id": run_id, "trigger": run["trigger"]}
    log.info(
        "job started job_id=%s run_id=%s trigger=%s", spec.id, run_id, run["trigger"], extra=fields
    )
    context = current_run.set(fields)
    heartbeat = Heartbeat(ctx, run_id=run_id, lease=spec.lease)
    heartbeat.start()
    started = time.monotonic()
    try:
        result = spec.load()(ctx, now, **params) or JobResult()
        outcome: dict[str, Any] = {
            "status": RunStatus.SUCCESS,
            "items_processed": int(result.items_processed),
            "details": _jsonable(result.details),
        }
    except ProviderConfigError as exc:
        log.error("job stopped job_id=%s run_id=%s: %s", spec.id, run_id, exc, extra=fields)
        outcome = {
            "status": RunStatus.FAILED,
            "error": str(exc),
            "details": {"provider_error": exc.provider},
        }
    except Exception as exc:
        log.exception("job failed job_id=%s run_id=%s", spec.id, run_id, extra=fields)
        outcome = {"status": RunStatus.FAILED, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        heartbeat.stop()
        current_run.reset(context)
    duration_ms = int((time.monotonic() - started) * 1000)
    record = ctx.job_runs.finish(
        run_id=run_id, now=ctx.clock.now(), duration_ms=duration_ms, **outcome
    )
    log.info(
        "job finished job_id=%s run_id=%s status=%s items=%s duration_ms=%s",
        spec.id,
        run_id,
        record["status"],
        record["items_processed"],
        duration_ms,
        extra={**fields, "status": record["status"], "duration_ms": duration_ms},
    )
    observe_run(record)
    return record


def record_tick(
    ctx: Container,
    job_id: str,
    *,
    fire_time: datetime,
    status: RunStatus,
    error: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Record a schedule tick that did not run (skipped, missed); None if it was claimed."""
    record = ctx.job_runs.record(
        job_id=job_id,
        tick_key=tick_key(RunTrigger.SCHEDULE, fire_time),
        trigger=RunTrigger.SCHEDULE.value,
        fire_time=fire_time,
        owner=current_owner(),
        now=now or ctx.clock.now(),
        status=status.value,
        error=error,
    )
    if record is not None:
        log.warning("tick %s job_id=%s fire_time=%s", status.value, job_id, iso_z(fire_time))
        observe_run(record)
    return record


class Heartbeat:
    """Extends a run's lease every third of it, so only a dead worker's lease expires."""

    def __init__(self, ctx: Container, *, run_id: int, lease: timedelta) -> None:
        self.ctx, self.run_id, self.lease = ctx, run_id, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            now = self.ctx.clock.now()
            try:
                self.ctx.job_runs.heartbeat(
                    run_id=self.run_id, now=now, lease_expires_at=now + self.lease
                )
            except Exception:
                log.exception("heartbeat failed run_id=%s", self.run_id)


def reap_dead_local_runs(ctx: Container, *, now: datetime) -> int:
    """At start-up: fail `running` rows of processes on this host that no longer exist."""
    ctx.job_runs.expire_leases(now=now)
    host = socket.gethostname()
    reaped = 0
    for run in ctx.job_runs.running():
        owner_host, _, pid = run["owner"].rpartition(":")
        if owner_host == host and pid.isdigit() and not _pid_alive(int(pid)):
            error = f"worker died: process {pid} is gone"
            reaped += ctx.job_runs.fail_running(run_id=run["run_id"], now=now, error=error)
    return reaped


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_record(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a run (SPEC §3), times ISO Z."""
    return {
        "run_id": row["run_id"],
        "job_id": row["job_id"],
        "trigger": row["trigger"],
        "fire_time": iso_z(row["fire_time"]),
        "status": row["status"],
        "started_at": iso_z(row["started_at"]),
        "finished_at": iso_z(row["finished_at"]),
        "duration_ms": row["duration_ms"],
        "items_processed": row["items_processed"],
        "details": row["details"],
        "error": row["error"],
        "owner": row["owner"],
        "dry_run": bool(row.get("dry_run")),
    }


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    """Details go into a JSON column: anything unusual (datetimes, Decimals) becomes text."""
    return json.loads(json.dumps(details or {}, default=str))  # type: ignore[no-any-return]
