"""The container of a fleet worker process: built once (migrated), with the Celery fan-out."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from celery import Celery

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

CTX_ATTR = "encore_ctx"  # app attribute: the worker's container (a test may set its own)
_lock = threading.Lock()


def worker_ctx(app: Celery) -> Container:
    """This worker's container, built on first use from the app's settings."""
    ctx: Container | None = getattr(app, CTX_ATTR, None)
    if ctx is not None:
        return ctx
    with _lock:
        ctx = getattr(app, CTX_ATTR, None)
        if ctx is None:
            ctx = _build(app)
            setattr(app, CTX_ATTR, ctx)
    return ctx


def _build(app: Celery) -> Container:
    from encore_backend.bootstrap import build_migrated
    from encore_backend.fleet.fanout import CeleryFanout
    from encore_backend.services.fanout import FANOUT_KEY

    ctx = build_migrated(app.encore_settings)  # type: ignore[attr-defined]
    ctx.extras[FANOUT_KEY] = CeleryFanout(app)
    return ctx
