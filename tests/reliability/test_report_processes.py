"""Reports and their emails to managers are made once, however many processes make them at once.

Three real worker processes (report_proc.py; one looking back a day, two a week) produce the
daily and weekly reports due at the same instant on one database, racing on its unique keys
(the job runner's lease is bypassed on purpose). Afterwards every venue, kind and period has one
report, the workers' counts add up to the table, and only the newest report of each venue and
kind has emails: one per manager.
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
from factories import make_venue
from sqlalchemy import Engine, select
from support.databases import scratch_database

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.migrate import upgrade

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("report_proc.py")
LOOKBACKS = ("1", "7", "7")  # an hourly run racing two catch-up runs (days looked back)
VENUES = 120
ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC")
MANAGERS = ["ana@venue.example", "ben@venue.example"]
NOW = datetime(2026, 3, 16, 23, 30, tzinfo=UTC)  # a Monday: weekly reports are due too


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    for url, engine in scratch_database(request.param, tmp_path):
        upgrade(engine)
        yield url, engine


def rows(engine: Engine, table: m.Table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def race(url: str, tmp_path: Path) -> list[str]:
    """Start the workers, let them all get ready, then go; their final lines."""
    env = {**os.environ, "ENCORE_DATABASE_URL": url, "ENCORE_ADMIN_TOKEN": "reliability"}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(go), NOW.isoformat(), lookback],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        for lookback in LOOKBACKS
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [proc.communicate(timeout=120)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * len(procs), outputs
    return outputs


def test_racing_processes_make_each_report_and_its_emails_once(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    for i in range(VENUES):
        make_venue(
            engine,
            f"v{i:03d}",
            now=NOW - timedelta(days=30),
            timezone=ZONES[i % len(ZONES)],
            manager_emails=MANAGERS,
        )

    outputs = race(url, tmp_path)

    created = Counter()
    for line in outputs:
        created.update({k: int(v) for k, v in (part.split("=") for part in line.split())})
    reports = rows(engine, m.reports)
    keys = Counter((r["venue_id"], r["kind"], r["period_start"]) for r in reports)
    assert max(keys.values()) == 1
    by_kind = Counter(r["kind"] for r in reports)
    assert created == by_kind  # each worker counted only what it inserted
    assert by_kind["daily"] == VENUES * 7 and by_kind["weekly"] >= VENUES

    newest: dict[tuple[str, str], dict] = {}
    for r in reports:
        key = (r["venue_id"], r["kind"])
        if key not in newest or r["period_start"] > newest[key]["period_start"]:
            newest[key] = r
    items = [q for q in rows(engine, m.email_queue) if q["kind"] == "report"]
    mailed = Counter(q["report_id"] for q in items)
    assert set(mailed) == {r["report_id"] for r in newest.values()}
    assert set(mailed.values()) == {len(MANAGERS)}
    assert len({(q["report_id"], q["customer_email"]) for q in items}) == len(items)
