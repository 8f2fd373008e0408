"""Admin jobs API and health over HTTP: roles, run now, 409/404, pause/resume, history."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from factories import make_venue
from fastapi.testclient import TestClient
from sched_jobs import LONG_LEASE, Recorder, spec, use_jobs

from encore_backend.api.app import create_app
from encore_backend.api.deps import hash_token
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job

ADMIN = {"Authorization": "Bearer test-admin-token"}


def issue(ctx: Container, clock: ManualClock, role: str, venue_id: str | None) -> dict[str, str]:
    raw = f"tok-{role}"
    ctx.tokens.create(
        token_id=f"id-{role}",
        name=role,
        role=role,
        venue_id=venue_id,
        token_hash=hash_token(raw),
        now=clock.now(),
    )
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def jobs(ctx: Container) -> Recorder:
    recorder = Recorder()
    use_jobs(
        ctx,
        spec("ok", recorder.ok, minutes=5, dry_run=True),
        spec("boom", recorder.boom),
        spec("hold", recorder.hold, lease=LONG_LEASE),
    )
    return recorder


@pytest.fixture
def api(ctx: Container, jobs: Recorder) -> Iterator[TestClient]:
    """The API without this process's scheduler (an API-only node)."""
    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        yield client


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["id"]: job for job in body["jobs"]}


def test_only_admins_reach_the_jobs_api(
    api: TestClient, ctx: Container, clock: ManualClock
) -> None:
    make_venue(ctx.engine, "v1", now=clock.now())
    manager = issue(ctx, clock, "venue_manager", "v1")
    ingest = issue(ctx, clock, "ingest", None)
    for method, path in [
        ("get", "/api/admin/jobs"),
        ("post", "/api/admin/jobs/ok/run"),
        ("post", "/api/admin/jobs/ok/pause"),
        ("post", "/api/admin/jobs/ok/resume"),
        ("get", "/api/admin/jobs/ok/runs"),
    ]:
        assert getattr(api, method)(path).status_code == 401
        assert (
            getattr(api, method)(path, headers={"Authorization": "Bearer bad"}).status_code == 401
        )
        assert getattr(api, method)(path, headers=manager).status_code == 403
        assert getattr(api, method)(path, headers=ingest).status_code == 403
    assert ctx.job_runs.list_runs(job_id="ok") == []


def test_listing_shows_every_job_and_the_scheduler_state(api: TestClient) -> None:
    body = api.get("/api/admin/jobs", headers=ADMIN).json()
    assert body["scheduler"] == {"running": False, "executor": "apscheduler"}
    jobs = by_id(body)
    assert set(jobs) == {"ok", "boom", "hold"}
    assert jobs["ok"]["trigger"] == "every 5 min"
    assert jobs["ok"]["paused"] is False and jobs["ok"]["last_run"] is None
    assert set(jobs["ok"]) >= {"id", "trigger", "next_run_time", "paused", "last_run"}


def test_run_now_returns_the_finished_record(api: TestClient, jobs: Recorder) -> None:
    response = api.post("/api/admin/jobs/ok/run", headers=ADMIN)
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "success" and run["trigger"] == "manual"
    assert run["started_at"] == "2026-03-10T12:00:00Z" and run["finished_at"].endswith("Z")
    assert run["items_processed"] == 3 and run["error"] is None
    assert set(run) >= {
        "run_id",
        "job_id",
        "trigger",
        "fire_time",
        "status",
        "started_at",
        "finished_at",
        "duration_ms",
        "items_processed",
        "details",
        "error",
    }
    assert len(jobs.calls) == 1
    listed = by_id(api.get("/api/admin/jobs", headers=ADMIN).json())
    assert listed["ok"]["last_run"]["run_id"] == run["run_id"]
    dry = api.post("/api/admin/jobs/ok/run?dry_run=true", headers=ADMIN).json()
    assert dry["details"]["params"] == {"dry_run": True} and dry["dry_run"] is True
    assert run["dry_run"] is False


def test_a_dry_run_of_a_job_that_cannot_preview_is_refused(api: TestClient, jobs: Recorder) -> None:
    refused = api.post("/api/admin/jobs/boom/run?dry_run=true", headers=ADMIN)
    assert refused.status_code == 400 and "boom does not support dry runs" in refused.text
    assert api.get("/api/admin/jobs/boom/runs", headers=ADMIN).json()["runs"] == []


