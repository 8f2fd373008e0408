"""Small test jobs and a registry override for the scheduler's integration tests."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from encore_backend.bootstrap import Container
from encore_backend.scheduler.registry import REGISTRY_OVERRIDE_KEY, Every, JobSpec
from encore_backend.scheduler.result import JobResult


class Recorder:
    """Test jobs whose calls can be counted, failed or held open."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.by_fire_time: Counter[datetime] = Counter()
        self.release = threading.Event()
        self.entered = threading.Event()
        self.lock = threading.Lock()

    def ok(self, ctx: Container, now: datetime, **params: Any) -> JobResult:
        with self.lock:
            self.calls.append({"now": now, "params": params})
        return JobResult(items_processed=3, details={"seen": now, "params": params})

    def boom(self, ctx: Container, now: datetime, **params: Any) -> JobResult:
        raise RuntimeError("database on fire")

    def hold(self, ctx: Container, now: datetime, **params: Any) -> JobResult:
        """Runs until `release` is set (overlap tests)."""
        self.entered.set()
        self.release.wait(10)
        return JobResult(items_processed=1)


def use_jobs(ctx: Container, *specs: JobSpec) -> None:
    ctx.extras[REGISTRY_OVERRIDE_KEY] = list(specs)


def spec(job_id: str, func: Any, *, minutes: float = 1.0, **kwargs: Any) -> JobSpec:
    return JobSpec(job_id, func=func, schedule=Every(minutes=minutes), **kwargs)


LONG_LEASE = timedelta(minutes=5)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it gives a truthy value (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
