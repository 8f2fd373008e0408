"""Real fleet processes for a benchmark: `encore worker`s and one `encore beat` with the bench's
settings on a Redis database of their own; their output goes to var/bench/fleet/<name>.log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.stats_db import BENCH_DIR
from encore_backend.config import Settings
from encore_backend.fleet.app import configure
from encore_backend.fleet.status import FleetStatus

ENCORE = Path(sys.executable).parent / "encore"
LOGS = BENCH_DIR / "fleet"
START_SECONDS = 60.0
STOP_SECONDS = 30.0


def fleet_settings(settings: Settings, broker: str) -> Settings:
    return settings.model_copy(
        update={"encore_executor": "celery", "celery_broker_url": broker, "scheduler_enabled": True}
    )


def environment(settings: Settings) -> dict[str, str]:
    """The environment under which a process loads exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            env.pop(name.upper(), None)
        else:
            env[name.upper()] = str(value)
    return env


@contextmanager
def process(name: str, args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`encore <args>` for the block, then SIGTERM (a graceful stop), SIGKILL if it lingers."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "wb") as log:
        proc = subprocess.Popen([str(ENCORE), *args], env=env, stdout=log, stderr=log)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def running_fleet(settings: Settings, *, workers: int, concurrency: int) -> Iterator[list[int]]:
    """`workers` workers answering, then one beat; yields the workers' pids. Every process is
    stopped after the block."""
    env = environment(settings)
    status = FleetStatus(configure(settings))
    with ExitStack() as stack:
        procs = [
            stack.enter_context(
                process(f"worker{k}", ["worker", f"--concurrency={concurrency}"], env)
            )
            for k in range(1, workers + 1)
        ]
        deadline = time.monotonic() + START_SECONDS
        while len(status.workers()) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{workers} workers did not start: see {LOGS}/worker*.log")
        stack.enter_context(process("beat", ["beat"], env))
        yield [proc.pid for proc in procs]
