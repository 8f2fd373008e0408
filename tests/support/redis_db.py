"""A Redis database number held by one test at a time (the fleet's queue names and keys are
fixed, and other test sessions run at the same time on the same Redis server); and a whole
redis-server of a test's own, for a test that restarts Redis."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from support.smtp_server import free_port

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


class RedisServer:
    """A redis-server of one test's own on a free port, started as scripts/ensure-services.sh
    starts the machine's (no persistence: a restart loses every key, like a crash), so a test
    can stop and restart Redis without touching anyone else's keys or connections."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://{REDIS_HOST}:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.workdir / "redis-server.log"
        options = {
            "--bind": REDIS_HOST,
            "--port": str(self.port),
            "--save": "",
            "--appendonly": "no",
            "--dir": str(self.workdir),
            "--logfile": str(log),
        }
        self.proc = subprocess.Popen(["redis-server", *(x for kv in options.items() for x in kv)])
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} did not start: {log.read_text()}")
            time.sleep(0.05)

    def kill9(self) -> None:
        """Gone at once, its keys with it (the clients' connections break)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((REDIS_HOST, self.port), timeout=0.5):
                return True
        except OSError:
            return False


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    """A private redis-server for the block (killed at the end, whatever happened)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/ensure-services.sh needs it too)")
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill9()
