"""Reports and long-term stats (SPEC §8): stored daily/weekly reports and monthly rollups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status

from encore_backend.api import cursor as cursors
from encore_backend.api.deps import Ctx, Reader, check_venue, venue_or_404
from encore_backend.api.params import Cursor, ObjectPath, VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.reports import ReportOut, ReportPage
from encore_backend.services import report_service
from encore_backend.services.cleanup_service import public_month

router = APIRouter(tags=["reports"], responses=READER)
NOT_FOUND = errors(404)

REPORTS_MAX = 500
MONTHS_DEFAULT = 24


@router.get("/api/venues/{venue_id}/reports", response_model=ReportPage, responses=NOT_FOUND)
def list_reports(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    kind: Literal["daily", "weekly"] | None = None,
    limit: Annotated[int, Query(ge=1, le=REPORTS_MAX)] = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The venue's reports, newest period first, optionally of one kind; page with ?cursor=."""
    venue_or_404(ctx, principal, venue_id)
    after = cursors.after(cursor, cursors.REPORTS)
    rows = ctx.reports.list_for_venue(venue_id, kind=kind, limit=limit + 1, after=after)
    docs = [report_service.public_report(r) for r in rows]
    reports, next_cursor = cursors.page(docs, limit, cursors.REPORTS)
    return {"reports": reports, "next_cursor": next_cursor}


@router.get("/api/reports/{report_id}", response_model=ReportOut, responses=NOT_FOUND)
def get_report(report_id: ObjectPath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """One report; 404 when unknown or another venue's."""
    report = report_service.get_report(ctx, report_id=report_id)
    check_venue(principal, report["venue_id"] if report else None)
    if report is None:  # unreachable (check_venue raised), kept for the type checker
        raise HTTPException(status.HTTP_404_NOT_FOUND, "report not found")
    return report


@router.get("/api/venues/{venue_id}/stats/monthly", responses=NOT_FOUND)
def monthly_stats(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=240)] = MONTHS_DEFAULT,
) -> dict[str, Any]:
    """Monthly rollups (weekly_cleanup computes them), oldest first: the newest `limit` months."""
    venue_or_404(ctx, principal, venue_id)
    rows = ctx.monthly_stats.list_for_venue(venue_id, limit=limit)
    return {"venue_id": venue_id, "months": [public_month(r) for r in rows]}
