"""A real Encore server for the browser tests: uvicorn in a thread on a free port, on a SQLite
database seeded with demo venues whose jobs have run once (alerts, replies, stats, reports)."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.demo import DemoVenue, load_demo
from encore_backend.domain.enums import ReplyStatus, RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.scheduler.scheduler import EngineScheduler
from encore_backend.services import approval_service
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade

ADMIN_TOKEN = "browser-admin-token"
IN_CI = os.environ.get("CI", "").lower() == "true"
SEED_JOBS = ("alert_detector", "ai_generator", "stats_aggregator", "daily_report", "weekly_report")


def playwright_api() -> Any:
    """playwright.sync_api; without the package the browser tests skip, or fail under CI=true."""
    try:
        from playwright import sync_api
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("the playwright package is not installed", allow_module_level=True)
    return sync_api


@dataclass
class Site:
    """The running server, its container and the demo venues (with manager tokens)."""

    url: str
    ctx: Container
    venues: list[DemoVenue]
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seeded_container(workdir: Path) -> tuple[Container, list[DemoVenue]]:
    """Demo data on a fresh SQLite file; the jobs run once so every panel has content."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        encore_database_url=f"sqlite:///{workdir / 'encore.db'}",
        encore_admin_token=ADMIN_TOKEN,
        encore_outbox_dir=str(workdir / "outbox"),
        # Above the seed's volume, so nothing waits (each unit of a limit is a slot row).
        max_ai_generations_per_minute=1000,
        max_emails_per_minute=1000,
    )
    engine = make_engine(settings.encore_database_url)
    upgrade(engine)
    ctx = build(settings, engine=engine)
    venues = load_demo(ctx, venues=2, feedback=240, days=35, seed=11, progress=False)
    for job_id in SEED_JOBS:
        run_job(ctx, job_id, trigger=RunTrigger.MANUAL)
    send_one_reply(ctx, venues[0].venue_id)
    EngineScheduler(ctx).resume(SEED_JOBS[0])  # registers every job in the shared job store
    return ctx, venues


def send_one_reply(ctx: Container, venue_id: str) -> None:
    """Approve one drafted reply and run the sender, so the queue panel has a sent email."""
    drafts = ctx.replies.list_for_venue(venue_id, status=ReplyStatus.GENERATED.value, limit=50)
    reply = next(r for r in drafts if has_email(ctx, r["feedback_id"]))
    approval_service.approve(ctx, response_id=reply["response_id"], by="seed")
    run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL)


def has_email(ctx: Container, feedback_id: int) -> bool:
    source = ctx.replies.draft_source(feedback_id) or {}
    return bool(source.get("customer_email")) and source.get("unsubscribed_at") is None


def start_site(workdir: Path) -> Site:
    """Serve the app (API + pages, scheduler off: the tests drive jobs) until `stop()`."""
    ctx, venues = seeded_container(workdir)
    port = free_port()
    config = uvicorn.Config(
        create_app(ctx, start_scheduler=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="browser-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return Site(f"http://127.0.0.1:{port}", ctx, venues, server, thread)


def sign_in(page: Any, token: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/signin")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
