"""Job `alert_detector`: scan feedback not yet scanned, create alerts, deliver webhooks.

The periodic run scans everything unscanned, then attempts every due webhook delivery (first
attempts and retries). The event run (right after ingestion) scans only `feedback_ids` and makes
the first attempt of the deliveries it created.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.notify import webhook
from encore_backend.scheduler.result import JobResult
from encore_backend.services import alert_service

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(
    ctx: Container, now: datetime, feedback_ids: Sequence[int] | None = None, **params: Any
) -> JobResult:
    """One detector pass at `now`; params: batch_size."""
    ids = [int(i) for i in feedback_ids] if feedback_ids is not None else None
    batch_size = int(params.get("batch_size", alert_service.BATCH_SIZE))
    report = alert_service.detect(ctx, now=now, feedback_ids=ids, batch_size=batch_size)
    only = report.delivery_ids if ids is not None else None
    sent = webhook.deliver_due(ctx, now=now, delivery_ids=only)
    return JobResult(
        items_processed=report.scanned,
        details={
            "alerts_created": len(report.alerts),
            "webhooks_delivered": sent.delivered,
            "webhooks_failed": sent.failed,
            "webhooks_given_up": sent.given_up,
        },
    )
