"""Real fleet processes for the reliability tests: `encore worker` and `encore beat` children on a
test's own database and private Redis database (support.redis_db), logging to files; and what the
tests read back: the beat holding the lock, gaps in the tick grid.

Only for tests under tests/reliability, whose directory (serve_proc) is on sys.path.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from factories import make_venue
from serve_proc import ENCORE, TICK_MINUTES, serve_env, wait_until
from sqlalchemy import Engine

from encore_backend.fleet.app import TICKS
from encore_backend.fleet.beat import LEADER_KEY
from encore_backend.storage.sql.migrate import upgrade
from support.databases import scratch_database
from support.redis_db import private_redis_db
from support.smtp_server import HoldingHandler, smtp_server

INTERVAL_JOBS = ("stats_aggregator", "alert_detector", "ai_generator", "email_sender")
STOP_SECONDS = 20.0


def fleet_env(
    db_url: str, broker_url: str, workdir: Path, *, smtp_port: int, **extra: str
) -> dict[str, str]:
    """The environment of every fleet process: the celery executor on `broker_url`, 3-second
    ticks for every interval job, email to the test's SMTP server; `extra` overrides."""
    env = {
        "ENCORE_EXECUTOR": "celery",
        "CELERY_BROKER_URL": broker_url,
        "SCHEDULER_AI_INTERVAL_MINUTES": TICK_MINUTES,
        "SCHEDULER_EMAIL_INTERVAL_MINUTES": TICK_MINUTES,
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
    }
    return serve_env(db_url, workdir, {**env, **extra})


class FleetProc:
    """One `encore worker` or `encore beat` child, its output in <workdir>/<name>.log."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, name: str) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [ENCORE, *args],
            env=env,
            cwd=workdir,  # away from the repo's .env
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (Celery's warm shutdown), SIGKILL if it takes longer than STOP_SECONDS."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name}\n" + "\n".join(self.output().splitlines()[-lines:])


class Fleet:
    """The test's workers and beats; `stop_all` ends those still running."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.procs: list[FleetProc] = []

    def worker(self, name: str, *, concurrency: int = 4) -> FleetProc:
        return self._start(["worker", "--concurrency", str(concurrency)], name)

    def beat(self, name: str) -> FleetProc:
        return self._start(["beat"], name)

    def _start(self, args: list[str], name: str) -> FleetProc:
        proc = FleetProc(args, self.env, self.workdir, name)
        self.procs.append(proc)
        return proc

    def wait_ready(self, workers: Iterable[FleetProc], timeout: float = 90) -> None:
        """Wait until each worker has said it is ready (connected, consuming)."""
        pending = list(workers)
        deadline = time.monotonic() + timeout
        while pending:
            for proc in list(pending):
                if not proc.alive():
                    raise AssertionError(f"{proc.name} exited: {proc.tail()}")
                if " ready." in proc.output():
                    pending.remove(proc)
            if time.monotonic() > deadline:
                raise AssertionError("workers not ready:\n" + self.tails(pending))
            time.sleep(0.2)

    def wait_until(self, predicate: Callable[[], Any], timeout: float, message: str) -> Any:
        """serve_proc.wait_until, the processes' last log lines in its failure."""
        try:
            return wait_until(predicate, timeout, message)
        except AssertionError:
            raise AssertionError(f"{message}\n{self.tails()}") from None

    def tails(self, procs: Iterable[FleetProc] | None = None) -> str:
        return "\n".join(proc.tail() for proc in (self.procs if procs is None else procs))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.stop()


@dataclass
class FleetSite:
    """What a fleet test runs on: a migrated MariaDB database, a private Redis database, an
    SMTP server here; `fleet` starts a group of processes there (stopped with the site)."""

    db_url: str
    engine: Engine
    broker_url: str
    smtp: HoldingHandler
    smtp_port: int
    workdir: Path
    fleets: list[Fleet] = field(default_factory=list)

    def fleet(self, **extra: str) -> Fleet:
        """A new group of processes; `extra` environment on top of fleet_env."""
        env = fleet_env(
            self.db_url, self.broker_url, self.workdir, smtp_port=self.smtp_port, **extra
        )
        group = Fleet(env, self.workdir)
        self.fleets.append(group)
        return group


@contextmanager
def fleet_site(workdir: Path, broker_url: str | None = None) -> Iterator[FleetSite]:
    """A FleetSite; its Redis is `broker_url` (a server of the test's own) or a private
    database of the machine's Redis."""
    handler = HoldingHandler()
    with ExitStack() as stack:
        broker = broker_url or stack.enter_context(private_redis_db())
        port = stack.enter_context(smtp_server(handler))
        db_url, engine = stack.enter_context(contextmanager(scratch_database)("mariadb", workdir))
        upgrade(engine)
        site = FleetSite(db_url, engine, broker, handler, port, workdir)
        try:
            yield site
        finally:
            for group in site.fleets:
                group.stop_all()


def items_venue(engine: Engine) -> None:
    """Venue v1 of support.worker_rows' queue items, mailing no report: the hourly report
    ticks (at :05) then add no email to the queue the test counts."""
    no_mail = {"daily_report_enabled": False, "weekly_report_enabled": False}
    make_venue(engine, "v1", now=datetime.now(UTC), settings=no_mail)


def leader_pid(broker_url: str) -> int | None:
    """The pid of the beat holding the RedBeat lock (its "beat@host:pid" in LEADER_KEY)."""
    client = redis.Redis.from_url(broker_url)
    try:
        raw = client.get(LEADER_KEY)
    finally:
        client.close()
    return int(json.loads(raw)["holder"].rsplit(":", 1)[1]) if raw else None


def send_task(broker_url: str, name: str, **kwargs: Any) -> None:
    """Enqueue one fleet task by name, from a Celery app of the test's own."""
    app = Celery("fleet-test", broker=broker_url)
    try:
        app.send_task(name, kwargs=kwargs, queue=TICKS)
    finally:
        app.close()


def grid_gaps(fire_times: list[datetime], step: timedelta) -> list[datetime]:
    """The grid times between the first and the last fire time that have no run."""
    have, gaps = set(fire_times), []
    if not fire_times:
        return gaps
    current = min(fire_times) + step
    while current < max(fire_times):
        if current not in have:
            gaps.append(current)
        current += step
    return gaps
