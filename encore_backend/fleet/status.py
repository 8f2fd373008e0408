"""What the fleet looks like from Redis: the beat holding the lock, live workers, queue depths,
and task counters the workers keep there (so one scrape of the API covers every worker)."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from encore_backend.fleet.app import KEY_PREFIX, QUEUES
from encore_backend.fleet.beat import LEADER_KEY

log = logging.getLogger("encore.fleet.status")
TASK_COUNTS_KEY = f"{KEY_PREFIX}fleet:tasks"  # hash "task|state" -> count
PING_TIMEOUT_SECONDS = 1.0
TASK_STATES = ("succeeded", "failed", "retried")
# What a read raises when the broker's Redis does not answer (redis-py, or kombu for pings).
REDIS_ERRORS = (redis.RedisError, OperationalError, OSError)


class FleetStatus:
    """Reads (and, in workers, counts) the fleet's state in the broker's Redis."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.redis = redis.Redis.from_url(app.conf.broker_url, socket_timeout=5)

    def close(self) -> None:
        """Release this reader's Redis connections."""
        self.redis.close()

    def leader(self) -> dict[str, Any] | None:
        raw = self.redis.get(LEADER_KEY)
        return json.loads(raw) if raw else None

    def workers(self) -> list[str]:
        """Names of the workers that answer a ping within a second (Celery's control)."""
        replies = self.app.control.ping(timeout=PING_TIMEOUT_SECONDS) or []
        return sorted(name for reply in replies for name in reply)

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting in each queue (not those a worker holds)."""
        with self.redis.pipeline() as pipe:
            for name in QUEUES:
                pipe.llen(name)
            return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))

    def count_task(self, task: str, state: str) -> None:
        self.redis.hincrby(TASK_COUNTS_KEY, f"{task}|{state}", 1)

    def task_counts(self) -> dict[tuple[str, str], int]:
        counts = self.redis.hgetall(TASK_COUNTS_KEY)
        result: dict[tuple[str, str], int] = {}
        for field, value in counts.items():
            text = field.decode() if isinstance(field, bytes) else str(field)
            task, _, state = text.partition("|")
            result[(task, state)] = int(value)
        return result
