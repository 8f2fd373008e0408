"""Job `daily_report`: an hourly check that stores each venue's report on its previous local day,
and queues the managers' daily digests due this hour.

A venue's report is due at SCHEDULER_DAILY_REPORT_HOUR in its own timezone; a run also produces
reports missed while the service was down (up to a week back). A digest is due at its manager's
digest_hour, venue-local; a run within the catch-up window after it still queues it, once
(services/digest_service).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.domain.report_periods import Kind
from encore_backend.scheduler.result import JobResult
from encore_backend.services.digest_service import queue_digests
from encore_backend.services.report_service import produce_reports

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """Produce every due daily report at `now` and queue the digests due; params: lookback
    (days)."""
    result = report_run(ctx, "daily", now, params)
    digests = queue_digests(ctx, now=now)
    result.details["digests"] = digests
    return JobResult(items_processed=result.items_processed + digests, details=result.details)


def report_run(ctx: Container, kind: Kind, now: datetime, params: dict[str, Any]) -> JobResult:
    """One daily_report or weekly_report run: every due `kind` report, counted for the record."""
    lookback = params.get("lookback")
    result = produce_reports(ctx, kind=kind, now=now, lookback=int(lookback) if lookback else None)
    return JobResult(
        items_processed=len(result.created),
        details={"venues": result.venues, "due": result.missing, "created": len(result.created)},
    )
