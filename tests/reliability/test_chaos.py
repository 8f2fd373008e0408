"""Faults under load, real processes: `encore serve` killed with SIGKILL ten times during a
mixed workload (ingest, alerts, drafts, sends to a real SMTP server, reports) on one MariaDB.

Afterwards: every posted feedback is stored once, has its alert (when alarming) and one reply;
no email reached the SMTP server twice; every queue item is sent, cancelled, or parked (a send
cut off by the kill: `sending` until its lease ends, then failed "outcome unknown"); no report
twice. The figures go to test-artifacts/chaos.json for the record.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import make_venue
from serve_proc import ADMIN, Serve, wait_until
from sqlalchemy import Engine, func, select
from support.databases import scratch_database
from support.smtp_server import RecordingHandler, smtp_server

from encore_backend.storage.sql.migrate import upgrade
from encore_backend.storage.sql.models import (
    ai_responses,
    alerts,
    email_queue,
    feedback,
    reports,
)

pytestmark = pytest.mark.slow
KILLS = 10
VENUES = ("chaos-a", "chaos-b", "chaos-c")
COMMENTS = (
    ("I got food poisoning after the oysters.", True),
    ("Found a roach under the table.", True),
    ("Lovely evening, great staff.", False),
    ("Nice wine list, slow dessert.", False),
    ("The music was a bit loud.", False),
)
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "chaos.json"


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    yield from scratch_database("mariadb", tmp_path)


class Poster(threading.Thread):
    """Posts feedback to whichever server is up; retries an item (same external_id) until
    one server has answered it, so an item is never lost and never duplicated by a retry."""

    def __init__(self, server: list[Serve]) -> None:
        super().__init__(name="poster", daemon=True)
        self.server = server
        self.posted: dict[str, bool] = {}  # external_id -> alarming
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            comment, alarming = COMMENTS[i % len(COMMENTS)]
            body = {
                "venue_id": VENUES[i % len(VENUES)],
                "rating": 2 if alarming else 4,
                "comment": comment,
                "customer": {"email": f"guest{i}@example.com", "name": f"Guest {i}"},
                "external_id": f"chaos-{i}",
            }
            if self._post(body):
                self.posted[body["external_id"]] = alarming
                i += 1
            time.sleep(0.05)

    def _post(self, body: dict[str, Any]) -> bool:
        try:
            response = self.server[0].http.post("/api/feedback", json=body, headers=ADMIN)
        except (httpx.TransportError, RuntimeError):  # killed (its client closed) or restarting
            time.sleep(0.2)
            return False
        return response.status_code in (200, 201)


def env_for(smtp_port: int) -> dict[str, str]:
    fast = "0.05"  # 3-second ticks for every interval job
    return {
        "SCHEDULER_AI_INTERVAL_MINUTES": fast,
        "SCHEDULER_EMAIL_INTERVAL_MINUTES": fast,
        "SCHEDULER_DAILY_REPORT_HOUR": "0",
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "MAX_EMAILS_PER_MINUTE": "6000",
        "MAX_AI_GENERATIONS_PER_MINUTE": "6000",
    }


def test_ten_kill_9_under_mixed_load_lose_nothing_and_send_nothing_twice(
    mariadb: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = mariadb
    upgrade(engine)
    now = datetime.now(UTC)
    settings = {"auto_send_enabled": True, "auto_send_delay_minutes": 0}
    for venue in VENUES:
        make_venue(engine, venue, now=now, settings=settings)
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        env = env_for(port)
        server = [Serve(url, tmp_path, "serve-0", env)]
        server[0].wait_healthy()
        poster = Poster(server)
        poster.start()
        rng = random.Random(8)
        for kill in range(1, KILLS + 1):
            time.sleep(rng.uniform(2.0, 5.0))
            run_reports(server[0])
            server[0].kill9()
            server[0] = Serve(url, tmp_path, f"serve-{kill}", env)
            server[0].wait_healthy()
        time.sleep(2)
        assert poster.is_alive()  # it posted through every kill
        poster.stop.set()
        poster.join(10)
        assert len(poster.posted) >= 200
        wait_until(lambda: settled(engine, len(poster.posted)), 90, "did not settle")
        assert server[0].stop()
    figures = check(engine, handler, poster.posted)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps({"kills": KILLS, **figures}, indent=2))


def run_reports(server: Serve) -> None:
    """Ask for the daily report run now (a kill may cut it off: that is the point)."""
    with contextlib.suppress(httpx.TransportError):
        server.http.post("/api/admin/jobs/daily_report/run", headers=ADMIN, timeout=5)


def settled(engine: Engine, posted: int) -> bool:
    """Every feedback scanned and replied to; no email still waiting to be sent."""
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(feedback)).scalar_one()
        unscanned = conn.execute(
            select(func.count()).where(feedback.c.alert_scanned_at.is_(None))
        ).scalar_one()
        replies = conn.execute(select(func.count()).select_from(ai_responses)).scalar_one()
        waiting = conn.execute(
            select(func.count()).where(email_queue.c.status == "pending")
        ).scalar_one()
    return stored == posted and unscanned == 0 and replies == posted and waiting == 0


def check(engine: Engine, handler: RecordingHandler, posted: dict[str, bool]) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(feedback.c.feedback_id, feedback.c.external_id)).all()
        alert_ids = Counter(conn.execute(select(alerts.c.feedback_id)).scalars())
        reply_ids = Counter(conn.execute(select(ai_responses.c.feedback_id)).scalars())
        items = [dict(r._mapping) for r in conn.execute(select(email_queue))]
        report_keys = Counter(
            conn.execute(select(reports.c.venue_id, reports.c.kind, reports.c.period_start)).all()
        )
    by_external = {external: fid for fid, external in rows}
    assert sorted(by_external) == sorted(posted)  # every feedback stored, once
    for external, alarming in posted.items():
        assert alert_ids[by_external[external]] == (1 if alarming else 0), external
        assert reply_ids[by_external[external]] == 1, external
    deliveries = Counter(str(m["Message-ID"]).strip() for m in handler.messages)
    assert max(deliveries.values()) == 1  # no email twice
    statuses = Counter(item["status"] for item in items)
    assert set(statuses) <= {"sent", "cancelled", "failed", "sending"}, statuses
    sent_ids = {item["message_id"] for item in items if item["status"] == "sent"}
    parked = [i for i in items if i["status"] in ("failed", "sending")]
    assert sent_ids <= set(deliveries)  # every `sent` item reached the server
    assert all(i["status"] == "sending" or "outcome unknown" in (i["error"] or "") for i in parked)
    assert max(report_keys.values(), default=1) == 1  # no report twice
    return {
        "feedback": len(posted),
        "alerts": sum(alert_ids.values()),
        "replies": sum(reply_ids.values()),
        "emails_delivered": len(deliveries),
        "emails_delivered_twice": sum(1 for n in deliveries.values() if n > 1),
        "queue": dict(statuses),
        "parked_outcome_unknown": len(parked),
        "reports": sum(report_keys.values()),
        "lost": 0,
    }
