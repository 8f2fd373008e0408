"""Dry runs: every job either previews its work and changes nothing, or refuses the flag.

A database where every job has work waiting (unscanned feedback, feedback without a reply,
due emails, a report hour passed, stale snapshots); a dry run of each job through the API, and
through `encore run-job --dry-run`; then every table except the run history is byte-for-byte
what it was, and no email left.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import ADMIN, client
from factories import make_customer, make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from encore_backend.bootstrap import Container
from encore_backend.cli import app as cli
from encore_backend.clock import ManualClock
from encore_backend.scheduler.jobs import ai_generator, alert_detector
from encore_backend.scheduler.registry import REGISTRY
from encore_backend.storage.sql.models import job_runs, metadata

__all__ = ["client"]  # a fixture
JOB_IDS = [spec.id for spec in REGISTRY]


def world(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table but the run history, as sorted text."""
    state = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table is not job_runs:
                state[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return state


@pytest.fixture
def busy(ctx: Container, clock: ManualClock) -> Container:
    """Work waiting for every job: the first batch drafted and queued, the second untouched."""
    now = clock.now()
    venue = make_venue(
        ctx.engine,
        "v1",
        now=now - timedelta(days=40),
        settings={"auto_send_enabled": True, "auto_send_delay_minutes": 0},
    )
    for i, comment in enumerate(("Lovely.", "Found a roach.", "Cold soup.", "Rude waiter.")):
        customer = make_customer(ctx.engine, now=now, email=f"guest{i}@example.com")
        make_feedback(
            ctx.engine,
            venue,
            created_at=now - timedelta(hours=30),
            rating=2 + i % 3,
            comment=comment,
            customer_id=customer,
        )
    alert_detector.run(ctx, now)
    ai_generator.run(ctx, now)  # replies auto-approved with a queue item due now
    for i in range(3):
        make_feedback(ctx.engine, venue, created_at=now, rating=1, comment=f"I got sick #{i}")
    clock.advance(hours=1)
    assert ctx.email_queue.count_by_status().get("pending", 0) >= 3  # due for email_sender
    return ctx


def assert_previewed_or_refused(response: Any, job_id: str) -> None:
    if response.status_code == 400:
        assert f"{job_id} does not support dry runs" in response.json()["detail"]
        return
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["dry_run"] is True and record["status"] == "success", record


@pytest.mark.parametrize("job_id", JOB_IDS)
def test_a_dry_run_through_the_api_changes_nothing(
    busy: Container,
    client: TestClient,
    job_id: str,
) -> None:
    before = world(busy.engine)
    response = client.post(f"/api/admin/jobs/{job_id}/run?dry_run=true", headers=ADMIN)
    assert_previewed_or_refused(response, job_id)
    assert world(busy.engine) == before
    outbox = Path(busy.settings.encore_outbox_dir)
    assert not outbox.exists() or list(outbox.iterdir()) == []


def test_the_command_line_refuses_or_previews_every_job(
    busy: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATABASE_URL", busy.settings.encore_database_url)
    monkeypatch.setenv("ENCORE_OUTBOX_DIR", busy.settings.encore_outbox_dir)
    monkeypatch.chdir(Path(busy.settings.encore_outbox_dir).parent)  # away from a .env
    before = world(busy.engine)
    runner = CliRunner()
    supported = {spec.id for spec in REGISTRY if spec.dry_run}
    for job_id in JOB_IDS:
        result = runner.invoke(cli, ["run-job", job_id, "--dry-run"], env=dict(os.environ))
        if job_id in supported:
            assert result.exit_code == 0 and '"dry_run": true' in result.output, result.output
        else:
            assert result.exit_code == 2 and "does not support dry runs" in result.output
    assert world(busy.engine) == before
