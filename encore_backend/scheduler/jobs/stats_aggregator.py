"""PLACEHOLDER: to be implemented (owner named in the brief)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from encore_backend.scheduler.result import JobResult


def run(ctx: Any, now: datetime, **params: Any) -> JobResult:
    raise NotImplementedError("stats_aggregator is being written")
