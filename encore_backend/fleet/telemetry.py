"""Worker-side counters: every finished, failed or retried task is counted in Redis."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.signals import task_failure, task_retry, task_success

from encore_backend.fleet.app import app
from encore_backend.fleet.status import FleetStatus

log = logging.getLogger("encore.fleet.telemetry")
_status: dict[str, FleetStatus] = {}  # by broker URL: counts go to the Redis the app uses now


def _count(sender: Any, state: str) -> None:
    name = getattr(sender, "name", None) or str(sender)
    try:
        url = app.conf.broker_url
        if url not in _status:
            _status[url] = FleetStatus(app)
        _status[url].count_task(name, state)
    except Exception:  # counting must never fail a task
        log.warning("could not count %s %s", name, state, exc_info=True)


def _counter(state: str) -> Callable[..., None]:
    def receive(sender: Any = None, **_: Any) -> None:
        _count(sender, state)

    return receive


def install() -> None:
    """Connect the counters; a second call connects nothing more (each task counts once)."""
    signals = ((task_success, "succeeded"), (task_failure, "failed"), (task_retry, "retried"))
    for signal, state in signals:
        signal.connect(_counter(state), weak=False, dispatch_uid=f"encore.fleet.count.{state}")
