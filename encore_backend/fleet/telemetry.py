"""Worker-side counters: every finished, failed or retried task is counted in Redis."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_failure, task_retry, task_success

from encore_backend.fleet.app import app
from encore_backend.fleet.status import FleetStatus

log = logging.getLogger("encore.fleet.telemetry")
_status: list[FleetStatus] = []


def _count(sender: Any, state: str) -> None:
    name = getattr(sender, "name", None) or str(sender)
    try:
        if not _status:
            _status.append(FleetStatus(app))
        _status[0].count_task(name, state)
    except Exception:  # counting must never fail a task
        log.warning("could not count %s %s", name, state, exc_info=True)


def install() -> None:
    """Connect the counters (once per worker process)."""
    task_success.connect(lambda sender=None, **_: _count(sender, "succeeded"), weak=False)
    task_failure.connect(lambda sender=None, **_: _count(sender, "failed"), weak=False)
    task_retry.connect(lambda sender=None, **_: _count(sender, "retried"), weak=False)
