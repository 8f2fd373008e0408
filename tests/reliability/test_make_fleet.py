"""`make fleet` (scripts/fleet.sh) on a MariaDB database and a private Redis database: the API
reports a beat holding the lock and two workers; SIGINT to the script stops every process it
started (found by a marker in their environment)."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_proc import free_port, wait_until
from sqlalchemy import Engine
from support.databases import scratch_database
from support.redis_db import private_redis_db

# Alone (scripts/test.sh's last phase): five processes and their orderly stop.
pytestmark = [pytest.mark.slow, pytest.mark.exclusive]


def default_sigint() -> None:
    """Ctrl-C as in a terminal: a test run started in the background (CI's may be) ignores
    SIGINT, and bash cannot trap a signal ignored when it starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


ROOT = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops them all."
MARKER = "ENCORE_FLEET_TEST"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield from scratch_database("mariadb", tmp_path)


def started_by(tag: str) -> list[int]:
    """Live processes whose environment carries MARKER=tag: the script and all it started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{MARKER}={tag}".encode() in environ:
            pids.append(int(entry.name))
    return pids


def test_make_fleet_runs_api_beats_and_two_workers_and_sigint_stops_them_all(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, _ = database
    tag, port, log_path = uuid.uuid4().hex, free_port(), tmp_path / "fleet.log"
    with private_redis_db() as broker, open(log_path, "wb") as log:
        env = {
            **os.environ,
            "ENCORE_DATABASE_URL": url,
            "CELERY_BROKER_URL": broker,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "ENCORE_ADMIN_TOKEN": "fleet-test-admin",
            MARKER: tag,
        }
        script = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "fleet.sh")],
            env=env,
            stdout=log,
            stderr=log,
            preexec_fn=default_sigint,
        )
        try:
            wait_until(
                lambda: READY in log_path.read_text() or script.poll() is not None,
                180,
                "the fleet did not come up",
            )
            assert script.poll() is None, log_path.read_text()[-3000:]
            health = httpx.get(f"http://127.0.0.1:{port}/health/scheduler", timeout=10).json()
            assert health["status"] == "ok", health
            assert health["leader"]["holder"].startswith("beat@")
            assert len(health["workers"]) == 2, health
            assert len(started_by(tag)) >= 6  # the script, the API, two beats, two workers

            script.send_signal(signal.SIGINT)
            assert script.wait(120) == 130
            wait_until(lambda: not started_by(tag), 10, f"left running: {started_by(tag)}")
            assert "fleet: stopped" in log_path.read_text()
        finally:
            for pid in started_by(tag):
                os.kill(pid, signal.SIGKILL)
