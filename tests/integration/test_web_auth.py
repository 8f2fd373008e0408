"""Dashboard sign-in rules over HTTP: the cookie, CSRF on forms, roles, and the cookie's reach
into the API (reads only: the alert stream's EventSource; writes still need the bearer header)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from api_support import token_for
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from sched_jobs import spec, use_jobs

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role, RunTrigger
from encore_backend.providers.errors import ProviderConfigError
from encore_backend.scheduler.runner import run_job

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(ctx: Container) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, start_scheduler=False), follow_redirects=False) as client:
        yield client


@pytest.fixture
def venues(ctx: Container) -> tuple[str, str]:
    now = ctx.clock.now()
    for venue_id in ("alpha", "bravo"):
        make_venue(ctx.engine, venue_id, now=now)
    make_feedback(ctx.engine, "alpha", created_at=now - timedelta(hours=1), rating=1)
    run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL)
    return "alpha", "bravo"


def sign_in(web: TestClient, token: str) -> TestClient:
    form = CSRF.search(web.get("/signin").text)
    assert form is not None
    response = web.post("/signin", data={"csrf_token": form.group(1), "token": token})
    assert response.status_code == 303, response.text
    return web


def manager_token(ctx: Container, venue_id: str) -> str:
    return token_for(ctx, Role.VENUE_MANAGER, venue_id)["Authorization"].removeprefix("Bearer ")


def test_sign_in_sets_a_protected_cookie_and_goes_home(
    ctx: Container, web: TestClient, venues: tuple[str, str]
) -> None:
    form = CSRF.search(web.get("/signin").text)
    response = web.post(
        "/signin", data={"csrf_token": form.group(1), "token": manager_token(ctx, "alpha")}
    )
    assert response.headers["location"] == "/venues/alpha"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "encore_session" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert web.get("/venues/alpha").status_code == 200
    assert web.get("/venues/bravo").status_code == 404
    assert web.get("/admin").status_code == 404


def test_sign_in_needs_its_csrf_pair_and_a_dashboard_role(
    ctx: Container, web: TestClient, venues: tuple[str, str]
) -> None:
    web.get("/signin")
    forged = web.post("/signin", data={"csrf_token": "guess", "token": "test-admin-token"})
    assert forged.status_code == 403 and "encore_session" not in web.cookies
    ingest = token_for(ctx, Role.INGEST)["Authorization"].removeprefix("Bearer ")
    form = CSRF.search(web.get("/signin").text)
    refused = web.post("/signin", data={"csrf_token": form.group(1), "token": ingest})
    assert refused.status_code == 401 and "encore_session" not in web.cookies


def test_pages_redirect_to_sign_in(web: TestClient) -> None:
    response = web.get("/venues/alpha")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fvenues%2Falpha"
    assert web.get("/").headers["location"] == "/signin"


def test_the_cookie_reads_the_api_but_never_writes_it(
    ctx: Container, web: TestClient, venues: tuple[str, str]
) -> None:
    sign_in(web, manager_token(ctx, "alpha"))
    alerts = web.get("/api/venues/alpha/alerts")
    assert alerts.status_code == 200
    alert_id = alerts.json()["alerts"][0]["alert_id"]
    assert web.get("/api/venues/bravo/alerts").status_code == 404
    assert web.post(f"/api/alerts/{alert_id}/acknowledge").status_code == 401
    assert ctx.alerts.get(alert_id)["acknowledged_at"] is None


def test_forms_check_the_session_csrf_token(
    ctx: Container, web: TestClient, venues: tuple[str, str]
) -> None:
    sign_in(web, manager_token(ctx, "alpha"))
    page = web.get("/venues/alpha").text
    alert_id = ctx.alerts.list_for_venue("alpha")[0]["alert_id"]
    url = f"/venues/alpha/alerts/{alert_id}/acknowledge"
    assert web.post(url, data={"csrf_token": "0" * 64}).status_code == 403
    assert ctx.alerts.get(alert_id)["acknowledged_at"] is None
    done = web.post(url, data={"csrf_token": CSRF.search(page).group(1)})
    assert done.status_code == 303
    assert ctx.alerts.get(alert_id)["acknowledged_by"] == "venue_manager test"
    assert web.post("/signout", data={}).status_code == 403
    out = web.post("/signout", data={"csrf_token": CSRF.search(page).group(1)})
    assert out.headers["location"] == "/signin" and "encore_session" not in web.cookies


def test_the_console_says_which_job_a_provider_stopped_and_since_when(
    ctx: Container, web: TestClient
) -> None:
    def refused(ctx: Container, now: datetime, **params: Any) -> Any:
        raise ProviderConfigError("SMTP 535 authentication failed", provider="email provider")

    use_jobs(ctx, spec("mailer", refused))
    run_job(ctx, "mailer", trigger=RunTrigger.MANUAL)
    page = sign_in(web, "test-admin-token").get("/admin").text
    assert "mailer is stopped: email provider: SMTP 535 authentication failed" in page
    assert "since 12:00 UTC" in page  # the manual clock's start: the first refused run
