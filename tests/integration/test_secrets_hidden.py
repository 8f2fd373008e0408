"""No secret leaves through logs, error bodies, pages or run records, even on failing paths.

Every secret is distinctive, so a search of everything written finds any copy. Failing paths
exercised: bad tokens and bodies on the API, an SMTP server refusing the login, an AI endpoint
refusing the key, a webhook receiver failing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from api_support import bearer
from factories import make_customer, make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from support.chat_server import ChatScript, ScriptedReply, chat_server
from support.smtp_server import RecordingHandler, password_authenticator, smtp_server
from support.webhook_receiver import WebhookReceiver

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.storage.sql import models as m

ADMIN_TOKEN = "adm-Zq7SECRETadmin-4f1c"
SMTP_PASSWORD = "smtp-Xk2SECRETpass-99aa"
OPENAI_KEY = "sk-Wv5SECRETopenai-77bd"
WEBHOOK_SECRET = "whsec-Pp3SECRETwebhook-12ef"
UNSUBSCRIBE_SECRET = "unsub-Mm8SECRETlinks-5c5c"
SECRETS = (ADMIN_TOKEN, SMTP_PASSWORD, OPENAI_KEY, WEBHOOK_SECRET, UNSUBSCRIBE_SECRET)
ADMIN = bearer(ADMIN_TOKEN)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def everything_stored(engine: Engine) -> str:
    """Every row of every table but the ones that must hold a secret (venues keep their
    webhook secret; nothing else may)."""
    dump: list[str] = []
    with engine.connect() as conn:
        for table in m.metadata.sorted_tables:
            if table.name in ("venues", "apscheduler_jobs", "encore_scheduler_jobs"):
                continue
            dump.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(dump)


@pytest.fixture
def secret_ctx(ctx: Container) -> Container:
    ctx.settings = ctx.settings.model_copy(
        update={
            "encore_admin_token": ADMIN_TOKEN,
            "smtp_password": SMTP_PASSWORD,
            "smtp_username": "encore",
            "openai_api_key": OPENAI_KEY,
            "encore_unsubscribe_secret": UNSUBSCRIBE_SECRET,
        }
    )
    return ctx


@pytest.fixture
def web(secret_ctx: Container) -> Iterator[TestClient]:
    app = create_app(secret_ctx, start_scheduler=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    rx = WebhookReceiver(default=500).start()
    yield rx
    rx.stop()


@pytest.fixture
def world(secret_ctx: Container, receiver: WebhookReceiver) -> dict[str, Any]:
    """A venue whose webhook fails, and a customer's bad feedback waiting for a reply."""
    now = secret_ctx.clock.now()
    engine = secret_ctx.engine
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)
    customer_id = make_customer(engine, now=now, email="guest@example.com")
    feedback_id = make_feedback(
        engine, "v1", created_at=now - timedelta(hours=1), rating=1, comment="food poisoning",
        customer_id=customer_id,
    )  # fmt: skip
    return {"feedback_id": feedback_id}


def api_failures(web: TestClient, feedback_id: int) -> list[Any]:
    """Answers to refused and failing requests, and to the reads that show configuration."""
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    return [
        web.get("/api/venues", headers=bearer(ADMIN_TOKEN[:-1])),
        web.get("/api/venues", headers=bearer(ADMIN_TOKEN + "x")),
        web.post("/api/admin/tokens", json={"role": "root", "name": "x"}, headers=ADMIN),
        web.post("/api/feedback", content=b"{not json", headers=ADMIN),
        web.post("/api/feedback", content=big, headers=ADMIN),
        web.get("/api/venues/v1", headers=ADMIN),
        web.get("/api/venues/v1/settings", headers=ADMIN),
        web.get("/api/admin/jobs", headers=ADMIN),
        web.get("/api/admin/jobs/ai_generator/runs", headers=ADMIN),
        web.get("/api/admin/jobs/email_sender/runs", headers=ADMIN),
        web.get("/api/venues/v1/email-queue", headers=ADMIN),
        web.get(f"/api/feedback/{feedback_id}", headers=ADMIN),
        web.get("/metrics"),
        web.get("/health/scheduler"),
        web.get("/openapi.json"),
        web.post("/signin", data={"token": ADMIN_TOKEN, "csrf_token": "x"}),
        *signed_in_pages(web),
    ]


def signed_in_pages(web: TestClient) -> list[Any]:
    """The console and the dashboard, which show the job runs and the queue's errors."""
    web.cookies.set("encore_session", ADMIN_TOKEN)
    try:
        return [web.get(path) for path in ("/admin", "/admin/jobs/email_sender", "/venues/v1")]
    finally:
        web.cookies.clear()


def fail_the_ai(ctx: Container) -> None:
    """ai_generator against an endpoint that refuses the key."""
    script = ChatScript()
    script.script(ScriptedReply(status=401))
    with chat_server(script) as url:
        ctx.settings = ctx.settings.model_copy(
            update={"ai_provider": "openai", "openai_base_url": url}
        )
        run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)
        assert script.requests, "the AI endpoint was never called"
        assert script.requests[0]["headers"]["Authorization"] == f"Bearer {OPENAI_KEY}"
    ctx.settings = ctx.settings.model_copy(update={"ai_provider": "template"})


def fail_the_smtp_login(ctx: Container, web: TestClient, feedback_id: int) -> RecordingHandler:
    """A reply approved now, sent to an SMTP server that refuses the password."""
    drafted = web.post(f"/api/feedback/{feedback_id}/responses", headers=ADMIN)
    assert drafted.status_code == 201, drafted.text
    response_id = drafted.json()["response_id"]
    approved = web.post(f"/api/responses/{response_id}/approve", headers=ADMIN)
    assert approved.status_code == 200, approved.text
    handler = RecordingHandler()
    auth = password_authenticator("encore", "the-right-password")
    options = {"authenticator": auth, "auth_require_tls": False}
    with smtp_server(handler, auth_required=True, **options) as port:
        ctx.settings = ctx.settings.model_copy(
            update={"email_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        )
        run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL)
    assert handler.messages == []
    return handler


def test_no_secret_in_logs_bodies_or_records(
    secret_ctx: Container,
    web: TestClient,
    world: dict[str, Any],
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    run_job(secret_ctx, "alert_detector", trigger=RunTrigger.MANUAL)  # the webhook fails
    assert receiver.requests, "the webhook was never attempted"
    fail_the_ai(secret_ctx)
    fail_the_smtp_login(secret_ctx, web, world["feedback_id"])
    answers = api_failures(web, world["feedback_id"])
    assert [a.status_code for a in answers[-3:]] == [200, 200, 200]
    assert {a.status_code for a in answers[:5]} == {401, 422, 413}
    for answer in answers:
        assert leaks(answer.text) == [], (answer.request.url, answer.text[:300])
        assert leaks(str(answer.headers)) == [], answer.request.url
    assert leaks(caplog.text) == []
    assert leaks(everything_stored(secret_ctx.engine)) == []
    runs = secret_ctx.job_runs.list_runs(job_id="email_sender", limit=5)
    assert runs, "the email run was not recorded"
    stored = everything_stored(secret_ctx.engine)
    assert "535" in stored, "the SMTP refusal was not recorded"
    assert "401 Unauthorized" in caplog.text, "the AI endpoint did not refuse the key"
    assert "500" in stored, "the webhook failure was not recorded"
