"""Real `encore serve` processes: kill -9 and restart, and two processes on one database.

3-second ticks (SCHEDULER_*_INTERVAL_MINUTES=0.05). Each test makes its own database.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import make_venue
from serve_proc import ADMIN, TICK_SECONDS, Serve, schedule_runs, stored_job_ids, wait_until
from sqlalchemy import Engine, func, select
from support.databases import scratch_database

from encore_backend.scheduler.registry import REGISTRY
from encore_backend.storage.sql.migrate import upgrade
from encore_backend.storage.sql.models import alerts, computed_stats, job_runs

pytestmark = pytest.mark.slow
JOBS = ("stats_aggregator", "alert_detector")
TICK = timedelta(seconds=TICK_SECONDS)


@pytest.fixture
def servers() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield from scratch_database(request.param, tmp_path)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def start(servers: list[Serve], url: str, tmp_path: Path, name: str) -> tuple[Serve, datetime]:
    server = Serve(url, tmp_path, name)
    servers.append(server)
    return server, parse(server.wait_healthy()["started_at"])


def finished_after(engine: Engine, job_id: str, after: datetime) -> bool:
    runs = schedule_runs(engine, job_id)
    return any(r["fire_time"] > after and r["status"] != "running" for r in runs)


def test_kill_9_restart_keeps_jobs_and_pause_and_gives_one_catch_up(
    database: tuple[str, Engine], tmp_path: Path, servers: list[Serve]
) -> None:
    url, engine = database
    first, first_start = start(servers, url, tmp_path, "first")
    wait_until(lambda: all(finished_after(engine, j, first_start) for j in JOBS), 20, "no ticks")
    first.kill9()
    assert stored_job_ids(engine) == {s.id for s in REGISTRY}  # the schedule survived the crash
    last_before = {j: schedule_runs(engine, j)[-1]["fire_time"] for j in JOBS}
    time.sleep(5 * TICK_SECONDS)  # down for five ticks

    second, restarted_at = start(servers, url, tmp_path, "second")
    wait_until(lambda: all(finished_after(engine, j, restarted_at) for j in JOBS), 20, "no ticks")
    for job_id in JOBS:
        runs = [r for r in schedule_runs(engine, job_id) if r["fire_time"] > last_before[job_id]]
        # ONE run for all the missed ticks: the first run after the crash is at least four
        # ticks on, and every later one the next tick. (When the restart lands just before a
        # grid tick, that tick arrives before the takeover and is itself the catch-up.)
        catch_up = runs[0]
        assert catch_up["fire_time"] - last_before[job_id] >= 4 * TICK, (job_id, runs)
        assert catch_up["fire_time"] <= restarted_at + 3 * TICK, (job_id, catch_up)  # prompt
        assert catch_up["status"] == "success", catch_up
        assert catch_up["owner"].endswith(f":{second.proc.pid}")
        fires = [r["fire_time"] for r in runs]
        assert all(b - a == TICK for a, b in itertools.pairwise(fires)), fires

    paused = second.http.post("/api/admin/jobs/stats_aggregator/pause", headers=ADMIN)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    paused_at = datetime.now(UTC)
    second.kill9()
    third, third_start = start(servers, url, tmp_path, "third")
    listed = {j["id"]: j for j in third.http.get("/api/admin/jobs", headers=ADMIN).json()["jobs"]}
    assert listed["stats_aggregator"]["paused"] is True
    assert listed["stats_aggregator"]["next_run_time"] is None
    assert listed["alert_detector"]["paused"] is False
    wait_until(lambda: finished_after(engine, "alert_detector", third_start + TICK), 20, "no ticks")
    stats = schedule_runs(engine, "stats_aggregator")
    assert [r for r in stats if r["started_at"] > paused_at] == []  # pause survived kill -9
    assert not [r for r in stats if r["status"] == "running"]  # none left holding a lease

    resumed = third.http.post("/api/admin/jobs/stats_aggregator/resume", headers=ADMIN)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    wait_until(lambda: finished_after(engine, "stats_aggregator", third_start), 20, "no resume")
    assert third.stop()


ALARMING = ("Found a roach under the table.", "I got food poisoning after the oysters.")
BENIGN = "Lovely evening, great staff."


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield from scratch_database("mariadb", tmp_path)


def test_two_processes_on_one_mariadb_tick_once_from_the_leader_and_alert_once(
    mariadb: tuple[str, Engine], tmp_path: Path, servers: list[Serve]
) -> None:
    url, engine = mariadb
    upgrade(engine)
    venues = [make_venue(engine, v, now=datetime.now(UTC)) for v in ("v-north", "v-south")]
    (a, a_start), (b, b_start) = (start(servers, url, tmp_path, n) for n in ("a", "b"))
    window_start = max(a_start, b_start)
    alarming, benign = post_feedback_for(60, (a, b), venues)
    window_end = datetime.now(UTC)
    expected = dict.fromkeys(alarming, 1)
    wait_until(lambda: alert_counts(engine, alarming) == expected, 15, "alerts missing")
    assert a.stop() and b.stop()

    owners: set[str] = set()
    for job_id in JOBS:
        owners |= assert_each_tick_ran_once(engine, job_id, window_start, window_end)
    assert len(owners) == 1  # the scheduler leader fires every tick; the other stands by
    assert_stats_job_ran_once_per_claimed_tick(engine, len(venues), window_start)
    assert alert_counts(engine, alarming) == expected
    assert alert_counts(engine, benign) == {}
    assert max(Counter(alert_feedback_ids(engine)).values()) == 1


def post_feedback_for(
    seconds: float, servers: tuple[Serve, Serve], venues: list[str]
) -> tuple[list[int], list[int]]:
    """Alarming and benign feedback, alternately to each server, for `seconds`."""
    alarming: list[int] = []
    benign: list[int] = []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        alarm = i % 3 != 2
        body = {
            "venue_id": venues[i % len(venues)],
            "rating": 3 if alarm else 5,
            "comment": ALARMING[i % 2] if alarm else BENIGN,
            "customer": {"email": f"guest{i}@example.com"},
        }
        response = servers[i % 2].http.post("/api/feedback", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        (alarming if alarm else benign).append(response.json()["feedback_id"])
        i += 1
        time.sleep(1.0)
    return alarming, benign


def assert_each_tick_ran_once(
    engine: Engine, job_id: str, start: datetime, end: datetime
) -> set[str]:
    """Every grid tick inside the window has exactly one successful run; returns the owners."""
    runs = [r for r in schedule_runs(engine, job_id) if start + TICK < r["fire_time"] < end - TICK]
    per_tick = Counter(r["fire_time"] for r in runs)
    assert max(per_tick.values()) == 1
    fires = sorted(per_tick)
    assert all(b - a == TICK for a, b in itertools.pairwise(fires)), fires
    assert len(fires) >= (end - start) / TICK - 4
    assert Counter(r["status"] for r in runs) == {"success": len(runs)}, runs
    return {r["owner"] for r in runs}


def assert_stats_job_ran_once_per_claimed_tick(
    engine: Engine, venue_count: int, start: datetime
) -> None:
    """Losers never ran the job: one snapshot per venue per successful run, no more."""
    with engine.connect() as conn:
        runs = (
            conn.execute(
                select(job_runs.c.started_at).where(
                    job_runs.c.job_id == "stats_aggregator",
                    job_runs.c.status == "success",
                    job_runs.c.started_at >= start,
                )
            )
            .scalars()
            .all()
        )
        snapshots = Counter(
            conn.execute(
                select(computed_stats.c.computed_at).where(computed_stats.c.computed_at >= start)
            ).scalars()
        )
    assert runs and snapshots == dict.fromkeys(runs, venue_count)


def alert_feedback_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(alerts.c.feedback_id)).scalars())


def alert_counts(engine: Engine, feedback_ids: list[int]) -> dict[int, int]:
    query = (
        select(alerts.c.feedback_id, func.count())
        .where(alerts.c.feedback_id.in_(feedback_ids))
        .group_by(alerts.c.feedback_id)
    )
    with engine.connect() as conn:
        return {int(fid): int(n) for fid, n in conn.execute(query)}
