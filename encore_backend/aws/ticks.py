"""The job function: one EventBridge Scheduler tick, run by the runner every engine uses.

The schedule's `<aws.scheduler.scheduled-time>` is the tick's fire time, so the runner's
`(job_id, fire_time)` claim makes a retried or duplicated invocation of one tick run once.
The answer is the run record (JSON), with `outcome` saying what this invocation did:
`ran`, `skipped` (the job was still running), `missed` (later than its catch-up window),
`already_ran` (the record is the earlier invocation's), `paused`, `disabled` or `rejected`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.aws.events import MAX_CLOCK_SKEW, BadEvent, Tick, parse_tick
from encore_backend.aws.invocation import LambdaContext, invocation
from encore_backend.clock import as_utc, iso_z
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.scheduler.registry import get_spec, registry_for
from encore_backend.scheduler.runner import record_tick, run_job, run_record, tick_key

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.aws.ticks")
PAGE = 100


def run_tick(ctx: Container, event: Any, context: LambdaContext) -> dict[str, Any]:
    """Run the tick `event` names, within this invocation's remaining time."""
    with invocation(ctx.clock, context):
        answer = _run(ctx, event)
    log.info("tick answer %s", answer)
    return answer


def _run(ctx: Container, event: Any) -> dict[str, Any]:
    now = ctx.clock.now()
    try:
        tick = parse_tick(event, job_ids=list(registry_for(ctx)), now=now)
    except BadEvent as exc:
        log.error("event rejected, nothing run: %s (event %r)", exc, event)
        return {"outcome": "rejected", "field": exc.field, "error": exc.message}
    if not ctx.settings.scheduler_enabled:
        return _not_run(tick, "disabled", "SCHEDULER_ENABLED is false: no tick runs")
    if ctx.job_controls.is_paused(tick.job_id):
        return _not_run(tick, "paused", f"{tick.job_id} is paused: resume it to run its ticks")
    window = get_spec(ctx, tick.job_id).catch_up(ctx.settings)
    if now - tick.fire_time > window:
        error = f"missed: later than the catch-up window ({window}) when it arrived"
        record = record_tick(
            ctx,
            tick.job_id,
            fire_time=tick.fire_time,
            status=RunStatus.MISSED,
            error=error,
            now=now,
        )
        return _answer(ctx, tick, record, "missed")
    record = run_job(ctx, tick.job_id, trigger=RunTrigger.SCHEDULE, fire_time=tick.fire_time)
    skipped = record is not None and record["status"] == RunStatus.SKIPPED
    return _answer(ctx, tick, record, "skipped" if skipped else "ran")


def _answer(
    ctx: Container, tick: Tick, record: dict[str, Any] | None, outcome: str
) -> dict[str, Any]:
    """This invocation's record; for a tick claimed before, the claimant's record instead."""
    if record is not None:
        return {"outcome": outcome, **run_record(record)}
    earlier = claimed_run(ctx, tick.job_id, tick.fire_time)
    if earlier is None:  # claimed, then deleted (cleanup) before we looked
        return _not_run(tick, "already_ran", "this tick was claimed before; nothing was run")
    message = (
        f"this tick was claimed before by run {earlier['run_id']} ({earlier['status']}, "
        f"{earlier['owner']}); this invocation ran nothing"
    )
    return {"outcome": "already_ran", "message": message, **run_record(earlier)}


def _not_run(tick: Tick, outcome: str, message: str) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "job_id": tick.job_id,
        "fire_time": iso_z(tick.fire_time),
        "message": message,
    }


def claimed_run(ctx: Container, job_id: str, fire_time: datetime) -> dict[str, Any] | None:
    """The run record holding this schedule tick: newest runs first, back to the fire time
    (a tick's record starts after it, give or take the clock skew we accept)."""
    key, oldest = tick_key(RunTrigger.SCHEDULE, fire_time), fire_time - MAX_CLOCK_SKEW
    after: tuple[Any, ...] | None = None
    while rows := ctx.job_runs.list_runs(job_id=job_id, limit=PAGE, after=after):
        found = next((row for row in rows if row["tick_key"] == key), None)
        if found is not None:
            return found
        last = rows[-1]
        if as_utc(last["started_at"]) < oldest:
            return None
        after = (last["started_at"], last["run_id"])
    return None
