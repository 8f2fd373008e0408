"""Stats routes (SPEC §8): dashboards read stored snapshots, never live aggregates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from encore_backend.api.deps import Admin, Ctx, Reader, venue_or_404
from encore_backend.api.params import VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.common import RequestTime
from encore_backend.clock import as_utc, iso_z
from encore_backend.services.stats_service import totals

router = APIRouter(tags=["stats"], responses=READER)
NOT_FOUND = errors(404)

HISTORY_DEFAULT = 288  # a day of 5-minute snapshots
HISTORY_MAX = 5000


@router.get("/api/venues/{venue_id}/stats", responses=NOT_FOUND)
def latest_stats(venue_id: VenuePath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """The venue's newest snapshot; 404 until the aggregator has run once."""
    venue_or_404(ctx, principal, venue_id)
    snapshot = ctx.stats.latest(venue_id)
    if snapshot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no stats computed yet for this venue")
    return {
        "venue_id": venue_id,
        "computed_at": iso_z(snapshot["computed_at"]),
        "stats": snapshot["stats"],
    }


@router.get("/api/venues/{venue_id}/stats/history", responses=NOT_FOUND)
def stats_history(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    since: Annotated[RequestTime | None, Query(description="ISO time; naive means UTC")] = None,
    limit: Annotated[int, Query(ge=1, le=HISTORY_MAX)] = HISTORY_DEFAULT,
) -> dict[str, Any]:
    """Snapshots oldest first for charts: from `since`, or else the newest `limit`."""
    venue_or_404(ctx, principal, venue_id)
    rows = ctx.stats.history(venue_id, since=as_utc(since) if since else None, limit=limit)
    return {
        "venue_id": venue_id,
        "snapshots": [{"computed_at": iso_z(r["computed_at"]), "stats": r["stats"]} for r in rows],
    }


@router.get("/api/admin/stats")
def all_stats(ctx: Ctx, principal: Admin) -> dict[str, Any]:
    """Every venue's newest snapshot and the totals across venues."""
    rows = ctx.stats.latest_all()
    times = [r["computed_at"] for r in rows if r["computed_at"] is not None]
    return {
        "computed_at": iso_z(max(times)) if times else None,
        "venues": [
            {
                "venue_id": r["venue_id"],
                "name": r["name"],
                "computed_at": iso_z(r["computed_at"]),
                "stats": r["stats"],
            }
            for r in rows
        ],
        "totals": totals(r["stats"] for r in rows),
    }
