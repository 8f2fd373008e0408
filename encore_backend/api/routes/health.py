"""Liveness and scheduler health (no auth: load balancers and monitors call these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/health/scheduler", responses={503: {"description": "scheduler down or overdue"}})
def scheduler_health(request: Request) -> JSONResponse:
    """200 when this process's scheduler runs and no job is overdue by two intervals; else 503."""
    scheduler = request.app.state.scheduler
    if scheduler is None:
        body = {"status": "unavailable", "reason": "scheduler is not running", "running": False}
        return JSONResponse(body, status_code=503)
    healthy, body = scheduler.health()
    return JSONResponse(body, status_code=200 if healthy else 503)
