"""The jobs API, /health/scheduler and the console in the celery profile (FleetScheduler,
fleet/control.py), over HTTP, with a real Celery worker in this process on a Redis database of
the test's own: run-now answers with the worker's run record (202 and the task id when no worker
answers in time), pause and resume are the database's, health names the beat, workers, queues."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from api_support import ADMIN
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from fastapi.testclient import TestClient
from fleet_support import app, fleet_ctx, queued, redis_url, worker  # noqa: F401  (fixtures)
from sched_jobs import LONG_LEASE, Recorder, spec, use_jobs, wait_for

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.fleet import tasks
from encore_backend.fleet.app import TICKS
from encore_backend.fleet.beat import announce_leader, beat_holder
from encore_backend.fleet.control import RUN_NOW_TIMEOUT, FleetScheduler

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHORT_WAIT = timedelta(seconds=2)  # run-now's wait when no worker is meant to answer


@pytest.fixture
def jobs(fleet_ctx: Container) -> Recorder:  # noqa: F811
    recorder = Recorder()
    use_jobs(
        fleet_ctx,
        spec("ok", recorder.ok, minutes=5, dry_run=True),
        spec("plain", recorder.ok, minutes=5),
        spec("hold", recorder.hold, lease=LONG_LEASE),
    )
    return recorder


@pytest.fixture
def api(fleet_ctx: Container, jobs: Recorder) -> Iterator[TestClient]:  # noqa: F811
    """The API of the celery profile: its scheduler is the fleet's view."""
    with TestClient(create_app(fleet_ctx), follow_redirects=False) as client:
        assert isinstance(client.app.state.scheduler, FleetScheduler)  # type: ignore[attr-defined]
        yield client


def fleet_of(api: TestClient) -> FleetScheduler:
    return api.app.state.scheduler  # type: ignore[attr-defined, no-any-return]


def test_the_jobs_api_lists_the_registry_and_pause_and_resume_persist(
    api: TestClient,
    fleet_ctx: Container,  # noqa: F811
    clock: ManualClock,
) -> None:
    clock.advance(seconds=10)
    body = api.get("/api/admin/jobs", headers=ADMIN).json()
    assert body["scheduler"] == {"running": False, "executor": "celery"}  # no beat yet
    listed = {job["id"]: job for job in body["jobs"]}
    assert set(listed) == {"ok", "plain", "hold"}
    assert listed["ok"]["trigger"] == "every 5 min" and not listed["ok"]["paused"]
    assert listed["ok"]["next_run_time"] == "2026-03-10T12:05:00Z"
    assert listed["ok"]["scheduled"] is False  # no beat has stored its entry in Redis

    paused = api.post("/api/admin/jobs/ok/pause", headers=ADMIN)
    assert paused.status_code == 200
    assert paused.json()["paused"] is True and paused.json()["next_run_time"] is None
    assert fleet_ctx.job_controls.is_paused("ok")  # what every worker's tick reads
    other_api_process = FleetScheduler(fleet_ctx)
    assert other_api_process.job("ok")["paused"] is True
    assert tasks.tick.run("ok", fire_time="2026-03-10T12:00:00Z") is None

    resumed = api.post("/api/admin/jobs/ok/resume", headers=ADMIN).json()
    assert resumed["paused"] is False and not fleet_ctx.job_controls.is_paused("ok")
    assert api.post("/api/admin/jobs/nope/pause", headers=ADMIN).status_code == 404


def test_run_now_answers_with_the_run_record_a_worker_made(
    api: TestClient,
    fleet_ctx: Container,  # noqa: F811
    jobs: Recorder,
    worker: WorkController,  # noqa: F811
) -> None:
    response = api.post("/api/admin/jobs/ok/run", headers=ADMIN)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == RunStatus.SUCCESS and record["trigger"] == RunTrigger.MANUAL
    assert record["items_processed"] == 3 and len(jobs.calls) == 1
    assert fleet_ctx.job_runs.get(record["run_id"])["status"] == RunStatus.SUCCESS
    history = api.get("/api/admin/jobs/ok/runs", headers=ADMIN).json()["runs"]
    assert [run["run_id"] for run in history] == [record["run_id"]]

    dry = api.post("/api/admin/jobs/ok/run?dry_run=true", headers=ADMIN).json()
    assert dry["dry_run"] is True and jobs.calls[-1]["params"] == {"dry_run": True}
    assert api.post("/api/admin/jobs/plain/run?dry_run=true", headers=ADMIN).status_code == 400
    assert api.post("/api/admin/jobs/nope/run", headers=ADMIN).status_code == 404


def test_run_now_of_a_job_running_elsewhere_is_409(
    api: TestClient,
    fleet_ctx: Container,  # noqa: F811
    jobs: Recorder,
    worker: WorkController,  # noqa: F811
) -> None:
    elsewhere = threading.Thread(target=lambda: tasks.run_now.run("hold"))
    elsewhere.start()
    try:
        assert jobs.entered.wait(10)
        response = api.post("/api/admin/jobs/hold/run", headers=ADMIN)
        assert response.status_code == 409 and "already running" in response.json()["detail"]
    finally:
        jobs.release.set()
        elsewhere.join(10)
    assert len(fleet_ctx.job_runs.list_runs(job_id="hold")) == 1


