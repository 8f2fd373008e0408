"""Job `email_sender`: send queue items whose scheduled time has passed (SPEC §3, §4).

A dry run (params dry_run=True) lists what is due and claims, sends and writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services import email_service

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One paced sender pass from `now`; params: max_seconds, lease_seconds, dry_run."""
    if params.get("dry_run"):
        preview = email_service.preview_due(ctx, now=now)
        return JobResult(items_processed=preview["due"], details={"dry_run": True, **preview})
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
