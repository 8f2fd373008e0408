"""Job `email_sender`: send queue items whose scheduled time has passed (SPEC §3, §4)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services import email_service

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One paced sender pass from `now`; params: max_seconds, lease_seconds."""
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
            "outcome_unknown": len(report.expired),
            "out_of_budget": report.out_of_budget,
        },
    )
