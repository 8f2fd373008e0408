"""Two real `encore serve` processes on one MariaDB or PostgreSQL: one leader fires the ticks.

kill -9 the leader → the standby fires the next ticks within 15 s; pause and resume pressed 100
times on both processes while ticks fire → the last press holds; manual runs from both processes
racing the scheduled ticks → no two runs of a job ever overlap. 3-second ticks.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from serve_proc import ADMIN, TICK_SECONDS, Serve, schedule_runs, wait_until
from sqlalchemy import Engine, select
from support.databases import scratch_database

from encore_backend.storage.sql.models import job_runs

pytestmark = pytest.mark.slow
JOB = "stats_aggregator"
TICK = timedelta(seconds=TICK_SECONDS)
FAILOVER_LIMIT = timedelta(seconds=15)


@pytest.fixture(params=["mariadb", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield from scratch_database(request.param, tmp_path)


@pytest.fixture
def pair(database: tuple[str, Engine], tmp_path: Path) -> Iterator[tuple[Serve, Serve]]:
    """A leader (started first) and a standby, both healthy."""
    url, _ = database
    leader = Serve(url, tmp_path, "leader")
    try:
        assert leader.wait_healthy()["role"] == "leader"
        standby = Serve(url, tmp_path, "standby")
        try:
            assert standby.wait_healthy()["role"] == "standby"
            yield leader, standby
        finally:
            standby.stop()
    finally:
        leader.stop()


def owned_by(server: Serve, run: dict[str, Any]) -> bool:
    return str(run["owner"]).endswith(f":{server.proc.pid}")


def test_kill_9_of_the_leader_hands_the_ticks_to_the_standby_within_15_s(
    database: tuple[str, Engine], pair: tuple[Serve, Serve]
) -> None:
    _, engine = database
    leader, standby = pair
    wait_until(lambda: any(owned_by(leader, r) for r in schedule_runs(engine, JOB)), 15, "no tick")
    assert not any(owned_by(standby, r) for r in schedule_runs(engine, JOB))  # it stood by
    leader.kill9()
    killed_at = datetime.now(UTC)

    def standby_ran() -> list[dict[str, Any]]:
        runs = schedule_runs(engine, JOB)
        return [r for r in runs if owned_by(standby, r) and r["status"] == "success"]

    first = wait_until(standby_ran, 30, "the standby never fired a tick")[0]
    assert first["started_at"] - killed_at <= FAILOVER_LIMIT, (killed_at, first)
    assert standby.http.get("/health/scheduler").json()["role"] == "leader"
    fires = Counter(r["fire_time"] for r in schedule_runs(engine, JOB) if r["status"] != "missed")
    assert max(fires.values()) == 1  # no tick ran twice across the failover


def test_pause_pressed_100_times_on_both_processes_while_ticks_fire_holds(
    database: tuple[str, Engine], pair: tuple[Serve, Serve]
) -> None:
    _, engine = database
    servers = pair
    wait_until(lambda: schedule_runs(engine, JOB), 15, "no tick")
    for press in range(100):  # resume, pause, … ending on a pause; spread over ~2 ticks
        action = "pause" if press % 2 else "resume"
        response = servers[press % 2].http.post(f"/api/admin/jobs/{JOB}/{action}", headers=ADMIN)
        assert response.status_code == 200, response.text
        time.sleep(0.05)
    paused_at = datetime.now(UTC)
    time.sleep(3 * TICK_SECONDS)
    late = [r for r in schedule_runs(engine, JOB) if r["started_at"] > paused_at]
    assert late == []
    for server in servers:
        listed = {
            j["id"]: j for j in server.http.get("/api/admin/jobs", headers=ADMIN).json()["jobs"]
        }
        assert listed[JOB]["paused"] is True and listed[JOB]["next_run_time"] is None
    resumed = servers[1].http.post(f"/api/admin/jobs/{JOB}/resume", headers=ADMIN)
    assert resumed.status_code == 200
    wait_until(
        lambda: [r for r in schedule_runs(engine, JOB) if r["started_at"] > paused_at],
        15,
        "ticks did not come back after resume",
    )


def test_manual_runs_from_both_processes_never_overlap_the_scheduled_ticks(
    database: tuple[str, Engine], pair: tuple[Serve, Serve]
) -> None:
    _, engine = database
    outcomes: Counter[int] = Counter()
    deadline = time.monotonic() + 4 * TICK_SECONDS

    def press(server: Serve) -> None:
        while time.monotonic() < deadline:
            response = server.http.post(f"/api/admin/jobs/{JOB}/run", headers=ADMIN)
            outcomes[response.status_code] += 1

    threads = [threading.Thread(target=press, args=(server,)) for server in pair for _ in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(outcomes) <= {200, 409} and outcomes[200] > 0, outcomes
    runs = exclusive_runs(engine)
    assert any(r["trigger"] == "schedule" for r in runs)
    for a, b in itertools.pairwise(runs):
        assert a["finished_at"] <= b["started_at"], (a, b)  # one at a time, never overlapping


def exclusive_runs(engine: Engine) -> list[dict[str, Any]]:
    """Every schedule and manual run of JOB that ran, by start time."""
    query = (
        select(job_runs)
        .where(
            job_runs.c.job_id == JOB,
            job_runs.c.trigger.in_(("schedule", "manual")),
            job_runs.c.status.in_(("success", "failed")),
        )
        .order_by(job_runs.c.started_at, job_runs.c.run_id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
