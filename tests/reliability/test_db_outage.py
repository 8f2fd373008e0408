"""MariaDB stopped for 20 s under a running `encore serve` (3-second ticks), then started again.

The runs the outage cut off are recorded failed (their outcome is written once the database
answers), the scheduler leader steps down and is elected again, the next ticks run without a
restart of the server, and every feedback posted before and after has its alert.

The test stops the machine's MariaDB server; it always starts it again (scripts/ensure-services).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import make_venue
from serve_proc import ADMIN, Serve, schedule_runs, wait_until
from sqlalchemy import Engine, func, select
from support.chat_server import ChatScript, ScriptedReply, chat_server
from support.databases import scratch_database

from encore_backend.storage.sql.migrate import upgrade
from encore_backend.storage.sql.models import ai_responses, alerts, job_runs

pytestmark = [pytest.mark.slow, pytest.mark.exclusive]  # MariaDB goes down for everyone
REPO = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 20
JOBS = ("stats_aggregator", "alert_detector")
SLOW_DRAFTS = ScriptedReply(content="Thank you for telling us.\n\nThe team", delay=1.0)


def mariadb_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 3306), timeout=1):
            return True
    except OSError:
        return False


def stop_mariadb() -> None:
    subprocess.run(["mariadb-admin", "-uroot", "shutdown"], check=True, timeout=60)
    wait_until(lambda: not mariadb_answers(), 30, "MariaDB did not stop")


def start_mariadb() -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "ensure-services.sh")], check=True, timeout=120)
    wait_until(mariadb_answers, 60, "MariaDB did not start again")


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    try:
        yield from scratch_database("mariadb", tmp_path)
    finally:
        if not mariadb_answers():
            start_mariadb()


def post_alarming(server: Serve, count: int, start: int) -> list[int]:
    ids = []
    for i in range(start, start + count):
        body = {
            "venue_id": "v1",
            "rating": 2,
            "comment": "Found a roach.",
            "external_id": f"o{i}",
            "customer": {"email": f"guest{i}@example.com"},
        }
        response = server.http.post("/api/feedback", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        ids.append(response.json()["feedback_id"])
    return ids


def drafting(engine: Engine) -> bool:
    """An ai_generator run is under way (a draft takes a second at the endpoint)."""
    return any(r["status"] == "running" for r in schedule_runs(engine, "ai_generator"))


def running_before(engine: Engine, moment: datetime) -> list[Any]:
    query = select(job_runs.c.run_id).where(
        job_runs.c.status == "running", job_runs.c.started_at < moment
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def replied(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ai_responses)).scalar_one())


def alerted(engine: Engine, ids: list[int]) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(alerts.c.feedback_id.in_(ids))
        return int(conn.execute(query).scalar_one())


def test_mariadb_down_20_s_fails_the_cut_runs_and_ticks_recover_without_a_restart(
    mariadb: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = mariadb
    upgrade(engine)
    make_venue(engine, "v1", now=datetime.now(UTC))
    # Drafts take a second each at the AI endpoint: an ai_generator run is under way for the
    # whole backlog, so the outage cuts it in the middle.
    script = ChatScript()
    script.script(SLOW_DRAFTS)
    with chat_server(script) as chat_url:
        run_through_an_outage(url, engine, tmp_path, slow_ai(chat_url))


def slow_ai(chat_url: str) -> dict[str, str]:
    return {
        "AI_PROVIDER": "openai",
        "OPENAI_BASE_URL": chat_url,
        "OPENAI_API_KEY": "sk-test",
        "SCHEDULER_AI_INTERVAL_MINUTES": "0.05",
        "MAX_AI_GENERATIONS_PER_MINUTE": "600",
    }


def run_through_an_outage(url: str, engine: Engine, tmp_path: Path, env: dict[str, str]) -> None:
    server = Serve(url, tmp_path, "serve", env)
    try:
        server.wait_healthy()
        before = post_alarming(server, 10, 0)
        wait_until(lambda: alerted(engine, before) == 10, 15, "alerts before the outage")
        wait_until(lambda: drafting(engine), 30, "no ai_generator run under way")
        stopping_at = datetime.now(UTC)
        stop_mariadb()
        down_at = datetime.now(UTC)
        time.sleep(OUTAGE_SECONDS)
        start_mariadb()
        up_at = datetime.now(UTC)
        engine.dispose()

        def recovered() -> bool:
            return all(
                any(r["started_at"] > up_at and r["status"] == "success" for r in runs)
                for runs in (schedule_runs(engine, job) for job in JOBS)
            )

        wait_until(recovered, 45, f"ticks did not recover: {server.tail()}")
        assert server.proc.poll() is None  # the same process, never restarted
        after = post_alarming(server, 10, 10)
        wait_until(lambda: alerted(engine, after) == 10, 15, "alerts after the outage")
        assert alerted(engine, before) == 10
        # A run cut off by the outage writes its outcome once the database answers again.
        wait_until(lambda: not running_before(engine, up_at), 30, "a run is left running")
        with engine.connect() as conn:
            cut = (
                conn.execute(
                    select(job_runs.c.status).where(
                        job_runs.c.started_at >= down_at, job_runs.c.started_at < up_at
                    )
                )
                .scalars()
                .all()
            )
        drafts = schedule_runs(engine, "ai_generator")
        cut_off = [
            r for r in drafts if r["started_at"] < stopping_at <= (r["finished_at"] or up_at)
        ]
        assert cut_off and all(r["status"] == "failed" for r in cut_off), cut_off
        wait_until(lambda: replied(engine) == 20, 60, "backlog not drafted after the outage")
        assert set(cut) <= {"failed", "skipped", "missed", "success"}
        assert server.stop()
    finally:
        if server.proc.poll() is None:
            server.kill9()
