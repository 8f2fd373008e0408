"""Real worker processes on one fresh MariaDB database, sending through a real SMTP server here.

Two workers race over 2,000 due items: every item is received exactly once (counted per
Message-ID). Then one worker is killed with SIGKILL while its message is inside the SMTP DATA
exchange, and restarted: nothing is received twice, everything else is sent, and exactly the
killed worker's in-flight item ends `failed` "outcome unknown".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories import make_venue
from sqlalchemy import Engine, select
from support.databases import SERVER_URLS, create_database, drop_database, require_service
from support.smtp_server import HoldingHandler, smtp_server
from support.worker_rows import all_sending_by_pid, insert_due_items, statuses

from encore_backend.config import Settings
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade

pytestmark = pytest.mark.slow
WORKER = str(Path(__file__).with_name("email_worker_proc.py"))
LEASE_SECONDS = 5.0
Q = m.email_queue.c


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    host, port, _ = SERVER_URLS["mariadb"]
    require_service("mariadb", host, port)
    url = create_database("mariadb", tmp_path)
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database("mariadb", url)


class Workers:
    """email_worker_proc.py children sharing one stop file."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.stop_file = workdir / "stop"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, WORKER, str(self.stop_file), str(LEASE_SECONDS)],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        self.stop_file.touch()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.stop_file.unlink(missing_ok=True)
        self.procs.clear()


@pytest.fixture
def smtp() -> Iterator[tuple[HoldingHandler, int]]:
    handler = HoldingHandler()
    with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture
def workers(
    mariadb: tuple[str, Engine], smtp: tuple[HoldingHandler, int], tmp_path: Path
) -> Iterator[Workers]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        ENCORE_DATABASE_URL=mariadb[0],
        ENCORE_ADMIN_TOKEN="reliability-admin-token",
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp[1]),
        MAX_EMAILS_PER_MINUTE="5000",  # limits lifted (one slot row per permit per minute)
    )
    group = Workers(env, tmp_path)
    yield group
    group.stop_all()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def settled(engine: Engine) -> bool:
    counts = statuses(engine)
    return not counts.get("pending") and not counts.get("sending")


def test_two_workers_send_2000_items_exactly_once_and_survive_a_kill(
    mariadb: tuple[str, Engine], smtp: tuple[HoldingHandler, int], workers: Workers
) -> None:
    _, engine = mariadb
    handler, _ = smtp
    make_venue(engine, "v1", now=datetime.now(UTC))

    # Race: 2,000 due items, two processes.
    batch = insert_due_items(engine, 1, 2000)
    started = time.monotonic()
    workers.start("a")
    workers.start("b")
    wait_until(lambda: settled(engine), 120, "2,000 items to be sent")
    elapsed = time.monotonic() - started
    assert statuses(engine) == {"sent": 2000}
    received = handler.received()
    assert set(received) == set(batch) and set(received.values()) == {1}
    workers.stop_all()
    print(f"2,000 items by two workers in {elapsed:.1f}s ({2000 / elapsed:.0f}/s)")

    # Kill -9 one worker while both are stuck inside DATA, then restart it.
    second = insert_due_items(engine, 10_001, 400)
    victim, survivor = workers.start("victim"), workers.start("survivor")
    wait_until(lambda: len(handler.received()) >= 2000 + 100, 60, "the second batch to start")
    handler.hold.set()
    senders = 2 * Settings.model_fields["email_send_concurrency"].default  # both workers' senders
    wait_until(lambda: handler.waiting >= senders, 30, "every sender of both to be mid-send")
    in_flight = all_sending_by_pid(engine)  # each process runs EMAIL_SEND_CONCURRENCY senders
    assert sorted(in_flight) == sorted([victim.pid, survivor.pid])
    victim.kill()  # SIGKILL: no cleanup, the claims stay `sending`
    victim.wait()
    killed_items = in_flight[victim.pid]  # each one mid-DATA at the server
    handler.hold.clear()
    workers.start("victim-restarted")
    wait_until(lambda: settled(engine), 90, "the second batch to settle")

    dead = len(killed_items)
    assert statuses(engine) == {"sent": 2000 + 400 - dead, "failed": dead}
    with engine.connect() as conn:
        failed = conn.execute(select(Q.queue_id, Q.error).where(Q.status == "failed")).all()
    assert sorted(tuple(row) for row in failed) == sorted(
        (item, "outcome unknown") for item in killed_items
    )
    received = handler.received()
    assert set(received.values()) == {1}  # nobody got anything twice
    assert set(received) == set(batch) | set(second)  # the killed one had reached the server
