"""Two alert detectors, real processes, race on one MariaDB and one DynamoDB (moto's server):
no alert twice, and each alert's webhook delivery and manager emails exist once.

Both detectors scan the same unscanned feedback at the same instant with different batch sizes,
so their batches overlap partly and shift against each other (alert_proc.py; the job runner's
lease is bypassed on purpose). Afterwards every feedback is scanned once, every alert is stored
and reported once, and the deliveries (SQL) and emails (DynamoDB queue) match the alerts. Kept
small: moto copies a whole table for every transaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import make_feedback, make_venue
from sqlalchemy import Engine, func, select
from support.databases import scratch_database
from support.derived import queued_emails
from support.dynamo import CREDENTIAL_ENV, dynamo_settings, fresh_tables

from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.migrate import upgrade

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("alert_proc.py")
BATCHES = ("20", "30")
FEEDBACK = 150
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
MANAGERS = ["ana@venue.example", "ben@venue.example"]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    for url, engine in scratch_database("mariadb", tmp_path):
        upgrade(engine)
        yield url, engine


@pytest.fixture
def profile(
    database: tuple[str, Engine], moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        encore_database_url=database[0],
        encore_admin_token="reliability",
        encore_outbox_dir=str(tmp_path / "outbox"),
    )
    profile = dynamo_settings(settings, moto_url)
    fresh_tables(profile)
    return profile


def race(profile: Settings, tmp_path: Path) -> list[dict[str, int]]:
    """Start the detectors, let them all get ready, then go; what each one did."""
    env = {
        **os.environ,
        "ENCORE_DATABASE_URL": profile.encore_database_url,
        "ENCORE_ADMIN_TOKEN": "reliability",
        "AWS_DEFAULT_REGION": profile.aws_region,
    }
    go = tmp_path / "go"
    args = [str(profile.dynamodb_endpoint_url), profile.encore_dynamodb_table_prefix]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(go), NOW.isoformat(), batch, *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        for batch in BATCHES
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [proc.communicate(timeout=120)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * len(procs), outputs
    return [{k: int(v) for k, v in (p.split("=") for p in line.split())} for line in outputs]


def test_two_detectors_never_store_or_notify_an_alert_twice(
    database: tuple[str, Engine], profile: Settings, tmp_path: Path
) -> None:
    _, engine = database
    make_venue(
        engine,
        "v1",
        now=NOW - timedelta(days=30),
        webhook_url="http://127.0.0.1:9/hook",
        manager_emails=MANAGERS,
    )
    for n in range(FEEDBACK):
        comment = "We got food poisoning" if n % 3 == 0 else "Lovely evening"
        make_feedback(engine, "v1", created_at=NOW - timedelta(minutes=n), comment=comment)

    done = race(profile, tmp_path)

    ctx: Container = build(profile, engine=engine)
    alerts = ctx.alerts.list_for_venue("v1", limit=FEEDBACK)
    assert len(alerts) == FEEDBACK // 3
    assert len({a["feedback_id"] for a in alerts}) == len(alerts)
    assert sum(d["scanned"] for d in done) == FEEDBACK
    assert sum(d["alerts"] for d in done) == len(alerts)  # each alert reported by one detector
    assert ctx.alerts.unscanned(limit=10) == []
    with engine.connect() as conn:
        deliveries = Counter(conn.execute(select(m.webhook_deliveries.c.alert_id)).scalars())
        assert conn.execute(select(func.count()).select_from(m.alerts)).scalar_one() == 0
    assert deliveries == Counter(a["alert_id"] for a in alerts)
    assert sum(d["deliveries"] for d in done) == len(alerts)
    emails = Counter(
        (q["alert_id"], q["customer_email"])
        for q in queued_emails(ctx, "v1")
        if q["kind"] == "alert"
    )
    assert emails == Counter((a["alert_id"], e) for a in alerts for e in MANAGERS)
    assert ctx.alerts.count_by_level() == {"critical": len(alerts)}
