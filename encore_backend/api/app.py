"""The FastAPI application: routers, and the scheduler started and stopped by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from encore_backend.api.errors import validation_error
from encore_backend.api.methods import AllowEveryMethod
from encore_backend.api.responses import ANY, errors
from encore_backend.api.routes import (
    admin_jobs,
    alerts,
    feedback,
    health,
    manager_preferences,
    stats,
    tokens,
    venues,
)
from encore_backend.api.routes import channels as channel_routes
from encore_backend.api.routes import feedback_batch as batch_routes
from encore_backend.api.routes import metrics as metrics_routes
from encore_backend.api.routes import replies as replies_routes
from encore_backend.api.routes import reports as reports_routes
from encore_backend.api.routes import unsubscribe as unsubscribe_routes
from encore_backend.api.security import MAX_BODY_BYTES, BodyLimit, SecurityHeaders
from encore_backend.bootstrap import Container
from encore_backend.observability.metrics import run_metrics
from encore_backend.scheduler.control import SchedulerControl, scheduler_control
from encore_backend.services.alert_signal import SIGNAL_KEY, DetectorSignal
from encore_backend.web.app import install_web

DESCRIPTION = (
    "Feedback ingestion, alerts, stats and the jobs that keep them fresh.\n\n"
    f"Request bodies are limited to {MAX_BODY_BYTES} bytes (1 MiB): a larger one is refused "
    f"with 413 before it is read ({batch_routes.PATH}: {batch_routes.MAX_BODY_BYTES} bytes). "
    "Lists page with an opaque cursor: pass a page's `next_cursor` "
    "as `?cursor=` (with the same filters); it is null on the last page."
)


@contextmanager
def detector_thread(ctx: Container) -> Iterator[DetectorSignal]:
    """The alert detector fed by this process's ingestion, for the app's lifetime; what is
    queued at shutdown is still scanned."""
    detector = DetectorSignal(ctx)
    previous = ctx.extras.get(SIGNAL_KEY)
    detector.start()
    ctx.extras[SIGNAL_KEY] = detector
    try:
        yield detector
    finally:
        ctx.extras[SIGNAL_KEY] = previous
        detector.stop()


def create_app(ctx: Container, *, start_scheduler: bool = True) -> FastAPI:
    """The app for `ctx`; `start_scheduler=False` serves the API alone (tests, API-only nodes)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler: SchedulerControl | None = None
        if ctx.settings.encore_executor == "celery":  # beats and workers run the jobs
            scheduler = scheduler_control(ctx)
        elif start_scheduler and ctx.settings.scheduler_enabled:
            scheduler = scheduler_control(ctx)
            scheduler.start()
        app.state.scheduler = scheduler
        try:
            with detector_thread(ctx):
                yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()

    app = FastAPI(
        title="Encore automation engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.scheduler = None
    app.add_exception_handler(RequestValidationError, validation_error)
    app.include_router(health.router, responses=ANY)
    for module in (venues, tokens, feedback, batch_routes, stats, alerts, channel_routes):
        app.include_router(module.router)
    app.include_router(admin_jobs.router, responses=errors(400, 401, 403, 404, 409, 413))
    app.include_router(reports_routes.router)
    app.include_router(replies_routes.router)
    app.include_router(unsubscribe_routes.router)
    app.include_router(manager_preferences.router)
    app.include_router(metrics_routes.router)
    run_metrics()  # count this process's job runs from now on
    install_web(app)  # the dashboards, and "/" (the sign-in page or the user's home)
    app.add_middleware(AllowEveryMethod, routes=app.routes)
    app.add_middleware(BodyLimit, path_limits={batch_routes.PATH: batch_routes.MAX_BODY_BYTES})
    app.add_middleware(SecurityHeaders)  # outermost: the 413s carry the headers too
    return app
