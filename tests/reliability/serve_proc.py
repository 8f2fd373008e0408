"""Real `encore serve` processes for the reliability tests: start, wait healthy, kill -9, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from encore_backend.storage.sql.models import job_runs, scheduler_jobs

ADMIN_TOKEN = "reliability-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TICK_MINUTES = "0.05"  # 3-second ticks
TICK_SECONDS = 3.0
ENCORE = str(Path(sys.executable).with_name("encore"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(db_url: str, workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "ENCORE_"))}
    env.update(
        ENCORE_DATABASE_URL=db_url,
        ENCORE_ADMIN_TOKEN=ADMIN_TOKEN,
        ENCORE_OUTBOX_DIR=str(workdir / "outbox"),
        SCHEDULER_STATS_INTERVAL_MINUTES=TICK_MINUTES,
        SCHEDULER_ALERT_INTERVAL_MINUTES=TICK_MINUTES,
    )
    env.update(extra or {})
    return env


class Serve:
    """One `encore serve` child process on a free port, logging to a file."""

    def __init__(
        self,
        db_url: str,
        workdir: Path,
        name: str,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [ENCORE, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            env=serve_env(db_url, workdir, env),
            cwd=workdir,  # away from the repo's .env
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def wait_healthy(self, timeout: float = 45) -> dict[str, Any]:
        """Wait for the scheduler health endpoint; returns its body (with started_at)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.tail()}")
            try:
                response = self.http.get("/health/scheduler")
                if response.status_code == 200:
                    return response.json()  # type: ignore[no-any-return]
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve not healthy in {timeout}s: {self.tail()}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self) -> bool:
        """SIGTERM; True when it shut down gracefully (lifespan ran, scheduler stopped)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close()
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown.
        graceful_exit = self.proc.returncode in (0, -signal.SIGTERM)
        return graceful_exit and "scheduler stopped" in self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _close(self) -> None:
        self.http.close()
        if not self._log.closed:
            self._log.close()


def schedule_runs(engine: Engine, job_id: str) -> list[dict[str, Any]]:
    """The job's schedule runs, by fire time."""
    query = (
        select(job_runs)
        .where(job_runs.c.job_id == job_id, job_runs.c.trigger == "schedule")
        .order_by(job_runs.c.fire_time)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def stored_job_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(scheduler_jobs.c.id)).scalars())


def wait_until(predicate: Any, timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(message)