def test_a_failed_run_is_returned_with_its_error(api: TestClient) -> None:
    run = api.post("/api/admin/jobs/boom/run", headers=ADMIN).json()
    assert run["status"] == "failed" and run["error"] == "RuntimeError: database on fire"


def test_unknown_job_ids_are_404(api: TestClient) -> None:
    for method, path in [
        ("post", "/api/admin/jobs/nope/run"),
        ("post", "/api/admin/jobs/nope/pause"),
        ("post", "/api/admin/jobs/nope/resume"),
        ("get", "/api/admin/jobs/nope/runs"),
    ]:
        assert getattr(api, method)(path, headers=ADMIN).status_code == 404


def test_run_now_while_running_elsewhere_is_409(
    api: TestClient, ctx: Container, jobs: Recorder
) -> None:
    elsewhere = threading.Thread(
        target=lambda: run_job(ctx, "hold", trigger=RunTrigger.SCHEDULE, fire_time=ctx.clock.now()),
        daemon=True,
    )
    elsewhere.start()
    assert jobs.entered.wait(10)
    try:
        response = api.post("/api/admin/jobs/hold/run", headers=ADMIN)
        assert response.status_code == 409
        assert "already running" in response.json()["detail"]
    finally:
        jobs.release.set()
        elsewhere.join(10)
    assert len(ctx.job_runs.list_runs(job_id="hold")) == 1


def test_pause_and_resume_persist_through_the_job_store(api: TestClient, ctx: Container) -> None:
    paused = api.post("/api/admin/jobs/ok/pause", headers=ADMIN)
    assert paused.status_code == 200
    assert paused.json()["paused"] is True and paused.json()["next_run_time"] is None
    assert by_id(api.get("/api/admin/jobs", headers=ADMIN).json())["ok"]["paused"] is True
    with TestClient(create_app(ctx, start_scheduler=False)) as other_node:
        assert by_id(other_node.get("/api/admin/jobs", headers=ADMIN).json())["ok"]["paused"]
    resumed = api.post("/api/admin/jobs/ok/resume", headers=ADMIN).json()
    assert resumed["paused"] is False and resumed["next_run_time"].endswith("Z")


def test_run_history_is_newest_first_and_limited(api: TestClient, clock: ManualClock) -> None:
    for _ in range(3):
        api.post("/api/admin/jobs/ok/run", headers=ADMIN)
        clock.advance(seconds=5)
    runs = api.get("/api/admin/jobs/ok/runs?limit=2", headers=ADMIN).json()["runs"]
    assert [r["started_at"] for r in runs] == ["2026-03-10T12:00:10Z", "2026-03-10T12:00:05Z"]
    assert api.get("/api/admin/jobs/ok/runs?limit=0", headers=ADMIN).status_code == 422
    bad = api.get("/api/admin/jobs/ok/runs?limit=x", headers=ADMIN)
    assert bad.status_code == 422 and "limit" in str(bad.json()["detail"])


def test_run_history_pages_with_a_cursor_through_every_run(
    api: TestClient, clock: ManualClock
) -> None:
    for _ in range(7):  # two runs share each start time: the run id breaks the tie
        api.post("/api/admin/jobs/ok/run", headers=ADMIN)
        api.post("/api/admin/jobs/ok/run", headers=ADMIN)
        clock.advance(seconds=5)
    seen: list[int] = []
    url = "/api/admin/jobs/ok/runs?limit=4"
    while url:
        page = api.get(url, headers=ADMIN).json()
        seen += [r["run_id"] for r in page["runs"]]
        url = (
            f"/api/admin/jobs/ok/runs?limit=4&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 14
    bad = api.get("/api/admin/jobs/ok/runs?cursor=nonsense", headers=ADMIN)
    assert bad.status_code == 422 and "cursor" in str(bad.json()["detail"])


def test_health_needs_no_token_and_reports_the_scheduler(
    api: TestClient, ctx: Container, clock: ManualClock
) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    down = api.get("/health/scheduler")
    assert down.status_code == 503 and down.json()["reason"] == "scheduler is not running"
    clock.set(datetime.now(UTC))  # the served scheduler runs on real time
    with TestClient(create_app(ctx)) as served:
        up = served.get("/health/scheduler")
        assert up.status_code == 200 and up.json()["status"] == "ok"
        assert served.get("/api/admin/jobs", headers=ADMIN).json()["scheduler"]["running"] is True
        clock.advance(hours=1)  # every 5-min job now looks 12 intervals overdue
        stale = served.get("/health/scheduler")
        assert stale.status_code == 503 and "overdue" in stale.json()["reason"]
