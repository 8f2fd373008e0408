"""Redis restarted under the Celery fleet, real processes (`encore worker`, `encore beat`) on
MariaDB, on a redis-server of the test's own (killed and started again, every key lost, as after
a crash of a Redis without persistence), 3-second ticks, email to an SMTP server here.

Workers and beats reconnect by themselves (none is restarted), the ticks resume on the grid, and
every email queued before the outage is received once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from serve_proc import TICK_SECONDS, schedule_runs
from support.fleet_procs import INTERVAL_JOBS, FleetSite, fleet_site, grid_gaps, items_venue
from support.redis_db import RedisServer, redis_server
from support.worker_rows import insert_due_items, statuses

pytestmark = pytest.mark.slow
TICK = timedelta(seconds=TICK_SECONDS)
ITEMS, SPREAD_SECONDS = 120, 30  # emails due over the seconds around the outage
DOWN_SECONDS = 4.0
RESUME_LIMIT = 60.0


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def site(tmp_path: Path, redis: RedisServer) -> Iterator[FleetSite]:
    with fleet_site(tmp_path, broker_url=redis.url) as made:
        items_venue(made.engine)
        yield made


def test_redis_restarted_mid_run_workers_and_beats_reconnect_and_lose_nothing(
    site: FleetSite, redis: RedisServer
) -> None:
    engine = site.engine
    fleet = site.fleet(MAX_EMAILS_PER_MINUTE="6000")
    workers = [fleet.worker(f"worker-{i}", concurrency=4) for i in range(2)]
    beats = [fleet.beat("beat-0"), fleet.beat("beat-1")]
    fleet.wait_ready(workers)
    fleet.wait_until(lambda: len(schedule_runs(engine, "stats_aggregator")) >= 2, 30, "no ticks")
    spread = SPREAD_SECONDS / ITEMS
    queued = insert_due_items(engine, 1, ITEMS, due_in=lambda i: timedelta(seconds=i * spread))
    time.sleep(SPREAD_SECONDS / 3)
    redis.kill9()
    try:
        time.sleep(DOWN_SECONDS)
    finally:
        redis.start()
    restarted = datetime.now(UTC)

    def resumed() -> bool:
        return all(
            any(r["fire_time"] > restarted and r["status"] == "success" for r in runs)
            for runs in (schedule_runs(engine, job_id) for job_id in INTERVAL_JOBS)
        )

    fleet.wait_until(resumed, RESUME_LIMIT, "the ticks did not resume")
    resumed_after = (datetime.now(UTC) - restarted).total_seconds()
    fleet.wait_until(
        lambda: statuses(engine) == {"sent": ITEMS}, 60, "the emails were not all sent"
    )
    assert all(proc.alive() for proc in workers + beats), fleet.tails()
    time.sleep(3 * TICK_SECONDS)  # a few more ticks on the grid
    fleet.stop_all()

    received = site.smtp.received()
    assert set(received) == set(queued) and set(received.values()) == {1}
    for job_id in INTERVAL_JOBS:
        fires = [r["fire_time"] for r in schedule_runs(engine, job_id)]
        assert max(Counter(fires).values()) == 1
        after = [f for f in fires if f > restarted]
        assert grid_gaps(after, TICK) == [], job_id
    print(
        f"redis restart: down {DOWN_SECONDS}s, every interval job ticked again "
        f"{resumed_after:.1f}s after the restart, {ITEMS} emails received once"
    )
