"""Alerts (SPEC §8): list, read, acknowledge, and the live event stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict, StringConstraints

from encore_backend.api import cursor as cursors
from encore_backend.api.deps import Ctx, Principal, Reader, check_venue, venue_or_404
from encore_backend.api.params import Cursor, ObjectPath, VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.alerts import AlertOut, AlertPage
from encore_backend.api.schemas.common import InputModel, RequestTime
from encore_backend.bootstrap import Container
from encore_backend.clock import as_utc
from encore_backend.domain.enums import AlertLevel
from encore_backend.notify import live
from encore_backend.services import alert_service

router = APIRouter(tags=["alerts"], responses=READER)
NOT_FOUND = errors(404)


class AcknowledgeBody(InputModel):
    model_config = ConfigDict(extra="forbid")

    acknowledged_by: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None


@router.get("/api/venues/{venue_id}/alerts", response_model=AlertPage, responses=NOT_FOUND)
def list_alerts(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    is_read: bool | None = None,
    level: AlertLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    archived: Annotated[bool, Query(description="include archived alerts")] = False,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The venue's alerts, newest first, optionally filtered by read state and level; page
    with ?cursor=<next_cursor>."""
    venue_or_404(ctx, principal, venue_id)
    rows = ctx.alerts.list_for_venue(
        venue_id,
        is_read=is_read,
        level=level.value if level else None,
        limit=limit + 1,
        include_archived=archived,
        after=cursors.after(cursor, cursors.ALERTS),
    )
    alerts, next_cursor = cursors.page(
        [alert_service.public_alert(r) for r in rows], limit, cursors.ALERTS
    )
    return {"alerts": alerts, "next_cursor": next_cursor}


@router.post("/api/alerts/{alert_id}/read", response_model=AlertOut, responses=NOT_FOUND)
def read_alert(alert_id: ObjectPath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Mark one alert read."""
    _visible_alert(ctx, principal, alert_id)
    return alert_service.mark_read(ctx, alert_id=alert_id) or _not_found()


@router.post(
    "/api/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=errors(400, 404)
)
def acknowledge_alert(
    alert_id: ObjectPath, ctx: Ctx, principal: Reader, body: AcknowledgeBody | None = None
) -> dict[str, Any]:
    """Acknowledge one alert (by the given name, else the caller's token name)."""
    _visible_alert(ctx, principal, alert_id)
    by = (body.acknowledged_by if body else None) or principal.name
    return alert_service.acknowledge(ctx, alert_id=alert_id, by=by) or _not_found()


@router.get(
    "/api/venues/{venue_id}/alerts/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **NOT_FOUND},
)
def stream_alerts(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    since: RequestTime | None = None,
    max_seconds: Annotated[float, Query(gt=0, le=3600)] = 300,
) -> StreamingResponse:
    """Server-sent `alert.created` events for alerts detected from now (or from `since`)."""
    venue_or_404(ctx, principal, venue_id)
    start = as_utc(since) if since is not None else None
    events = live.alert_events(ctx, venue_id, since=start, max_seconds=max_seconds)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def _visible_alert(ctx: Container, principal: Principal, alert_id: str) -> None:
    """404 for an unknown alert and for another venue's alert alike."""
    alert = ctx.alerts.get(alert_id)
    check_venue(principal, alert["venue_id"] if alert else None)


def _not_found() -> Any:
    raise HTTPException(status.HTTP_404_NOT_FOUND, "alert not found")
