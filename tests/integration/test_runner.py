"""The run recorder on every database: claim, overlap, lease, heartbeat, outcome records."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from factories import make_feedback, make_venue
from sched_jobs import LONG_LEASE, Recorder, spec, use_jobs
from sqlalchemy import func, select

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.scheduler.registry import UnknownJob
from encore_backend.scheduler.runner import (
    JobBusy,
    current_owner,
    reap_dead_local_runs,
    record_tick,
    run_job,
)
from encore_backend.storage.sql.job_runs import LEASE_EXPIRED
from encore_backend.storage.sql.models import job_runs


@pytest.fixture
def jobs(ctx: Container) -> Recorder:
    recorder = Recorder()
    use_jobs(
        ctx,
        spec("ok", recorder.ok),
        spec("boom", recorder.boom),
        spec("hold", recorder.hold, lease=LONG_LEASE),
    )
    return recorder


def count_runs(ctx: Container, job_id: str) -> int:
    with ctx.engine.connect() as conn:
        query = select(func.count()).select_from(job_runs).where(job_runs.c.job_id == job_id)
        return int(conn.execute(query).scalar_one())


def test_a_successful_run_is_recorded_with_the_clock_read_once(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    fire = clock.now().replace(second=0)
    record = run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=fire)
    assert record is not None
    assert jobs.calls == [{"now": clock.now(), "params": {}}]
    assert record["status"] == RunStatus.SUCCESS
    assert record["trigger"] == "schedule"
    assert record["tick_key"] == "2026-03-10T12:00:00Z"
    assert record["fire_time"] == fire
    assert record["started_at"] == clock.now() and record["finished_at"] == clock.now()
    assert record["items_processed"] == 3
    assert record["details"] == {"seen": "2026-03-10 12:00:00+00:00", "params": {}}
    assert record["duration_ms"] >= 0 and record["error"] is None
    assert record["owner"] == current_owner()
    assert record["lease_expires_at"] is None


def test_a_failure_keeps_the_exception_text(ctx: Container, jobs: Recorder) -> None:
    record = run_job(ctx, "boom", trigger=RunTrigger.MANUAL)
    assert record is not None
    assert record["status"] == RunStatus.FAILED
    assert record["error"] == "RuntimeError: database on fire"
    assert record["finished_at"] is not None


def test_unknown_job_ids_are_refused(ctx: Container, jobs: Recorder) -> None:
    with pytest.raises(UnknownJob):
        run_job(ctx, "nope", trigger=RunTrigger.MANUAL)


def test_a_tick_runs_once_the_loser_writes_nothing(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    fire = clock.now()
    first = run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=fire)
    second = run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=fire)
    assert first is not None and second is None
    assert len(jobs.calls) == 1
    assert count_runs(ctx, "ok") == 1


def test_many_threads_racing_for_one_tick_run_it_once(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    fire = clock.now()
    results: list[object] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        barrier.wait()
        results.append(run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=fire))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r is not None for r in results) == 1
    assert len(results) == 6
    assert len(jobs.calls) == 1 and count_runs(ctx, "ok") == 1


def test_without_a_fire_time_a_schedule_run_takes_the_latest_grid_tick(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    clock.set(clock.now().replace(second=42))
    record = run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE)
    assert record is not None and record["tick_key"] == "2026-03-10T12:00:00Z"


def test_overlap_skips_ticks_refuses_manual_and_lets_events_through(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    holder = threading.Thread(
        target=lambda: run_job(ctx, "hold", trigger=RunTrigger.MANUAL), daemon=True
    )
    holder.start()
    assert jobs.entered.wait(10)
    try:
        tick = run_job(ctx, "hold", trigger=RunTrigger.SCHEDULE, fire_time=clock.now())
        assert tick is not None and tick["status"] == RunStatus.SKIPPED
        assert tick["error"].startswith("still running: run ")
        with pytest.raises(JobBusy):
            run_job(ctx, "hold", trigger=RunTrigger.MANUAL)
    finally:
        jobs.release.set()
    event = run_job(ctx, "hold", trigger=RunTrigger.EVENT, params={"feedback_ids": [1]})
    holder.join(10)
    assert event is not None and event["status"] == RunStatus.SUCCESS
    statuses = sorted(r["status"] for r in ctx.job_runs.list_runs(job_id="hold"))
    assert statuses == ["skipped", "success", "success"]


def test_an_event_run_may_overlap_a_running_tick(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    use_jobs(ctx, spec("hold", jobs.hold, lease=LONG_LEASE), spec("ok", jobs.ok))
    holder = threading.Thread(
        target=lambda: run_job(ctx, "hold", trigger=RunTrigger.SCHEDULE, fire_time=clock.now()),
        daemon=True,
    )
    holder.start()
    assert jobs.entered.wait(10)
    jobs.release.set()
    holder.join(10)
    record = run_job(ctx, "ok", trigger=RunTrigger.EVENT, params={"feedback_ids": [7, 8]})
    assert record is not None and record["trigger"] == "event"
    assert jobs.calls[-1]["params"] == {"feedback_ids": [7, 8]}
    assert record["tick_key"].startswith("event:")


def test_a_dead_workers_expired_lease_is_failed_and_the_job_runs(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    now = clock.now()
    claim = ctx.job_runs.claim(
        job_id="ok",
        tick_key="crashed",
        trigger="schedule",
        fire_time=now,
        owner="elsewhere:1",
        clock=clock,
        lease=timedelta(seconds=30),
        exclusive=True,
    )
    assert claim.run is not None
    clock.advance(seconds=10)  # lease still valid: the tick is skipped
    skipped = run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=clock.now())
    assert skipped is not None and skipped["status"] == RunStatus.SKIPPED
    clock.advance(seconds=60)  # lease expired: the worker died
    record = run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=clock.now())
    assert record is not None and record["status"] == RunStatus.SUCCESS
    dead = ctx.job_runs.get(claim.run["run_id"])
    assert dead is not None
    assert dead["status"] == RunStatus.FAILED and dead["error"] == LEASE_EXPIRED
    assert dead["finished_at"] == clock.now()


def test_the_heartbeat_extends_the_lease_while_the_job_runs(
    ctx: Container, clock: ManualClock
) -> None:
    beats: list[object] = []

    def slow(ctx: Container, now: object) -> None:
        later = clock.advance(minutes=10)
        for _ in range(100):  # the heartbeat thread beats every 0.1 s of real time
            run = ctx.job_runs.running()[0]
            if run["heartbeat_at"] == later:
                beats.append(run["lease_expires_at"] - later)
                return
            threading.Event().wait(0.05)

    use_jobs(ctx, spec("slow", slow, lease=timedelta(seconds=0.3)))
    record = run_job(ctx, "slow", trigger=RunTrigger.MANUAL)
    assert record is not None and record["status"] == RunStatus.SUCCESS
    assert beats == [timedelta(seconds=0.3)]


def test_missed_ticks_are_recorded_once(ctx: Container, clock: ManualClock, jobs: Recorder) -> None:
    fire = clock.now() - timedelta(hours=1)
    first = record_tick(ctx, "ok", fire_time=fire, status=RunStatus.MISSED, error="late")
    again = record_tick(ctx, "ok", fire_time=fire, status=RunStatus.MISSED, error="late")
    assert first is not None and again is None
    assert first["status"] == "missed" and first["trigger"] == "schedule"
    assert run_job(ctx, "ok", trigger=RunTrigger.SCHEDULE, fire_time=fire) is None


def test_start_up_fails_runs_of_local_processes_that_are_gone(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = current_owner().rpartition(":")[0]
    now = clock.now()
    for key, owner in (("a", f"{host}:{gone.stdout.strip()}"), ("b", current_owner())):
        ctx.job_runs.claim(
            job_id="ok",
            tick_key=key,
            trigger="event",
            fire_time=now,
            owner=owner,
            clock=clock,
            lease=LONG_LEASE,
            exclusive=False,
        )
    assert reap_dead_local_runs(ctx, now=now) == 1
    runs = {r["tick_key"]: r for r in ctx.job_runs.list_runs(job_id="ok")}
    assert runs["a"]["status"] == "failed" and "is gone" in runs["a"]["error"]
    assert runs["b"]["status"] == "running"


def test_history_is_newest_first_and_limited(
    ctx: Container, clock: ManualClock, jobs: Recorder
) -> None:
    for _ in range(3):
        run_job(ctx, "ok", trigger=RunTrigger.MANUAL)
        clock.advance(seconds=1)
    runs = ctx.job_runs.list_runs(job_id="ok", limit=2)
    assert len(runs) == 2 and runs[0]["started_at"] > runs[1]["started_at"]
    assert ctx.job_runs.latest(job_id="ok") == runs[0]


def test_the_real_jobs_run_through_the_recorder(ctx: Container, clock: ManualClock) -> None:
    """The registry's own jobs (no override): recorded, and idempotent when rerun."""
    make_venue(ctx.engine, "v1", now=clock.now())
    make_feedback(ctx.engine, "v1", created_at=clock.now(), rating=3, comment="Found a roach!")
    stats = run_job(ctx, "stats_aggregator", trigger=RunTrigger.MANUAL)
    assert stats is not None and stats["status"] == "success", stats
    assert stats["items_processed"] == 1
    fire = clock.now()
    alert = run_job(ctx, "alert_detector", trigger=RunTrigger.SCHEDULE, fire_time=fire)
    assert alert is not None and alert["status"] == "success", alert
    assert alert["details"]["alerts_created"] == 1
    clock.advance(minutes=5)
    again = run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL)
    assert again is not None and again["details"]["alerts_created"] == 0
