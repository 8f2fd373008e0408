"""Job `weekly_report`: an hourly check that stores each venue's report on its previous week.

A venue's Monday-Sunday report is due on Monday at SCHEDULER_DAILY_REPORT_HOUR in its own
timezone; a run also produces reports missed while the service was down (up to four weeks).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services.report_service import produce_reports

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """Produce every due weekly report at `now`; params: lookback (weeks)."""
    lookback = params.get("lookback")
    result = produce_reports(
        ctx, kind="weekly", now=now, lookback=int(lookback) if lookback else None
    )
    return JobResult(
        items_processed=len(result.created),
        details={"venues": result.venues, "due": result.missing, "created": len(result.created)},
    )
