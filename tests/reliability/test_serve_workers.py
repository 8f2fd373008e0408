"""`encore serve --workers 2` on MariaDB as real processes: both serve, each feedback is stored
once and alerted once, and the scheduler leader alone fires the ticks (3-second ticks)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from factories import make_venue
from serve_proc import ADMIN, TICK_SECONDS, Serve, schedule_runs, wait_until
from sqlalchemy import Engine, select
from support.databases import scratch_database

from encore_backend.storage.sql.migrate import upgrade
from encore_backend.storage.sql.models import alerts, feedback, job_runs

pytestmark = pytest.mark.slow
SICK = "I got food poisoning after the oysters."


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield from scratch_database("mariadb", tmp_path)


def post_from_threads(url: str, seconds: float, threads: int = 4) -> tuple[list[int], list[int]]:
    """Alarming and benign posts, a new connection each (so the kernel spreads them over the
    worker processes), from `threads` threads for `seconds`."""
    alarming: list[int] = []
    benign: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def post(k: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            alarm = i % 2 == 0
            body = {
                "venue_id": "v1",
                "rating": 3 if alarm else 5,
                "comment": SICK if alarm else "Lovely evening.",
                "customer": {"email": f"guest{k}-{i}@example.com"},
            }
            headers = {**ADMIN, "Connection": "close"}
            response = httpx.post(f"{url}/api/feedback", json=body, headers=headers, timeout=30)
            assert response.status_code == 201, response.text
            with lock:
                (alarming if alarm else benign).append(response.json()["feedback_id"])
            i += 1
            time.sleep(0.05)

    workers = [threading.Thread(target=post, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return alarming, benign


def column(engine: Engine, query: object) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())  # type: ignore[call-overload]


def child_pids(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def test_two_worker_processes_store_and_alert_each_feedback_once(
    mariadb: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = mariadb
    upgrade(engine)
    make_venue(engine, "v1", now=datetime.now(UTC))
    server = Serve(url, tmp_path, "workers", args=("--workers", "2"))
    try:
        server.wait_healthy()
        workers = wait_until(
            lambda: len(child_pids(server.proc.pid)) >= 2 and child_pids(server.proc.pid),
            30,
            "two worker processes",
        )
        started = datetime.now(UTC)
        alarming, benign = post_from_threads(server.url, seconds=4 * TICK_SECONDS)
        expected = dict.fromkeys(alarming, 1)
        counted = lambda: Counter(column(engine, select(alerts.c.feedback_id)))  # noqa: E731
        wait_until(lambda: counted() == expected, 20, "alerts missing")
    finally:
        graceful = server.stop()

    stored = column(engine, select(feedback.c.feedback_id))
    assert sorted(stored) == sorted(alarming + benign)  # each post stored once
    assert counted() == expected  # each alarming feedback alerted once, the benign ones never
    owners = column(
        engine,
        select(job_runs.c.owner).where(
            job_runs.c.job_id == "alert_detector", job_runs.c.trigger == "event"
        ),
    )
    pids = {int(str(owner).rsplit(":", 1)[1]) for owner in owners}
    assert pids <= workers and len(pids) == 2  # both processes served and ran their detector
    ticks = [r for r in schedule_runs(engine, "alert_detector") if r["fire_time"] > started]
    assert ticks and max(Counter(r["fire_time"] for r in ticks).values()) == 1
    assert len({r["owner"] for r in ticks}) == 1  # the leader fires; the other process stands by
    assert graceful, server.tail()
