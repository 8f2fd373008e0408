"""Job `email_sender`: send queue items whose scheduled time has passed (SPEC §3, §4).

A dry run (params dry_run=True) lists what is due and claims, sends and writes nothing.
On a fleet worker the run sends one item itself (a refused provider configuration then fails
the run, as in every profile) and hands the rest to send batches on other workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services import email_service
from encore_backend.services.fanout import Fanout, batch_budget, fanout_of, split

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One paced sender pass from `now`; params: max_seconds, lease_seconds, dry_run."""
    if params.get("dry_run"):
        preview = email_service.preview_due(ctx, now=now)
        return JobResult(items_processed=preview["due"], details={"dry_run": True, **preview})
    if (fanout := fanout_of(ctx)) is not None:
        return fan_out(ctx, now, fanout)
    lease = params.get("lease_seconds")
    report = email_service.send_due(
        ctx,
        now=now,
        max_seconds=params.get("max_seconds"),
        lease=timedelta(seconds=float(lease)) if lease else email_service.SEND_LEASE,
    )
    return JobResult(
        items_processed=report.sent + report.failed + report.cancelled,
        details={
            "sent": report.sent,
            "retried": report.retried,
            "failed": report.failed,
            "cancelled": report.cancelled,
            "outcome_unknown": len(report.expired) + report.outcome_unknown,
            "out_of_budget": report.out_of_budget,
        },
    )


def fan_out(ctx: Container, now: datetime, fanout: Fanout) -> JobResult:
    """Send one item here (timed: a refused provider configuration fails this run, as in
    every profile), then split what is still due into batches for the fleet."""
    started = ctx.clock.now()
    report = email_service.send_due(ctx, now=now, max_items=1, patience=0.0)
    send_seconds = (ctx.clock.now() - started).total_seconds()
    due, _ = ctx.email_queue.due_items(now=ctx.clock.now(), limit=1)
    plan = split(
        due, limit_per_minute=ctx.settings.max_emails_per_minute, item_seconds=send_seconds
    )
    budget = batch_budget(ctx.settings.scheduler_email_interval_minutes)
    enqueued = fanout.send_emails(plan.batches, items=plan.per_batch, seconds=budget) if due else 0
    return JobResult(
        items_processed=report.sent + report.failed + report.cancelled,
        details={"sent": report.sent, "failed": report.failed, "due": due, "batches": enqueued},
    )
