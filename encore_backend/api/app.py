"""The FastAPI application: routers, and the scheduler started and stopped by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from encore_backend.api.routes import admin_jobs, alerts, feedback, health, stats, tokens, venues
from encore_backend.api.routes import metrics as metrics_routes
from encore_backend.api.routes import replies as replies_routes
from encore_backend.api.routes import reports as reports_routes
from encore_backend.api.routes import unsubscribe as unsubscribe_routes
from encore_backend.bootstrap import Container
from encore_backend.observability.metrics import run_metrics
from encore_backend.web.app import install_web


def create_app(ctx: Container, *, start_scheduler: bool = True) -> FastAPI:
    """The app for `ctx`; `start_scheduler=False` serves the API alone (tests, API-only nodes)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if start_scheduler and ctx.settings.scheduler_enabled:
            from encore_backend.scheduler.scheduler import EngineScheduler

            scheduler = EngineScheduler(ctx)
            scheduler.start()
        app.state.scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()

    app = FastAPI(
        title="Encore automation engine",
        version="0.1.0",
        description="Feedback ingestion, alerts, stats and the jobs that keep them fresh.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.scheduler = None
    for module in (health, venues, tokens, feedback, stats, alerts, admin_jobs):
        app.include_router(module.router)
    app.include_router(reports_routes.router)
    app.include_router(replies_routes.router)
    app.include_router(unsubscribe_routes.router)
    app.include_router(metrics_routes.router)
    run_metrics()  # count this process's job runs from now on
    install_web(app)  # the dashboards, and "/" (the sign-in page or the user's home)
    return app
