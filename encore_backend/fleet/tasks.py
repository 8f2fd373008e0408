"""The fleet's tasks: a schedule tick, a run-now, a batch of email sends, a batch of drafts.

Every task is idempotent through the database: a tick claims `(job_id, fire_time)`, a batch
claims each item before sending it. So a task delivered twice (a worker killed before its
acknowledgement, two beats during a failover) runs its work once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from encore_backend.clock import iso_z
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.fleet.app import app
from encore_backend.fleet.worker_context import worker_ctx
from encore_backend.scheduler.registry import DryRunUnsupported, UnknownJob, get_spec
from encore_backend.scheduler.runner import JobBusy, record_tick, run_job, run_record
from encore_backend.services import email_service, reply_service
from encore_backend.storage.errors import StorageUnavailable

log = logging.getLogger("encore.fleet.tasks")

RETRY = {
    "autoretry_for": (StorageUnavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


@app.task(name="encore.tick", **RETRY)  # type: ignore[misc]
def tick(job_id: str, fire_time: str | None = None) -> dict[str, Any] | None:
    """One schedule tick: run it unless paused or later than its catch-up window."""
    ctx = worker_ctx(app)
    try:
        spec = get_spec(ctx, job_id)
    except UnknownJob:
        log.error("tick of unknown job %s dropped", job_id)
        return None
    fire = datetime.fromisoformat(fire_time.replace("Z", "+00:00")) if fire_time else None
    if ctx.job_controls.is_paused(job_id):
        log.info("tick of %s not run: paused", job_id)
        return None
    now = ctx.clock.now()
    if fire is not None and now - fire > spec.catch_up(ctx.settings):
        error = "missed: later than the catch-up window"
        record = record_tick(ctx, job_id, fire_time=fire, status=RunStatus.MISSED, error=error)
        return brief(record)
    record = run_job(ctx, job_id, trigger=RunTrigger.SCHEDULE, fire_time=fire)
    return brief(record)


def brief(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a tick task answers (Celery logs it): the run's id and outcome; None when another
    worker had claimed the tick."""
    if record is None:
        return None
    keys = ("run_id", "job_id", "trigger", "status", "items_processed", "error")
    return {"fire_time": iso_z(record["fire_time"]), **{key: record[key] for key in keys}}


@app.task(name="encore.run_now", **RETRY)  # type: ignore[misc]
def run_now(job_id: str, dry_run: bool = False) -> dict[str, Any]:
    """A manual run; the answer is the run record, or {"refused": …} with the reason."""
    ctx = worker_ctx(app)
    params = {"dry_run": True} if dry_run else None
    try:
        record = run_job(ctx, job_id, trigger=RunTrigger.MANUAL, params=params)
    except JobBusy as exc:
        return {"refused": "busy", "message": str(exc)}
    except DryRunUnsupported as exc:
        return {"refused": "dry_run", "message": str(exc)}
    except UnknownJob:
        return {"refused": "unknown", "message": f"unknown job id: {job_id}"}
    assert record is not None  # a manual run's tick key is unique: it cannot lose a claim
    return run_record(record)


@app.task(name="encore.send_emails", **RETRY)  # type: ignore[misc]
def send_emails(items: int, seconds: float) -> dict[str, Any]:
    """Claim and send up to `items` due emails within `seconds`, paced by the shared limit.
    One sender per batch (one SMTP connection): the fleet sends side by side through its
    workers' concurrent batches, and the tick sizes batches by one sender's pace."""
    ctx = worker_ctx(app)
    report = email_service.send_due(
        ctx, now=ctx.clock.now(), max_seconds=seconds, max_items=items, concurrency=1
    )
    return {
        "sent": report.sent,
        "failed": report.failed,
        "cancelled": report.cancelled,
        "retried": report.retried,
        "outcome_unknown": report.outcome_unknown + len(report.expired),
    }


@app.task(name="encore.draft_replies", **RETRY)  # type: ignore[misc]
def draft_replies(feedback_ids: list[int], seconds: float) -> dict[str, Any]:
    """Draft these held feedback (unless answered meanwhile), paced by the shared AI limit.
    A provider configuration error fails the batch; the feedback comes back when its hold
    ends and the next tick's own draft shows the error on the run record."""
    ctx = worker_ctx(app)
    report = reply_service.draft_these(ctx, feedback_ids, now=ctx.clock.now(), max_seconds=seconds)
    return {**report.by_status, "deferred": report.deferred, "lost_races": report.lost_races}
