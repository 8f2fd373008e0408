"""GET /metrics: Prometheus text without auth; run counters fed by the run recorder, gauges
read from the database (alerts by level, queue depth, replies, last runs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from factories import make_customer, make_feedback, make_venue
from fastapi.testclient import TestClient
from metrics_support import scrape, value
from prometheus_client.parser import text_string_to_metric_families

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.observability.metrics import render
from encore_backend.scheduler.runner import record_tick, run_job
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.ops_counts import SqlOpsCountStore


@pytest.fixture
def client(ctx: Container) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, start_scheduler=False)) as test_client:
        yield test_client


def seed(ctx: Container, clock: ManualClock) -> None:
    """Two happy guests at an auto-sending venue, and one critical complaint."""
    now = clock.now()
    make_venue(ctx.engine, "v1", now=now, settings={"auto_send_enabled": True})
    for n, comment in enumerate(("Lovely evening.", "Great food.", "I got food poisoning.")):
        customer = make_customer(ctx.engine, now=now, email=f"guest{n}@example.com")
        make_feedback(
            ctx.engine,
            "v1",
            created_at=now - timedelta(hours=1),
            rating=5 if n < 2 else 1,
            comment=comment,
            customer_id=customer,
        )


def test_metrics_count_runs_and_read_gauges(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    seed(ctx, clock)
    before = scrape(client)
    for job_id in ("alert_detector", "ai_generator", "stats_aggregator"):
        assert run_job(ctx, job_id, trigger=RunTrigger.MANUAL)["status"] == RunStatus.SUCCESS
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ran = {"job_id": "alert_detector", "trigger": "manual", "status": "success"}
    assert delta("encore_job_runs_total", **ran) == 1
    assert delta("encore_job_items_processed_total", job_id="alert_detector") == 3
    assert delta("encore_job_duration_seconds_count", job_id="ai_generator") == 1
    assert value(after, "encore_job_last_run_success", job_id="stats_aggregator") == 1
    assert value(after, "encore_job_last_run_items", job_id="alert_detector") == 3
    assert value(after, "encore_alerts", level="critical") == 1
    assert value(after, "encore_alerts", level="high") == 0  # one alert per feedback: its top level
    # Two auto-approved replies, and the critical alert's email to the venue's one manager.
    assert value(after, "encore_email_queue_items", kind="reply", status="pending") == 2
    assert value(after, "encore_email_queue_items", kind="alert", status="pending") == 1
    assert ("encore_email_queue_items", (("kind", "report"), ("status", "failed"))) in after
    assert value(after, "encore_ai_replies", status="auto_approved") == 2
    assert value(after, "encore_ai_replies", status="pending_approval") == 1
    assert ("encore_webhook_deliveries", (("status", "failed"),)) in after


def test_failed_and_missed_runs_are_counted(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    before = scrape(client)
    failed = run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL, params={"batch_size": "x"})
    assert failed["status"] == RunStatus.FAILED
    record_tick(ctx, "stats_aggregator", fire_time=clock.now(), status=RunStatus.MISSED)
    after = scrape(client)
    assert (
        value(after, "encore_job_failures_total", job_id="alert_detector")
        - value(before, "encore_job_failures_total", job_id="alert_detector")
        == 1
    )
    missed = {"job_id": "stats_aggregator", "trigger": "schedule", "status": "missed"}
    assert (
        value(after, "encore_job_runs_total", **missed)
        - value(before, "encore_job_runs_total", **missed)
        == 1
    )
    assert value(after, "encore_job_last_run_success", job_id="alert_detector") == 0


def test_a_store_that_cannot_be_reached_drops_only_its_own_family(
    ctx: Container, clock: ManualClock
) -> None:
    seed(ctx, clock)
    down = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")
    try:
        text = render(replace(ctx, ops_counts=SqlOpsCountStore(down))).decode()
    finally:
        down.dispose()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert "encore_ai_replies" not in names  # read from the unreachable store
    assert {"encore_alerts", "encore_email_queue_items", "encore_webhook_deliveries"} <= names


def test_seconds_since_each_jobs_last_success_read_on_the_containers_clock(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    """A failed run or a dry run after it does not reset it; a job that never succeeded has no
    sample; the embedded profile has no fleet families."""
    succeeded = run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL)
    assert succeeded["status"] == RunStatus.SUCCESS
    clock.advance(seconds=60)
    failed = run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL, params={"batch_size": "x"})
    assert failed["status"] == RunStatus.FAILED
    dry = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL, params={"dry_run": True})
    assert dry["status"] == RunStatus.SUCCESS and dry["dry_run"]
    clock.advance(seconds=30)
    samples = scrape(client)
    assert value(samples, "encore_job_seconds_since_success", job_id="alert_detector") == 90
    assert ("encore_job_seconds_since_success", (("job_id", "ai_generator"),)) not in samples
    assert ctx.job_runs.latest_success(job_id="alert_detector")["run_id"] == succeeded["run_id"]
    assert ctx.job_runs.latest_success(job_id="ai_generator") is None
    assert not any(name.startswith("encore_fleet_") for name, _ in samples)
