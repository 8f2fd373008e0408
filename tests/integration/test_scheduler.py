"""EngineScheduler with real APScheduler threads on every database (short real-time waits)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sched_jobs import LONG_LEASE, Recorder, spec, use_jobs, wait_for
from sqlalchemy import Engine, select

from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock
from encore_backend.config import WEEKDAYS, Settings
from encore_backend.scheduler.cron import Cron
from encore_backend.scheduler.registry import EPOCH, Every, JobSpec, grid_floor
from encore_backend.scheduler.scheduler import EngineScheduler, new_apscheduler
from encore_backend.storage.sql.models import job_runs, scheduler_jobs


@pytest.fixture
def live(settings: Settings, engine: Engine) -> Iterator[Callable[..., Container]]:
    """Containers on the real clock (APScheduler runs on it); schedulers stopped afterwards."""
    started: list[EngineScheduler] = []

    def make(*specs: Any, clock: Any = None) -> Container:
        ctx = build(settings, engine=engine, clock=clock)
        use_jobs(ctx, *specs)
        return ctx

    make.started = started  # type: ignore[attr-defined]
    yield make
    for scheduler in started:
        scheduler.shutdown(wait=False)


def start(live: Any, ctx: Container) -> EngineScheduler:
    scheduler = EngineScheduler(ctx)
    scheduler.start()
    live.started.append(scheduler)
    return scheduler


def schedule_runs(ctx: Container, job_id: str) -> list[dict[str, Any]]:
    runs = ctx.job_runs.list_runs(job_id=job_id, limit=500)
    return sorted((r for r in runs if r["trigger"] == "schedule"), key=lambda r: r["fire_time"])


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(scheduler_jobs.c.id)).scalars())


def set_next_run(ctx: Container, job_id: str, when: datetime | None) -> None:
    """Edit the shared job store as another process (or a past run) would have left it."""
    offline = new_apscheduler(ctx)
    offline.start(paused=True)
    try:
        offline.modify_job(job_id, next_run_time=when)
    finally:
        offline.shutdown(wait=False)


def executed_runs(ctx: Any, job_id: str) -> list[dict[str, Any]]:
    return [r for r in schedule_runs(ctx, job_id) if r["status"] != "skipped"]


def test_jobs_are_stored_and_ticks_run_on_the_anchored_grid(live: Any) -> None:
    jobs = Recorder()
    ctx = live(spec("fast", jobs.ok, minutes=0.01), spec("idle", jobs.ok, minutes=60))
    scheduler = start(live, ctx)
    assert scheduler.running
    assert stored_ids(ctx.engine) == {"fast", "idle"}
    wait_for(lambda: len(executed_runs(ctx, "fast")) >= 3)
    scheduler.shutdown()  # waits for the running tick to finish
    runs = schedule_runs(ctx, "fast")
    step = timedelta(seconds=0.6)
    fires = [r["fire_time"] for r in runs]
    assert all((f - EPOCH) % step == timedelta(0) for f in fires)
    # Consecutive grid points; a loaded machine may coalesce one (a gap of whole steps).
    gaps = [b - a for a, b in itertools.pairwise(fires)]
    assert all(gap >= step and gap % step == timedelta(0) for gap in gaps)
    # A tick that finds the last run still going (a loaded machine) is recorded `skipped`.
    executed = [r for r in runs if r["status"] != "skipped"]
    assert len(executed) >= 3
    assert all(r["status"] == "success" and r["started_at"] >= r["fire_time"] for r in executed)


def test_restart_gives_one_coalesced_catch_up_and_keeps_pause(live: Any) -> None:
    jobs = Recorder()
    specs = (spec("hourly", jobs.ok, minutes=60), spec("paused", jobs.ok, minutes=60))
    first = start(live, live(*specs))
    first.pause("paused")
    first.shutdown()
    ctx = live(*specs)
    # As if down for five hours: the stored next run is long past, the runs before it long done
    # (the first start may have run its current ticks before the pause landed).
    set_next_run(ctx, "hourly", datetime.now(UTC) - timedelta(hours=5))
    with ctx.engine.begin() as conn:
        conn.execute(job_runs.delete())
    jobs.calls.clear()
    start(live, ctx)
    runs = wait_for(lambda: schedule_runs(ctx, "hourly"))
    time.sleep(0.5)  # room for (wrong) extra catch-up runs to show up
    runs = schedule_runs(ctx, "hourly")
    assert len(runs) == 1 and len(jobs.calls) == 1
    assert runs[0]["fire_time"] == grid_floor(runs[0]["started_at"], timedelta(hours=1))
    listed = {job["id"]: job for job in EngineScheduler(ctx).jobs()}
    assert listed["paused"]["paused"] is True and listed["paused"]["next_run_time"] is None
    assert schedule_runs(ctx, "paused") == []
    assert listed["hourly"]["next_run_time"] > runs[0]["fire_time"].isoformat()[:19]


def test_restart_applies_a_changed_interval(live: Any) -> None:
    jobs = Recorder()
    first = start(live, live(spec("job", jobs.ok, minutes=60), spec("held", jobs.ok, minutes=60)))
    first.pause("held")
    first.shutdown()
    ctx = live(spec("job", jobs.ok, minutes=7), spec("held", jobs.ok, minutes=7))
    scheduler = start(live, ctx)
    stored = {job.id: job for job in scheduler._scheduler.get_jobs()}  # type: ignore[union-attr]
    assert stored["job"].trigger.interval == timedelta(minutes=7)
    assert stored["held"].trigger.interval == timedelta(minutes=7)
    assert stored["held"].next_run_time is None
    next_run = stored["job"].next_run_time
    assert (next_run - EPOCH) % timedelta(minutes=7) == timedelta(0)
    assert next_run - datetime.now(UTC) <= timedelta(minutes=7)


def test_a_tick_later_than_its_catch_up_window_is_recorded_missed(live: Any) -> None:
    jobs = Recorder()
    ctx = live(spec("strict", jobs.ok, minutes=60, catch_up_window=timedelta(seconds=1)))
    scheduler = start(live, ctx)
    late = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    scheduler._scheduler.modify_job("strict", next_run_time=late)  # type: ignore[union-attr]
    scheduler._scheduler.wakeup()  # type: ignore[union-attr]
    runs = wait_for(lambda: schedule_runs(ctx, "strict"))
    assert [(r["status"], r["fire_time"]) for r in runs] == [("missed", late)]
    assert "catch-up window" in runs[0]["error"]
    assert jobs.calls == []


def test_a_tick_that_finds_the_job_running_here_is_skipped_not_queued(live: Any) -> None:
    jobs = Recorder()
    ctx = live(spec("hold", jobs.hold, minutes=0.005, lease=LONG_LEASE))
    start(live, ctx)
    assert jobs.entered.wait(10)
    skipped = wait_for(lambda: [r for r in schedule_runs(ctx, "hold") if r["status"] == "skipped"])
    jobs.release.set()
    assert skipped[0]["error"] == "still running in this process"
    time.sleep(0.4)
    runs = schedule_runs(ctx, "hold")
    assert len({r["tick_key"] for r in runs}) == len(runs)
    assert len([r for r in runs if r["status"] == "success"]) >= 1


def test_two_schedulers_on_one_store_run_each_tick_once(live: Any, engine: Engine) -> None:
    jobs = Recorder()
    fired: list[datetime] = []

    def counted(ctx: Container, now: datetime, **params: Any) -> Any:
        fired.append(now)
        return jobs.ok(ctx, now)

    specs = (spec("shared", counted, minutes=0.005),)
    one, two = live(*specs), live(*specs)
    start(live, one)
    start(live, two)
    time.sleep(3)
    for scheduler in live.started:
        scheduler.shutdown()
    runs = schedule_runs(one, "shared")
    # On a loaded machine a 0.3 s tick can find the last run still going: recorded `skipped`.
    executed = [r for r in runs if r["status"] != "skipped"]
    assert len(executed) >= 5
    assert len(fired) == len(executed)  # the job function ran once per executed tick
    assert len({r["fire_time"] for r in runs}) == len(runs)  # one record per tick
    assert all(r["status"] == "success" for r in executed)


def test_pause_and_resume_persist_while_no_scheduler_runs(live: Any) -> None:
    jobs = Recorder()
    ctx = live(spec("job", jobs.ok, minutes=60))
    stopped = EngineScheduler(ctx)
    paused = stopped.pause("job")
    assert paused["paused"] is True and not stopped.running
    assert paused["next_run_time"] is None
    assert stored_ids(ctx.engine) == set()  # only a leader writes the job store
    restarted = start(live, live(spec("job", jobs.ok, minutes=60)))
    assert restarted.job("job")["paused"] is True
    resumed = restarted.resume("job")
    assert resumed["paused"] is False and resumed["next_run_time"] is not None


def test_health_turns_unavailable_when_a_job_is_two_intervals_overdue(live: Any) -> None:
    jobs = Recorder()
    clock = ManualClock(datetime.now(UTC))
    ctx = live(spec("job", jobs.ok, minutes=60), clock=clock)
    scheduler = start(live, ctx)
    healthy, body = scheduler.health()
    assert healthy and body["status"] == "ok" and body["running"] is True
    clock.advance(hours=3)
    healthy, body = scheduler.health()
    assert not healthy and body["reason"] == "overdue by more than two intervals: job"
    scheduler.shutdown()
    healthy, body = scheduler.health()
    assert not healthy and body["reason"] == "scheduler is not running"


def test_every_grid_tick_matches_apscheduler(live: Any) -> None:
    """The fallback fire time (grid floor) agrees with the trigger's own fire times."""
    settings = live().settings
    trigger = Every(minutes=0.05).trigger(settings)
    now = datetime.now(UTC)
    upcoming = trigger.get_next_fire_time(None, now)
    assert grid_floor(upcoming, timedelta(seconds=3)) == upcoming


def test_a_fresh_install_has_nothing_to_catch_up(live: Any) -> None:
    """A weekly job whose slot passed days ago: no missed tick, not overdue, next slot ahead."""
    jobs = Recorder()
    now = datetime.now(UTC)
    three_days_ago = WEEKDAYS[(now.weekday() - 3) % 7]
    weekly = JobSpec(
        "cleanup",
        func=jobs.ok,
        schedule=Cron(
            hour_setting="scheduler_cleanup_hour", weekday_setting="scheduler_cleanup_weekday"
        ),
        catch_up_window=timedelta(days=1),
    )
    ctx = live(weekly)
    ctx.settings = ctx.settings.model_copy(update={"scheduler_cleanup_weekday": three_days_ago})
    scheduler = start(live, ctx)
    time.sleep(0.5)
    assert schedule_runs(ctx, "cleanup") == [] and jobs.calls == []
    listed = scheduler.job("cleanup")
    assert listed["next_run_time"] > now.isoformat()[:19]
    healthy, body = scheduler.health()
    assert healthy, body
