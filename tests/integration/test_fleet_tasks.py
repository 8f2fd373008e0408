"""The fleet's task rules (fleet/tasks.py), called as a worker calls them, on the test's
container: a paused job's tick does not run, a tick later than its catch-up window is recorded
`missed`, a tick delivered twice runs once, run-now answers with the run record or a refusal."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fleet_support import fleet_ctx, redis_url  # noqa: F401  (fixtures)
from sched_jobs import LONG_LEASE, Recorder, spec, use_jobs, wait_for

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.fleet import tasks


@pytest.fixture
def jobs(fleet_ctx: Container) -> Recorder:  # noqa: F811
    recorder = Recorder()
    use_jobs(
        fleet_ctx,
        spec("ok", recorder.ok, minutes=5),
        spec("hold", recorder.hold, lease=LONG_LEASE),
    )
    return recorder


def slot(clock: ManualClock, minutes_ago: float = 0) -> str:
    """A fire time as beat sends it (ISO Z)."""
    fire = clock.now() - timedelta(minutes=minutes_ago)
    return iso_z(fire)  # type: ignore[return-value]


def test_a_paused_jobs_tick_does_not_run_and_runs_again_once_resumed(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    now = clock.now()
    fleet_ctx.job_controls.set_paused(job_id="ok", paused=True, now=now, by="test")
    assert tasks.tick.run("ok", fire_time=slot(clock)) is None
    assert jobs.calls == [] and fleet_ctx.job_runs.list_runs(job_id="ok") == []
    fleet_ctx.job_controls.set_paused(job_id="ok", paused=False, now=now, by="test")
    record = tasks.tick.run("ok", fire_time=slot(clock, minutes_ago=-5))
    assert record["status"] == RunStatus.SUCCESS and record["trigger"] == RunTrigger.SCHEDULE
    assert len(jobs.calls) == 1


def test_a_tick_later_than_its_catch_up_window_is_recorded_missed(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    """The catch-up window of a 5-minute job is 5 minutes."""
    late = tasks.tick.run("ok", fire_time=slot(clock, minutes_ago=6))
    assert late["status"] == RunStatus.MISSED and "catch-up" in late["error"]
    assert late["fire_time"] == slot(clock, minutes_ago=6)
    assert jobs.calls == []
    in_time = tasks.tick.run("ok", fire_time=slot(clock, minutes_ago=4))
    assert in_time["status"] == RunStatus.SUCCESS and len(jobs.calls) == 1
    assert [run["status"] for run in fleet_ctx.job_runs.list_runs(job_id="ok")] == [
        RunStatus.SUCCESS,
        RunStatus.MISSED,
    ]


def test_a_tick_delivered_twice_runs_once(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    fire = slot(clock)
    first = tasks.tick.run("ok", fire_time=fire)
    again = tasks.tick.apply(args=("ok",), kwargs={"fire_time": fire})  # through Celery's call
    assert first["status"] == RunStatus.SUCCESS and again.get() is None
    assert len(jobs.calls) == 1
    assert len(fleet_ctx.job_runs.list_runs(job_id="ok")) == 1


def test_a_redelivery_while_the_first_delivery_still_runs_does_nothing(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    fire = slot(clock)
    answers: list[object] = []
    first = threading.Thread(target=lambda: answers.append(tasks.tick.run("hold", fire)))
    first.start()
    try:
        assert jobs.entered.wait(10)
        assert tasks.tick.run("hold", fire) is None  # e.g. a worker killed before its ack
    finally:
        jobs.release.set()
        first.join(10)
    assert answers and answers[0]["status"] == RunStatus.SUCCESS  # type: ignore[index]
    assert len(fleet_ctx.job_runs.list_runs(job_id="hold")) == 1


def test_a_tick_of_a_job_the_registry_no_longer_has_is_dropped(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    assert tasks.tick.run("retired_job", fire_time=slot(clock)) is None
    assert fleet_ctx.job_runs.list_runs(job_id="retired_job") == []


def test_run_now_answers_with_the_run_record_or_the_reason_it_refused(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    record = tasks.run_now.run("ok")
    assert record["status"] == RunStatus.SUCCESS and record["trigger"] == RunTrigger.MANUAL
    assert record["items_processed"] == 3
    assert tasks.run_now.run("ok", dry_run=True)["refused"] == "dry_run"
    assert tasks.run_now.run("nope")["refused"] == "unknown"
    holder = threading.Thread(target=lambda: tasks.run_now.run("hold"))
    holder.start()
    try:
        assert jobs.entered.wait(10)
        assert wait_for(lambda: fleet_ctx.job_runs.running())
        assert tasks.run_now.run("hold")["refused"] == "busy"
    finally:
        jobs.release.set()
        holder.join(10)
    assert len(jobs.calls) == 1


def test_each_slot_is_its_own_claim_named_by_the_fire_time_beat_sent(
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
    jobs: Recorder,
) -> None:
    fires = [clock.now(), clock.now() + timedelta(minutes=5)]
    for fire in fires:
        clock.set(fire + timedelta(seconds=40))  # delivered 40 s after its slot
        assert tasks.tick.run("ok", fire_time=iso_z(fire))["status"] == RunStatus.SUCCESS
    runs = fleet_ctx.job_runs.list_runs(job_id="ok")
    assert sorted(run["fire_time"] for run in runs) == fires
    assert len(jobs.calls) == 2
