"""Job `weekly_report`: an hourly check that stores each venue's report on its previous week.

A venue's Monday-Sunday report is due on Monday at SCHEDULER_DAILY_REPORT_HOUR in its own
timezone; a run also produces reports missed while the service was down (up to four weeks).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.jobs.daily_report import report_run
from encore_backend.scheduler.result import JobResult

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """Produce every due weekly report at `now`; params: lookback (weeks)."""
    return report_run(ctx, "weekly", now, params)
