"""A Redis database number held by one test at a time (the fleet's queue names and keys are
fixed, and other test sessions run at the same time on the same Redis server)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

import redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DB_NUMBERS = range(1, 16)  # 0 is left to people's own use
LOCK_PATH = "/tmp/encore-redis-db-{n}.lock"


@contextmanager
def private_redis_db() -> Iterator[str]:
    """Yield redis://…/<n> for a database no other test holds; emptied before and after."""
    for n in DB_NUMBERS:
        handle = os.open(LOCK_PATH.format(n=n), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{n}"
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
            yield url
        finally:
            try:
                client.flushdb()
            finally:
                client.close()
                fcntl.flock(handle, fcntl.LOCK_UN)
                os.close(handle)
        return
    raise RuntimeError("all Redis databases 1-15 are held by other tests")
