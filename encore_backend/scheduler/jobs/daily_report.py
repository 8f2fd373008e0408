"""Job `daily_report`: an hourly check that stores each venue's report on its previous local day.

A venue's report is due at SCHEDULER_DAILY_REPORT_HOUR in its own timezone; a run also produces
reports missed while the service was down (up to a week back).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.domain.report_periods import Kind
from encore_backend.scheduler.result import JobResult
from encore_backend.services.report_service import produce_reports

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """Produce every due daily report at `now`; params: lookback (days)."""
    return report_run(ctx, "daily", now, params)


def report_run(ctx: Container, kind: Kind, now: datetime, params: dict[str, Any]) -> JobResult:
    """One daily_report or weekly_report run: every due `kind` report, counted for the record."""
    lookback = params.get("lookback")
    result = produce_reports(ctx, kind=kind, now=now, lookback=int(lookback) if lookback else None)
    return JobResult(
        items_processed=len(result.created),
        details={"venues": result.venues, "due": result.missing, "created": len(result.created)},
    )
