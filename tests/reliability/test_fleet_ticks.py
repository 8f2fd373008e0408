"""The Celery fleet's ticks, real processes (`encore worker`, `encore beat`) on MariaDB and a
private Redis database, 3-second ticks, email to an SMTP server here.

Three workers and two beats for a while, with feedback arriving: each tick of each interval job
runs once, no tick left out, and no alert, reply, email or report twice. kill -9 of the beat
holding the lock: the standby fires the next ticks within 30 s.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import make_customer, make_feedback, make_venue
from serve_proc import TICK_SECONDS, schedule_runs
from sqlalchemy import Engine, func, select
from support.fleet_procs import (
    INTERVAL_JOBS,
    FleetSite,
    fleet_site,
    grid_gaps,
    leader_pid,
    send_task,
)

from encore_backend.storage.sql.models import ai_responses, alerts, email_queue, feedback, reports

pytestmark = pytest.mark.slow
TICK = timedelta(seconds=TICK_SECONDS)
RUN_SECONDS = 90
SEED_SECONDS = 60
VENUES = ("fleet-a", "fleet-b", "fleet-c")
MANAGERS = ["ana@venue.example", "ben@venue.example"]
COMMENTS = (
    ("I got food poisoning after the oysters.", 1),  # alarming: an alert, emails to managers
    ("Lovely evening, great staff.", 5),
    ("Nice wine list, slow dessert.", 4),
)
LIFTED = {"MAX_EMAILS_PER_MINUTE": "6000", "MAX_AI_GENERATIONS_PER_MINUTE": "6000"}
FAILOVER_LIMIT = timedelta(seconds=30)
JOB = "stats_aggregator"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[FleetSite]:
    with fleet_site(tmp_path) as made:
        yield made


class Seeder(threading.Thread):
    """Writes feedback straight into the database (as ingestion would), two a second."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        super().__init__(name="seeder", daemon=True)
        self.engine, self.seconds, self.count = engine, seconds, 0

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            comment, rating = COMMENTS[self.count % len(COMMENTS)]
            venue = VENUES[self.count % len(VENUES)]
            customer = make_customer(self.engine, now=now, email=f"guest{self.count}@example.com")
            make_feedback(
                self.engine,
                venue,
                created_at=now,
                rating=rating,
                comment=comment,
                customer_id=customer,
            )
            self.count += 1
            time.sleep(0.5)


def seed_venues(engine: Engine) -> None:
    created = datetime.now(UTC) - timedelta(days=30)
    settings = {"auto_send_enabled": True, "auto_send_delay_minutes": 0}
    for venue in VENUES:
        make_venue(engine, venue, now=created, manager_emails=MANAGERS, settings=settings)


def settled(engine: Engine, posted: int) -> bool:
    """Every feedback scanned and replied to; no email waiting or being sent."""
    with engine.connect() as conn:
        unscanned = conn.execute(
            select(func.count()).where(feedback.c.alert_scanned_at.is_(None))
        ).scalar_one()
        replies = conn.execute(select(func.count()).select_from(ai_responses)).scalar_one()
        waiting = conn.execute(
            select(func.count()).where(email_queue.c.status.in_(("pending", "sending")))
        ).scalar_one()
    return unscanned == 0 and replies == posted and waiting == 0


def test_three_workers_two_beats_run_each_tick_once_and_duplicate_nothing(
    site: FleetSite,
) -> None:
    engine = site.engine
    seed_venues(engine)
    fleet = site.fleet(**LIFTED)
    workers = [fleet.worker(f"worker-{i}", concurrency=4) for i in range(3)]
    beats = [fleet.beat(f"beat-{i}") for i in range(2)]
    fleet.wait_ready(workers)
    started = datetime.now(UTC)
    seeder = Seeder(engine, SEED_SECONDS)
    seeder.start()
    for _ in range(2):  # reports: manual runs racing each other on the workers
        time.sleep(15)
        for _ in range(3):
            send_task(site.broker_url, "encore.run_now", job_id="daily_report")
    seeder.join()
    fleet.wait_until(lambda: settled(engine, seeder.count), RUN_SECONDS, "the work did not settle")
    remaining = RUN_SECONDS - (datetime.now(UTC) - started).total_seconds()
    time.sleep(max(remaining, 0))
    leader = leader_pid(site.broker_url)
    assert all(proc.alive() for proc in workers + beats), fleet.tails()
    fleet.stop_all()

    figures = check_ticks(engine, since=started)
    figures |= check_no_duplicates(engine, site)
    assert figures["alerts"] >= SEED_SECONDS // 2  # a third of ~120 feedback is alarming
    assert figures["reports"] > 0
    figures["leader"] = "beat-0" if leader == beats[0].pid else "beat-1"
    print(f"fleet ticks: {seeder.count} feedback in {SEED_SECONDS}s, {figures}")


