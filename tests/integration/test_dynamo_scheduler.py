"""Real APScheduler threads on the DynamoDB job store (moto's server): APScheduler's own
BackgroundScheduler, then the project's EngineScheduler in the DynamoDB profile."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sched_jobs import Recorder, spec, use_jobs, wait_for
from sqlalchemy import Engine, select
from support.dynamo_jobs import jobs_table

from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.scheduler.registry import grid_floor
from encore_backend.scheduler.scheduler import EngineScheduler, new_apscheduler
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.jobstore import DynamoJobStore
from encore_backend.storage.dynamodb.scheduled_jobs import DynamoScheduledJobsView
from encore_backend.storage.sql.models import job_runs, scheduler_jobs

BEATS: Counter[str] = Counter()
_beats_lock = threading.Lock()


def beat(name: str) -> None:
    """The stored job function (module level, so the job pickles by reference)."""
    with _beats_lock:
        BEATS[name] += 1


@pytest.fixture
def plain(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundScheduler]:
    """APScheduler's BackgroundScheduler on the DynamoDB store, coalescing like ours."""
    BEATS.clear()
    scheduler = BackgroundScheduler(
        jobstores={"default": DynamoJobStore(jobs_table(moto_url, monkeypatch))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    scheduler.start()
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


def table_of(scheduler: BackgroundScheduler) -> Dynamo:
    store = scheduler._lookup_jobstore("default")
    assert isinstance(store, DynamoJobStore)
    return store.dynamo


def test_interval_job_runs_pauses_resumes_and_reschedules(plain: BackgroundScheduler) -> None:
    dynamo = table_of(plain)
    view = DynamoScheduledJobsView(dynamo)
    plain.add_job(beat, "interval", seconds=0.2, id="fast", args=("fast",), misfire_grace_time=5)
    plain.add_job(beat, "interval", hours=1, id="idle", args=("idle",))
    wait_for(lambda: BEATS["fast"] >= 3)
    assert BEATS["idle"] == 0

    plain.pause_job("fast")
    assert view.next_run_times()["fast"] is None
    other = DynamoJobStore(dynamo)  # what a restarted process would read
    assert other.lookup_job("fast").next_run_time is None
    time.sleep(0.3)  # a run already handed to the pool may still finish
    paused_count = BEATS["fast"]
    time.sleep(0.8)
    assert BEATS["fast"] == paused_count

    plain.resume_job("fast")
    wait_for(lambda: BEATS["fast"] >= paused_count + 2)

    plain.reschedule_job("fast", trigger="interval", minutes=30)
    stored = other.lookup_job("fast")
    assert stored.trigger.interval == timedelta(minutes=30)
    assert timedelta(minutes=29) < stored.next_run_time - datetime.now(UTC) <= timedelta(minutes=30)
    assert [job.id for job in plain.get_jobs()] == ["fast", "idle"]
    plain.remove_job("idle")
    assert set(view.next_run_times()) == {"fast"}


@pytest.fixture
def live(
    dynamo_profile: Settings, dynamo: Dynamo, engine: Engine
) -> Iterator[list[EngineScheduler]]:
    started: list[EngineScheduler] = []
    yield started
    for scheduler in started:
        scheduler.shutdown(wait=False)


def profile_ctx(settings: Settings, engine: Engine, *specs: Any) -> Container:
    ctx = build(settings, engine=engine)
    use_jobs(ctx, *specs)
    return ctx


def start(live: list[EngineScheduler], ctx: Container) -> EngineScheduler:
    scheduler = EngineScheduler(ctx)
    scheduler.start()
    live.append(scheduler)
    return scheduler


def schedule_runs(ctx: Container, job_id: str) -> list[dict[str, Any]]:
    runs = ctx.job_runs.list_runs(job_id=job_id, limit=500)
    return sorted((r for r in runs if r["trigger"] == "schedule"), key=lambda r: r["fire_time"])


def sql_job_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(scheduler_jobs.c.id)).scalars())


def test_the_profile_keeps_its_schedule_in_dynamodb(
    live: list[EngineScheduler], dynamo_profile: Settings, engine: Engine
) -> None:
    jobs = Recorder()
    ctx = profile_ctx(dynamo_profile, engine, spec("fast", jobs.ok, minutes=0.005))
    assert isinstance(ctx.scheduled_jobs, DynamoScheduledJobsView)
    scheduler = start(live, ctx)
    assert scheduler.leading
    wait_for(lambda: len([r for r in schedule_runs(ctx, "fast") if r["status"] == "success"]) >= 2)
    assert set(ctx.scheduled_jobs.next_run_times()) == {"fast"}
    assert sql_job_ids(engine) == set()  # the SQL job table is not this profile's store
    paused = scheduler.pause("fast")
    assert paused["paused"] is True and paused["next_run_time"] is None
    assert ctx.scheduled_jobs.next_run_times() == {"fast": None}  # applied by the leader


def test_restart_gives_one_coalesced_catch_up_and_keeps_pause(
    live: list[EngineScheduler], dynamo_profile: Settings, engine: Engine
) -> None:
    jobs = Recorder()
    specs = (spec("hourly", jobs.ok, minutes=60), spec("paused", jobs.ok, minutes=60))
    first = start(live, profile_ctx(dynamo_profile, engine, *specs))
    first.pause("paused")
    first.shutdown()
    ctx = profile_ctx(dynamo_profile, engine, *specs)
    offline = new_apscheduler(ctx)  # as if down for five hours: the stored tick long past
    offline.start(paused=True)
    offline.modify_job("hourly", next_run_time=datetime.now(UTC) - timedelta(hours=5))
    offline.shutdown(wait=False)
    with engine.begin() as conn:
        conn.execute(job_runs.delete())
    jobs.calls.clear()

    scheduler = start(live, ctx)
    wait_for(lambda: schedule_runs(ctx, "hourly"))
    time.sleep(0.5)  # room for (wrong) extra catch-up runs to show up
    runs = schedule_runs(ctx, "hourly")
    assert len(runs) == 1 and len(jobs.calls) == 1
    assert runs[0]["fire_time"] == grid_floor(runs[0]["started_at"], timedelta(hours=1))
    listed = {job["id"]: job for job in scheduler.jobs()}
    assert listed["paused"]["paused"] is True and listed["paused"]["next_run_time"] is None
    assert ctx.scheduled_jobs.next_run_times()["paused"] is None
    assert schedule_runs(ctx, "paused") == []
    assert listed["hourly"]["next_run_time"] > runs[0]["fire_time"].isoformat()[:19]
