"""The DynamoDB profile end to end, as an operator runs it: `encore serve` with
ENCORE_DERIVED_STORE=dynamodb on moto's server (DynamoDB and SES) over a SQLite source of truth.

Ingest → alert → draft → send through SES, read back from the emulator's sent messages; the
stats API and the venue dashboard read their snapshot from DynamoDB (the SQL derived tables stay
empty); then `kill -9`, restart: the schedule and a pause survive in the DynamoDB job store.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from factories import make_venue
from serve_proc import ADMIN, ADMIN_TOKEN, Serve, wait_until
from sqlalchemy import func, select
from support.dynamo import CREDENTIAL_ENV, dynamo_settings
from support.moto_server import FAKE_CREDENTIALS, moto_server, sent_raw_messages

from encore_backend.api.deps import SESSION_COOKIE
from encore_backend.config import Settings
from encore_backend.storage.dynamodb.codec import decode
from encore_backend.storage.dynamodb.connection import Dynamo, connect
from encore_backend.storage.dynamodb.schema import COMPUTED_STATS, SCHEDULER_JOBS
from encore_backend.storage.dynamodb.tables import create_tables
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade

pytestmark = pytest.mark.slow
SENDER = "replies@encore.example"
FAST = "0.05"  # 3-second ticks


def profile_env(moto_url: str, prefix: str) -> dict[str, str]:
    return {
        "ENCORE_DERIVED_STORE": "dynamodb",
        "DYNAMODB_ENDPOINT_URL": moto_url,
        "ENCORE_DYNAMODB_TABLE_PREFIX": prefix,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SESV2": moto_url,  # the SDK's own per-service endpoint variable
        **CREDENTIAL_ENV,
        "EMAIL_BACKEND": "ses",
        "EMAIL_FROM": f"Encore <{SENDER}>",
        "SCHEDULER_AI_INTERVAL_MINUTES": FAST,
        "SCHEDULER_EMAIL_INTERVAL_MINUTES": FAST,
    }


def snapshot_items(dynamo: Dynamo, venue_id: str) -> list[dict[str, Any]]:
    items = dynamo.pages(
        "query",
        TableName=dynamo.name(COMPUTED_STATS),
        KeyConditionExpression="venue_id = :v",
        ExpressionAttributeValues={":v": {"S": venue_id}},
    )
    return [decode(i) for i in items]


def decode_stats(snapshot: dict[str, Any]) -> dict[str, Any]:
    return dict(snapshot["stats"])


@pytest.fixture
def own_moto() -> Iterator[str]:
    """A moto server of this test's own: the session's holds every other test's tables, and
    its /moto-api/data.json (where SES's sent mail is read) grows too slow to answer."""
    with moto_server() as url:
        yield url


def test_ingest_alert_draft_send_and_dashboards_run_on_dynamodb(
    own_moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_url = own_moto
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    prefix = f"e2e{secrets.token_hex(4)}_"
    dynamo = connect(dynamo_settings(Settings(_env_file=None), moto_url, prefix))  # type: ignore[call-arg]
    create_tables(dynamo)
    ses = boto3.client("sesv2", endpoint_url=moto_url, **FAKE_CREDENTIALS)
    ses.create_email_identity(EmailIdentity=SENDER)
    db_url = f"sqlite:///{tmp_path / 'encore.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    settings = {"auto_send_enabled": True, "auto_send_delay_minutes": 0}
    make_venue(engine, "v-dyn", now=datetime.now(UTC), settings=settings)
    customer = f"guest-{secrets.token_hex(3)}@example.com"
    already = len(sent_raw_messages(moto_url))

    server = Serve(db_url, tmp_path, "serve-dyn", profile_env(moto_url, prefix))
    try:
        server.wait_healthy()
        for rating, comment, email in (
            (2, "The fish gave me food poisoning", f"ill-{customer}"),
            (5, "Lovely evening, thank you", customer),
        ):
            body = {"venue_id": "v-dyn", "rating": rating, "comment": comment}
            body["customer"] = {"email": email, "name": "Dana"}
            posted = server.http.post("/api/feedback", headers=ADMIN, json=body)
            assert posted.status_code in (200, 201), posted.text
        alerts = wait_until(
            lambda: server.http.get("/api/venues/v-dyn/alerts", headers=ADMIN).json()["alerts"],
            30,
            "no alert",
        )
        assert alerts[0]["level"] == "critical"

        def delivered() -> list[dict[str, Any]]:
            fresh = sent_raw_messages(moto_url)[already:]
            return [m for m in fresh if any(customer in d for d in m["destinations"])]

        messages = wait_until(delivered, 60, "no reply sent")
        assert len(messages) == 1

        def reply_statuses() -> bool:
            replies = server.http.get("/api/venues/v-dyn/responses", headers=ADMIN).json()
            statuses = sorted(r["status"] for r in replies["responses"])
            # the reply to the critical alert waits for a manager; the other one went out
            return statuses == ["pending_approval", "sent"]

        wait_until(reply_statuses, 30, "replies not in their final statuses")

        server.http.post("/api/admin/jobs/stats_aggregator/run", headers=ADMIN)

        def stats_read() -> httpx.Response | None:
            response = server.http.get("/api/venues/v-dyn/stats", headers=ADMIN)
            return response if response.status_code == 200 else None

        stats = wait_until(stats_read, 30, "no stats")
        served = stats.json()  # a later tick may add snapshots: find the one the API served
        same = [
            s
            for s in snapshot_items(dynamo, "v-dyn")
            if s["computed_at"].startswith(served["computed_at"].replace("Z", ""))
        ]
        assert len(same) == 1 and served["stats"] == decode_stats(same[0])
        page = server.http.get("/venues/v-dyn", cookies={SESSION_COOKIE: ADMIN_TOKEN})
        assert page.status_code == 200 and "v-dyn" in page.text
        with engine.connect() as conn:  # nothing derived landed in SQL
            for table in (m.alerts, m.ai_responses, m.email_queue, m.computed_stats):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0

        paused = server.http.post("/api/admin/jobs/weekly_report/pause", headers=ADMIN)
        assert paused.status_code == 200
        server.kill9()
        server = Serve(db_url, tmp_path, "serve-dyn-2", profile_env(moto_url, prefix))
        server.wait_healthy()
        listing = server.http.get("/api/admin/jobs", headers=ADMIN).json()["jobs"]
        jobs = {j["id"]: j for j in listing}
        assert jobs["weekly_report"]["paused"] is True
        stored = dynamo.pages(
            "query",
            TableName=dynamo.name(SCHEDULER_JOBS),
            IndexName="next_run",
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "store"},
            ExpressionAttributeValues={":s": {"S": "jobs"}},
        )
        assert {"weekly_report", "email_sender"} <= {i["id"]["S"] for i in stored}
    finally:
        server.stop()