def check_ticks(engine: Engine, *, since: datetime) -> dict[str, Any]:
    """Each interval job ran every grid tick since `since` once (a run record per fire time)."""
    figures: dict[str, Any] = {}
    for job_id in INTERVAL_JOBS:
        runs = [r for r in schedule_runs(engine, job_id) if r["fire_time"] >= since]
        fires = [r["fire_time"] for r in runs]
        assert max(Counter(fires).values()) == 1, job_id  # the claim's unique key holds
        assert grid_gaps(fires, TICK) == [], job_id
        assert len(fires) >= RUN_SECONDS / TICK_SECONDS - 3, (job_id, len(fires))
        figures[job_id] = dict(Counter(r["status"] for r in runs))
    return figures


def check_no_duplicates(engine: Engine, site: FleetSite) -> dict[str, Any]:
    """No alert, reply, queue item, SMTP message or report twice; every `sent` item received."""
    with engine.connect() as conn:
        alert_of = Counter(conn.execute(select(alerts.c.feedback_id)).scalars())
        reply_of = Counter(conn.execute(select(ai_responses.c.feedback_id)).scalars())
        items = [dict(row._mapping) for row in conn.execute(select(email_queue))]
        report_keys = Counter(
            conn.execute(select(reports.c.venue_id, reports.c.kind, reports.c.period_start)).all()
        )
    assert max(alert_of.values()) == 1
    assert max(reply_of.values()) == 1
    mail_keys = Counter(
        (i["kind"], i["response_id"] or i["alert_id"] or i["report_id"], i["customer_email"])
        for i in items
    )
    assert max(mail_keys.values()) == 1
    assert max(report_keys.values()) == 1
    received = site.smtp.received()
    assert max(received.values()) == 1  # no email twice at the server
    statuses = Counter(i["status"] for i in items)
    assert set(statuses) <= {"sent", "cancelled"}, statuses
    assert {i["message_id"] for i in items if i["status"] == "sent"} == set(received)
    return {
        "alerts": len(alert_of),
        "replies": len(reply_of),
        "reports": len(report_keys),
        "emails": dict(statuses),
        "smtp_messages": len(received),
    }


def test_kill_9_of_the_beat_holding_the_lock_hands_ticks_to_the_standby_within_30_s(
    site: FleetSite,
) -> None:
    engine = site.engine
    fleet = site.fleet()
    worker = fleet.worker("worker", concurrency=4)
    beats = [fleet.beat("beat-0"), fleet.beat("beat-1")]
    fleet.wait_ready([worker])
    pid = fleet.wait_until(lambda: leader_pid(site.broker_url), 30, "no beat took the lock")
    active, standby = sorted(beats, key=lambda beat: beat.pid != pid)
    fleet.wait_until(lambda: len(schedule_runs(engine, JOB)) >= 3, 30, "no ticks")
    active.kill9()
    killed_at = datetime.now(UTC)

    def fired_since(n: int) -> list[dict[str, Any]]:
        runs = [r for r in schedule_runs(engine, JOB) if r["fire_time"] > killed_at]
        return runs if len(runs) >= n else []

    first = fleet.wait_until(lambda: fired_since(1), 60, "the standby never fired a tick")[0]
    takeover = first["started_at"] - killed_at
    assert takeover <= FAILOVER_LIMIT, (killed_at, first)
    assert leader_pid(site.broker_url) == standby.pid
    fleet.wait_until(lambda: fired_since(3), 30, "the ticks stopped after the takeover")
    for job_id in INTERVAL_JOBS:  # the grid goes on from the standby's first tick, no gap
        fires = [r["fire_time"] for r in schedule_runs(engine, job_id)]
        assert grid_gaps([f for f in fires if f >= first["fire_time"]], TICK) == [], job_id
        assert max(Counter(fires).values()) == 1
    print(f"beat failover: standby's first tick {takeover.total_seconds():.1f}s after kill -9")
