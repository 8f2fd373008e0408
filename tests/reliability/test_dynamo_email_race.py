"""Two real worker processes racing on one DynamoDB email queue (moto's server), with the source
of truth on MariaDB, sending through a real SMTP server here.

Given 200 due reply emails (replies and queue items in DynamoDB, their feedback and customers in
MariaDB), when two email_sender processes drain the queue at once, expect every message
received exactly once (counted per Message-ID), every item and reply `sent`, every feedback
`responded`; and the DynamoDB requests per email sent stay a small constant (printed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import make_venue
from sqlalchemy import Engine, func, select
from support.databases import SERVER_URLS, create_database, drop_database, require_service
from support.dynamo import CREDENTIAL_ENV, dynamo_settings, fresh_tables
from support.smtp_server import RecordingHandler, smtp_server
from support.worker_rows import DUE_A_MINUTE_AGO, insert_sources, item_row, reply_row

from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.storage.dynamodb.queue_items import new_item_writes
from encore_backend.storage.dynamodb.writes import transact
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade

pytestmark = pytest.mark.slow
WORKER = str(Path(__file__).with_name("email_worker_proc.py"))
ITEMS = 200
ITEMS_PER_TRANSACTION = 50  # an item and its guard: 100 actions, DynamoDB's maximum
LEASE_SECONDS = 30.0


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    host, port, _ = SERVER_URLS["mariadb"]
    require_service("mariadb", host, port)
    url = create_database("mariadb", tmp_path)
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database("mariadb", url)


@pytest.fixture
def profile(
    mariadb: tuple[str, Engine], moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    base = Settings(_env_file=None, encore_database_url=mariadb[0])  # type: ignore[call-arg]
    settings = dynamo_settings(base, moto_url)
    fresh_tables(settings)
    return settings


def seed(ctx: Container, count: int) -> list[str]:
    """`count` due reply emails: customers and feedback in SQL, replies (import_history) and
    queue items (the queue layout's own writes) in DynamoDB; their Message-IDs."""
    now = datetime.now(UTC)
    ids = range(1, count + 1)
    with ctx.engine.begin() as conn:
        insert_sources(conn, ids, now)
    changes = [_unchanged(i) for i in ids]
    ctx.replies.import_history([reply_row(i, now) for i in ids], changes)
    items = [item_row(i, now, now + DUE_A_MINUTE_AGO) for i in ids]
    dynamo = ctx.email_queue.dynamo  # type: ignore[attr-defined]
    for start in range(0, count, ITEMS_PER_TRANSACTION):
        chunk = items[start : start + ITEMS_PER_TRANSACTION]
        assert transact(dynamo, new_item_writes(dynamo, chunk)) is None
    return [item["message_id"] for item in items]


def _unchanged(i: int) -> dict[str, Any]:
    return {"feedback_id": i, "status": "pending", "responded_at": None, "response_seconds": None}


def start_worker(env: dict[str, str], workdir: Path, name: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("wb")
    command = [sys.executable, WORKER, str(workdir / "stop"), str(LEASE_SECONDS), "dynamodb"]
    return subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


def worker_env(settings: Settings, smtp_port: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        CREDENTIAL_ENV,
        ENCORE_DATABASE_URL=settings.encore_database_url,
        ENCORE_ADMIN_TOKEN="reliability-admin-token",
        DYNAMODB_ENDPOINT_URL=str(settings.dynamodb_endpoint_url),
        AWS_REGION=settings.aws_region,
        ENCORE_DYNAMODB_TABLE_PREFIX=settings.encore_dynamodb_table_prefix,
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        MAX_EMAILS_PER_MINUTE="5000",  # limits lifted (one slot row per permit per minute)
    )
    return env


def requests_of(log: str) -> Counter[str]:
    """The `dynamo.<Operation>=<n>` counts a worker printed when it stopped."""
    return Counter({op: int(n) for op, n in re.findall(r"dynamo\.(\w+)=(\d+)", log)})


def test_two_processes_on_one_dynamodb_queue_send_each_email_once(
    profile: Settings, tmp_path: Path
) -> None:
    ctx = build(profile)
    make_venue(ctx.engine, "v1", now=datetime.now(UTC))
    batch = seed(ctx, ITEMS)
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        env = worker_env(profile, port)
        started = time.monotonic()
        workers = [start_worker(env, tmp_path, name) for name in ("a", "b")]
        deadline = time.monotonic() + 180
        # Watch the SMTP server, not the queue: moto answers one request at a time.
        while len(handler.messages) < ITEMS or ctx.email_queue.count_by_status() != {"sent": ITEMS}:
            assert all(w.poll() is None for w in workers), "a worker exited early"
            assert time.monotonic() < deadline, ctx.email_queue.count_by_status()
            time.sleep(0.5 if len(handler.messages) < ITEMS else 0.1)
        elapsed = time.monotonic() - started
        (tmp_path / "stop").touch()
        for worker in workers:
            worker.wait(timeout=60)
    received = Counter(str(message["Message-ID"]) for message in handler.messages)
    assert set(received) == set(batch) and set(received.values()) == {1}
    assert ctx.replies.replies_by_status() == {"sent": ITEMS}  # type: ignore[attr-defined]
    with ctx.engine.connect() as conn:
        responded = select(func.count()).where(m.feedback.c.status == "responded")
        assert conn.execute(responded).scalar_one() == ITEMS

    logs = [(tmp_path / f"{name}.log").read_text() for name in ("a", "b")]
    sent = [int(re.search(r"\bsent=(\d+)", log).group(1)) for log in logs]  # type: ignore[union-attr]
    assert sum(sent) == ITEMS and min(sent) > 0, logs  # both took part
    requests = sum((requests_of(log) for log in logs), Counter())
    per_email = sum(requests.values()) / ITEMS
    print(
        f"{ITEMS} emails by two processes in {elapsed:.1f}s; DynamoDB requests per email "
        f"{per_email:.2f}: " + ", ".join(f"{op} {n / ITEMS:.2f}" for op, n in requests.items())
    )
    assert per_email < 8, requests
