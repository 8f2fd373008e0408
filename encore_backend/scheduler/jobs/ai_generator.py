"""Job `ai_generator`: draft replies for new feedback, per venue settings (SPEC §3, §4).

`encore run-job ai_generator --dry-run` passes dry_run=True: the run record then lists the
feedback a run would draft (count, ids, per venue); no provider is called, nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services import reply_service
from encore_backend.services.fanout import Fanout, batch_budget, fanout_of, split

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One paced generator pass from `now`; params: batch_size, max_seconds, dry_run."""
    batch_size = int(params.get("batch_size", reply_service.BATCH_SIZE))
    if params.get("dry_run"):
        preview = reply_service.preview_drafts(ctx, now=now, batch_size=batch_size)
        return JobResult(
            items_processed=preview["would_draft"], details={"dry_run": True, **preview}
        )
    if (fanout := fanout_of(ctx)) is not None:
        return fan_out(ctx, now, fanout)
    report = reply_service.generate_replies(
        ctx, now=now, batch_size=batch_size, max_seconds=params.get("max_seconds")
    )
    return JobResult(
        items_processed=report.stored,
        details={
            **report.by_status,
            "queued": report.queued,
            "retries": report.retries,
            "deferred": report.deferred,
            "lost_races": report.lost_races,
            "out_of_budget": report.out_of_budget,
            "provider_down": report.provider_down,
        },
    )


HOLD_MARGIN = timedelta(seconds=60)  # held feedback comes back this long after its batch's end
MAX_HELD = 500  # feedback one tick hands to the fleet; the next tick takes the rest


def fan_out(ctx: Container, now: datetime, fanout: Fanout) -> JobResult:
    """Draft the oldest waiting feedback here (timed: a refused key fails this run, as in every
    profile), then hold the next ones for the fleet and enqueue them in batches."""
    if not ctx.settings.auto_generate_ai_responses:
        return JobResult(details={"drafted": 0, "batches": 0})
    started = ctx.clock.now()
    report = reply_service.generate_replies(ctx, now=now, batch_size=1, max_items=1)
    item_seconds = (ctx.clock.now() - started).total_seconds()
    current = ctx.clock.now()
    since = reply_service.reply_horizon(ctx.settings, now)
    rows = ctx.replies.candidates(now=current, limit=MAX_HELD, created_since=since)
    budget = batch_budget(ctx.settings.scheduler_ai_interval_minutes)
    until = current + timedelta(seconds=budget) + HOLD_MARGIN
    held = ctx.feedback.hold_drafts([row["feedback_id"] for row in rows], until=until, now=current)
    limit = ctx.settings.max_ai_generations_per_minute
    plan = split(len(held), limit_per_minute=limit, item_seconds=item_seconds)
    batches = [held[i : i + plan.per_batch] for i in range(0, len(held), plan.per_batch or 1)]
    enqueued = fanout.draft_replies(batches, seconds=budget) if held else 0
    return JobResult(
        items_processed=report.stored,
        details={**report.by_status, "held": len(held), "batches": enqueued},
    )