def test_run_now_with_no_worker_is_queued_202_and_runs_when_a_worker_comes(
    api: TestClient,
    fleet_ctx: Container,  # noqa: F811
    jobs: Recorder,
    redis_url: str,  # noqa: F811
) -> None:
    assert fleet_of(api).run_now_timeout == RUN_NOW_TIMEOUT == timedelta(seconds=60)
    fleet_of(api).run_now_timeout = SHORT_WAIT
    response = api.post("/api/admin/jobs/ok/run", headers=ADMIN)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["job_id"] == "ok" and body["task_id"]
    assert queued(redis_url, TICKS) == [
        {"task": "encore.run_now", "args": ["ok"], "kwargs": {"dry_run": False}}
    ]
    assert fleet_ctx.job_runs.list_runs(job_id="ok") == []
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False):
        runs = wait_for(lambda: fleet_ctx.job_runs.list_runs(job_id="ok"), timeout=30)
    assert runs[0]["trigger"] == RunTrigger.MANUAL and len(jobs.calls) == 1


def test_health_says_why_the_fleet_is_not_ready(
    api: TestClient,
    redis_url: str,  # noqa: F811
) -> None:
    tasks.tick.apply_async(("ok",), kwargs={"fire_time": "2026-03-10T12:00:00Z"}, queue=TICKS)
    response = api.get("/health/scheduler")
    assert response.status_code == 503
    body = response.json()
    assert "no beat holds the schedule lock" in body["reason"]
    assert "no worker answers" in body["reason"]
    assert body["executor"] == "celery" and body["role"] == "api"
    assert body["leader"] is None and body["workers"] == []
    assert body["queues"] == {"encore.ticks": 1, "encore.sends": 0, "encore.drafts": 0}


def test_health_is_ok_with_a_beat_holding_the_lock_and_a_worker(
    api: TestClient,
    clock: ManualClock,
    worker: WorkController,  # noqa: F811
) -> None:
    announce_leader(app, since=clock.now())  # what the lock holder writes on each tick
    response = api.get("/health/scheduler")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["running"] is True
    assert body["leader"] == {"holder": beat_holder(), "since": "2026-03-10T12:00:00Z"}
    assert body["workers"] == [worker.hostname]
    assert body["queues"] == {"encore.ticks": 0, "encore.sends": 0, "encore.drafts": 0}
    listed = api.get("/api/admin/jobs", headers=ADMIN).json()
    assert listed["scheduler"]["running"] is True


def sign_in_admin(web: TestClient) -> None:
    form = CSRF.search(web.get("/signin").text)
    assert form is not None
    response = web.post("/signin", data={"csrf_token": form.group(1), "token": "test-admin-token"})
    assert response.status_code == 303, response.text


def fleet_line(page: str) -> str:
    """The console's fleet line, its tags and spacing dropped."""
    match = re.search(r"Celery fleet:(.*?)</p>", page, re.S)
    assert match is not None, "the console has no fleet line"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def test_the_console_shows_the_workers_and_queue_depth(
    api: TestClient,
    clock: ManualClock,
    redis_url: str,  # noqa: F811
) -> None:
    sign_in_admin(api)
    tasks.tick.apply_async(("ok",), kwargs={"fire_time": "2026-03-10T12:00:00Z"}, queue=TICKS)
    idle = api.get("/admin")
    assert idle.status_code == 200
    assert fleet_line(idle.text) == (
        "no beat holds the schedule lock · no worker answers · "
        "queued: encore.ticks 1, encore.sends 0, encore.drafts 0"
    )
    announce_leader(app, since=clock.now())
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False) as running:
        wait_for(lambda: not queued(redis_url, TICKS), timeout=30)  # the worker took the tick
        line = fleet_line(api.get("/admin").text)
    assert line == (
        f"beat {beat_holder()} fires the ticks · 1 worker: {running.hostname} · "
        "queued: encore.ticks 0, encore.sends 0, encore.drafts 0"
    )


def test_with_redis_gone_health_says_so_and_the_jobs_still_list(
    fleet_ctx: Container,  # noqa: F811
    jobs: Recorder,
) -> None:
    fleet_ctx.settings = fleet_ctx.settings.model_copy(
        update={"celery_broker_url": "redis://127.0.0.1:1/0"}  # nothing listens there
    )
    with TestClient(create_app(fleet_ctx), follow_redirects=False) as client:
        health = client.get("/health/scheduler")
        listed = client.get("/api/admin/jobs", headers=ADMIN)
        sign_in_admin(client)
        console = client.get("/admin")
    assert console.status_code == 200
    assert "Celery fleet: the broker&#39;s Redis does not answer" in console.text
    assert health.status_code == 503
    assert health.json()["reason"].startswith("the broker's Redis does not answer")
    assert health.json()["queues"] is None and health.json()["running"] is False
    assert listed.status_code == 200 and listed.json()["scheduler"]["running"] is False
    assert {job["id"]: job["scheduled"] for job in listed.json()["jobs"]} == dict.fromkeys(
        ("ok", "plain", "hold")
    )


# Alone (scripts/test.sh's last phase): these time an in-process Celery worker's answer to a
# ping (one second), which a machine busy with parallel tests can miss.
pytestmark = pytest.mark.exclusive
