"""/metrics of the API in the celery profile covers the fleet: what every worker counted in Redis
(tasks by state), queue depth per queue, live workers, the beat lock, and the seconds since each
job's last success; with Redis gone the fleet's families drop out and the scrape still answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from api_support import ADMIN
from celery.worker import WorkController
from fastapi.testclient import TestClient
from fleet_support import app, fleet_ctx, redis_url, worker  # noqa: F401  (fixtures)
from metrics_support import Samples, scrape, value
from prometheus_client.parser import text_string_to_metric_families
from sched_jobs import Recorder, spec, use_jobs, wait_for

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.fleet import telemetry
from encore_backend.fleet.app import SENDS, TICKS
from encore_backend.fleet.beat import announce_leader
from encore_backend.fleet.fanout import CeleryFanout
from encore_backend.fleet.status import FleetStatus

FLEET_FAMILIES = {
    "encore_fleet_tasks",
    "encore_fleet_queue_depth",
    "encore_fleet_workers",
    "encore_fleet_beat_leader",
}


@pytest.fixture
def jobs(fleet_ctx: Container) -> Recorder:  # noqa: F811
    recorder = Recorder()
    use_jobs(fleet_ctx, spec("ok", recorder.ok, minutes=5), spec("boom", recorder.boom))
    return recorder


@pytest.fixture
def api(fleet_ctx: Container, jobs: Recorder) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(fleet_ctx)) as client:
        yield client


def family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def counted(samples: Samples, task: str, state: str) -> float:
    return value(samples, "encore_fleet_tasks_total", task=task, state=state)


def test_one_scrape_of_the_api_covers_the_workers(
    api: TestClient,
    clock: ManualClock,
    jobs: Recorder,
    worker: WorkController,  # noqa: F811
) -> None:
    telemetry.install()  # as `encore worker` does
    telemetry.install()  # once is once: a second call must not count twice
    assert api.post("/api/admin/jobs/ok/run", headers=ADMIN).status_code == 200
    assert api.post("/api/admin/jobs/boom/run", headers=ADMIN).json()["status"] == "failed"
    # A malformed message fails the task itself (a failed run is a task that succeeded).
    app.send_task("encore.tick", args=("ok",), kwargs={"fire_time": "not a time"}, queue=TICKS)
    status = FleetStatus(app)
    wait_for(lambda: status.task_counts().get(("encore.tick", "failed")), timeout=30)
    wait_for(lambda: status.task_counts().get(("encore.run_now", "succeeded")) == 2, timeout=30)
    status.close()

    samples = scrape(api)
    assert counted(samples, "encore.run_now", "succeeded") == 2
    assert counted(samples, "encore.tick", "failed") == 1
    assert counted(samples, "encore.send_emails", "retried") == 0  # every pair, from the start
    assert value(samples, "encore_fleet_workers") == 1
    assert value(samples, "encore_fleet_queue_depth", queue=TICKS) == 0
    assert ("encore_fleet_queue_depth", (("queue", SENDS),)) in samples
    assert value(samples, "encore_fleet_beat_leader") == 0
    assert value(samples, "encore_job_seconds_since_success", job_id="ok") == 0
    assert ("encore_job_seconds_since_success", (("job_id", "boom"),)) not in samples

    announce_leader(app, since=clock.now())
    clock.advance(seconds=90)
    later = scrape(api)
    assert value(later, "encore_fleet_beat_leader") == 1
    assert value(later, "encore_job_seconds_since_success", job_id="ok") == 90


def test_queue_depth_is_reported_per_queue(api: TestClient, redis_url: str) -> None:  # noqa: F811
    CeleryFanout(app).send_emails(3, items=10, seconds=1.0)
    app.send_task("encore.tick", args=("ok",), queue=TICKS)
    samples = scrape(api)
    assert value(samples, "encore_fleet_queue_depth", queue=SENDS) == 3
    assert value(samples, "encore_fleet_queue_depth", queue=TICKS) == 1
    assert value(samples, "encore_fleet_workers") == 0
    assert counted(samples, "encore.tick", "succeeded") == 0


def test_without_redis_the_fleets_families_drop_out_and_the_scrape_answers(
    fleet_ctx: Container,  # noqa: F811
    jobs: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from encore_backend.domain.enums import RunTrigger
    from encore_backend.scheduler.runner import run_job

    run_job(fleet_ctx, "ok", trigger=RunTrigger.MANUAL)
    fleet_ctx.settings = fleet_ctx.settings.model_copy(
        update={"celery_broker_url": "redis://127.0.0.1:1/0"}  # nothing listens there
    )
    with TestClient(create_app(fleet_ctx)) as client, caplog.at_level(logging.WARNING):
        response = client.get("/metrics")
    assert response.status_code == 200
    names = family_names(response.text)
    assert not FLEET_FAMILIES & names
    assert {"encore_job_seconds_since_success", "encore_alerts"} <= names
    assert any("fleet metrics dropped" in r.getMessage() for r in caplog.records)


# Alone (scripts/test.sh's last phase): these time an in-process Celery worker's answer to a
# ping (one second), which a machine busy with parallel tests can miss.
pytestmark = pytest.mark.exclusive
