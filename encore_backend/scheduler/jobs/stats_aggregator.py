"""Job `stats_aggregator`: refresh every venue's stats snapshot (SPEC §3, §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from encore_backend.bootstrap import Container
from encore_backend.scheduler.result import JobResult
from encore_backend.services.stats_service import refresh_snapshots


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One snapshot per venue at `now`, then a bounded thinning of old snapshots."""
    result = refresh_snapshots(store=ctx.stats, now=now)
    return JobResult(
        items_processed=result.venues,
        details={"snapshots": result.snapshots, "thinned": result.thinned},
    )
