"""Reports and long-term stats (SPEC §8): stored daily/weekly reports and monthly rollups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status

from encore_backend.api.deps import Ctx, Reader, check_venue, venue_or_404
from encore_backend.services import report_service
from encore_backend.services.cleanup_service import public_month

router = APIRouter(tags=["reports"])

REPORTS_MAX = 500
MONTHS_DEFAULT = 24


@router.get("/api/venues/{venue_id}/reports")
def list_reports(
    venue_id: str,
    ctx: Ctx,
    principal: Reader,
    kind: Literal["daily", "weekly"] | None = None,
    limit: Annotated[int, Query(ge=1, le=REPORTS_MAX)] = 100,
) -> dict[str, Any]:
    """The venue's reports, newest period first, optionally of one kind."""
    venue_or_404(ctx, principal, venue_id)
    return {"reports": report_service.list_reports(ctx, venue_id=venue_id, kind=kind, limit=limit)}


@router.get("/api/reports/{report_id}")
def get_report(report_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """One report; 404 when unknown or another venue's."""
    report = report_service.get_report(ctx, report_id=report_id)
    check_venue(principal, report["venue_id"] if report else None)
    if report is None:  # unreachable (check_venue raised), kept for the type checker
        raise HTTPException(status.HTTP_404_NOT_FOUND, "report not found")
    return report


@router.get("/api/venues/{venue_id}/stats/monthly")
def monthly_stats(
    venue_id: str,
    ctx: Ctx,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=240)] = MONTHS_DEFAULT,
) -> dict[str, Any]:
    """Monthly rollups (weekly_cleanup computes them), oldest first: the newest `limit` months."""
    venue_or_404(ctx, principal, venue_id)
    rows = ctx.monthly_stats.list_for_venue(venue_id, limit=limit)
    return {"venue_id": venue_id, "months": [public_month(r) for r in rows]}
