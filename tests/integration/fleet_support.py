"""Fixtures of the Celery fleet's integration tests (not a test module): the test's container in
the celery profile on a Redis database of its own, an in-process worker, the queued messages.

The Celery app is one per process (tasks register on it at import), so a test points it at its
Redis with fleet.app.configure and hands it its container and clock; monkeypatch takes them
back afterwards.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from support.redis_db import private_redis_db

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.fleet import tasks  # noqa: F401  (registers the tasks on the app)
from encore_backend.fleet.app import app, configure
from encore_backend.fleet.beat import CLOCK_ATTR
from encore_backend.fleet.worker_context import CTX_ATTR

WORKER_THREADS = 2


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database held by this test alone (emptied before and after)."""
    with private_redis_db() as url:
        yield url


@pytest.fixture
def fleet_ctx(
    ctx: Container, clock: ManualClock, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Container:
    """`ctx` in the celery profile on this test's Redis; the app's workers and beat use it and
    its clock."""
    ctx.settings = ctx.settings.model_copy(
        update={"encore_executor": "celery", "celery_broker_url": redis_url}
    )
    configure(ctx.settings)
    monkeypatch.setattr(app, CTX_ATTR, ctx, raising=False)
    monkeypatch.setattr(app, CLOCK_ATTR, clock, raising=False)
    return ctx


@pytest.fixture
def worker(fleet_ctx: Container) -> Iterator[WorkController]:
    """A real Celery worker in this process (threads), consuming both queues of the test's
    Redis; it answers pings as `worker.hostname`."""
    with start_worker(
        app, pool="threads", concurrency=WORKER_THREADS, perform_ping_check=False
    ) as running:
        yield running


def queued(url: str, queue: str) -> list[dict[str, Any]]:
    """The messages waiting in `queue`, oldest first: task name, args, kwargs (kombu's Redis
    transport keeps each as JSON with a base64 body of [args, kwargs, embed])."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    messages = []
    for item in reversed(raw):  # LPUSH'd: the newest is first
        envelope = json.loads(item)
        args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        messages.append({"task": envelope["headers"]["task"], "args": args, "kwargs": kwargs})
    return messages
