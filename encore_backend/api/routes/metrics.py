"""GET /metrics: Prometheus text, no auth (scrapers call it; it holds no customer data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from encore_backend.api.deps import Ctx
from encore_backend.api.responses import ANY
from encore_backend.observability.metrics import render

router = APIRouter(tags=["health"], responses=ANY)


@router.get("/metrics", response_class=Response)
def metrics(ctx: Ctx) -> Response:
    """Run counters of this process and database gauges (queue, alerts, last runs)."""
    return Response(render(ctx), media_type=CONTENT_TYPE_LATEST)
