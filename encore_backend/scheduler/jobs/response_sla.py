"""Job `response_sla`: escalate bad feedback still unanswered past the venue's deadline.

Every 15 minutes. A catch-up run after downtime escalates everything that fell due meanwhile
once (the claim is per feedback, not per tick). It then makes the first attempt of the webhook
deliveries it created, like the alert detector's event run; retries go with the detector's
periodic pass over every due delivery. A dry run (dry_run=True) lists what it would escalate
and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.notify import webhook
from encore_backend.scheduler.result import JobResult
from encore_backend.services import sla_service

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One pass at `now`; params: dry_run."""
    dry_run = bool(params.get("dry_run"))
    result = sla_service.escalate_overdue(ctx, now=now, dry_run=dry_run)
    if dry_run:
        return JobResult(items_processed=len(result.overdue), details=sla_service.preview(result))
    sent = webhook.deliver_due(ctx, now=now, delivery_ids=result.delivery_ids)
    return JobResult(
        items_processed=len(result.escalated),
        details={
            "venues": result.venues,
            "overdue": len(result.overdue),
            "escalated": len(result.escalated),
            "emails_queued": result.emails,
            "webhooks_delivered": sent.delivered,
            "webhooks_failed": sent.failed,
        },
    )
