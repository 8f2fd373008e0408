"""Job `stats_aggregator`: refresh every venue's stats snapshot (SPEC §3, §5) and the hourly
feedback counts the dashboard's trend chart reads (SPEC §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from encore_backend.bootstrap import Container
from encore_backend.scheduler.result import JobResult
from encore_backend.services.stats_service import refresh_snapshots


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One snapshot per venue at `now`, a bounded thinning of old snapshots, and the hourly
    feedback counts of the dashboard's trend chart."""
    result = refresh_snapshots(store=ctx.stats, now=now)
    hours = ctx.trends.refresh_hourly(now=now)
    return JobResult(
        items_processed=result.venues,
        details={"snapshots": result.snapshots, "thinned": result.thinned, "trend_hours": hours},
    )
