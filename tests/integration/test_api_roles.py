"""The role matrix: every route of the built app by every kind of caller (SPEC §8).

The routes come from the app's own route table, so a route added later is covered without
editing this file. Path parameters are filled with venue A's objects where the fixtures can make
them (else a dummy that must 404). Expectations per caller:
no token / bad token → 401; venue B's manager on venue A's data → 404 (admin-only routes → 403);
ingest token on read routes → 403; admin → never 401/403 (GET with real objects → 200).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import fastapi.routing
import pytest
from api_support import ADMIN, bearer, client, token_for
from factories import make_feedback, make_venue
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from encore_backend.api.app import create_app
from encore_backend.api.deps import SESSION_COOKIE, admin_only, current_principal, reader
from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.domain.enums import Role
from encore_backend.storage.sql import models as m
from encore_backend.web.auth import csrf_for

__all__ = ["client"]

VENUE_A, VENUE_B = "alpha", "bravo"
SKIPPED = ("/docs", "/openapi.json", "/redoc", "/health")
# Routes meant to be reachable without a bearer token; anything else public is a bug.
PUBLIC_PATHS = {"/", "/metrics", "/unsubscribe/{token}", "/unsubscribe/manager/{token}"}
# Path parameters that do not name venue data (admin-only routes use them).
NOT_VENUE_DATA = {"job_id"}
# Bodies for routes that need one; venue A in a body makes it venue A's request.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/venues"): {"name": "Matrix", "timezone": "UTC", "manager_emails": []},
    ("PATCH", "/api/venues/{venue_id}/settings"): {"brand_voice": "matrix"},
    ("POST", "/api/admin/tokens"): {"role": "ingest", "name": "matrix"},
    ("POST", "/api/feedback"): {"venue_id": VENUE_A, "rating": 5, "comment": "matrix"},
    ("POST", "/api/feedback/batch"): {"items": [{"venue_id": VENUE_A, "rating": 5}]},
    ("POST", "/api/alerts/{alert_id}/acknowledge"): {"acknowledged_by": "matrix"},
    ("POST", "/api/venues/{venue_id}/channels"): {"type": "slack", "url": "https://hooks.test/x"},
    ("PUT", "/api/venues/{venue_id}/manager-preferences/{email}"): {"mode": "none"},
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    route: APIRoute

    @property
    def params(self) -> list[str]:
        return [p.name for p in self.route.dependant.path_params]

    def needs(self, call: Callable[..., Any]) -> bool:
        """Whether `call` is among the route's dependencies, at any depth."""
        stack = list(self.route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            if dep.call is call:
                return True
            stack.extend(dep.dependencies)
        return False


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method and path of the app (routers included lazily are expanded)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts = list(iterate(app.routes)) if iterate else app.routes
    found = []
    for context in contexts:
        route = getattr(context, "original_route", context)
        path = context.path
        if not isinstance(route, APIRoute) or path.startswith(SKIPPED):
            continue
        if not path.startswith("/api/") and path not in PUBLIC_PATHS:
            continue  # browser pages: cookie sign-in, covered by tests/browser
        for method in sorted(set(context.methods or ()) - {"HEAD", "OPTIONS"}):
            found.append(Endpoint(method, path, route))
    return found


def _route_table() -> list[Endpoint]:
    settings = Settings(_env_file=None, encore_database_url="sqlite://")  # type: ignore[call-arg]
    return endpoints(create_app(build(settings), start_scheduler=False))


ENDPOINTS = _route_table()


@dataclass
class World:
    """Venue A with one of each object, venue B, and a token per kind of caller."""

    ids: dict[str, str]
    manager_b: dict[str, str]
    ingest: dict[str, str]

    def fill(self, endpoint: Endpoint) -> tuple[str, bool]:
        """The URL with parameters filled; False when a dummy had to stand in."""
        path, real = endpoint.path, True
        for name in endpoint.params:
            value = self.ids.get(name)
            if value is None:
                real = False
                value = "999999999" if _is_int(endpoint, name) else f"missing-{uuid.uuid4()}"
            path = path.replace("{" + name + "}", value)
        return path, real


def _is_int(endpoint: Endpoint, name: str) -> bool:
    param = next(p for p in endpoint.route.dependant.path_params if p.name == name)
    return param.field_info.annotation is int


@pytest.fixture
def world(ctx: Container, engine: Engine) -> World:
    now = ctx.clock.now()
    make_venue(engine, VENUE_A, now=now)
    make_venue(engine, VENUE_B, now=now)
    feedback_id = make_feedback(engine, VENUE_A, created_at=now - timedelta(hours=1), rating=1)
    ids = {"venue_id": VENUE_A, "feedback_id": str(feedback_id), "job_id": "stats_aggregator"}
    ids["alert_id"] = _make_alert(engine, feedback_id, now)
    ids["response_id"] = _make_reply(engine, feedback_id, now)
    ids["queue_id"] = _make_queue_item(engine, feedback_id, ids["response_id"], now)
    ids["report_id"] = _make_report(engine, now)
    ids["channel_id"] = _make_channel(engine, now)
    _make_stats(ctx)
    return World(ids, token_for(ctx, Role.VENUE_MANAGER, VENUE_B), token_for(ctx, Role.INGEST))


def _make_alert(engine: Engine, feedback_id: int, now: Any) -> str:
    alert_id = str(uuid.uuid4())
    reasons = [{"rule": "rating", "level": "high"}]
    with engine.begin() as conn:
        conn.execute(
            insert(m.alerts).values(
                alert_id=alert_id, venue_id=VENUE_A, feedback_id=feedback_id, level="high",
                title="Rating 1", description="matrix", reasons=reasons, detected_at=now,
                is_read=False,
            )
        )  # fmt: skip
    return alert_id


def _make_reply(engine: Engine, feedback_id: int, now: Any) -> str:
    response_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(m.ai_responses).values(
                response_id=response_id, feedback_id=feedback_id, venue_id=VENUE_A,
                subject="Thanks", body="Thank you", status="pending_approval",
                provider="template", created_at=now,
            )
        )  # fmt: skip
    return response_id


def _make_queue_item(engine: Engine, feedback_id: int, response_id: str, now: Any) -> str:
    """A failed item: an admin may requeue it; cancelling it is refused (409) for anyone."""
    queue_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(m.email_queue).values(
                queue_id=queue_id, feedback_id=feedback_id, response_id=response_id,
                venue_id=VENUE_A, customer_email="guest@example.com", status="failed",
                scheduled_send_time=now, created_at=now, attempts=5, error="refused",
                message_id=f"<{queue_id}@matrix>",
            )
        )  # fmt: skip
    return queue_id


def _make_report(engine: Engine, now: Any) -> str:
    report_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(m.reports).values(
                report_id=report_id, venue_id=VENUE_A, kind="daily",
                period_start=now - timedelta(days=1), period_end=now, generated_at=now,
                content={},
            )
        )  # fmt: skip
    return report_id


def _make_channel(engine: Engine, now: Any) -> str:
    """A Slack channel whose receiver refuses connections: its test answers ok=false at once."""
    channel_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(m.notification_channels).values(
                channel_id=channel_id, venue_id=VENUE_A, type="slack",
                url="http://127.0.0.1:9/hook", levels=["critical"], created_at=now,
            )
        )  # fmt: skip
    return channel_id


def _make_stats(ctx: Container) -> None:
    """A stats snapshot for every venue, by the aggregator itself (the stats GETs need one)."""
    try:
        from encore_backend.scheduler.jobs import stats_aggregator
    except ImportError:
        return
    stats_aggregator.run(ctx, ctx.clock.now())


def call(client: TestClient, endpoint: Endpoint, url: str, headers: dict[str, str]) -> Any:
    body = BODIES.get((endpoint.method, endpoint.path))
    if body is None and endpoint.route.dependant.body_params:
        body = {}
    return client.request(endpoint.method, url, headers=headers, json=body)


def _ids(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


def test_the_route_table_is_read() -> None:
    seen = {(e.method, e.path) for e in ENDPOINTS}
    assert {("POST", "/api/feedback"), ("GET", "/api/venues/{venue_id}/feedback")} <= seen
    assert ("PATCH", "/api/venues/{venue_id}/settings") in seen


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
def test_role_matrix(client: TestClient, world: World, endpoint: Endpoint) -> None:
    if not endpoint.needs(current_principal):
        assert endpoint.path in PUBLIC_PATHS, f"{_ids(endpoint)} has no auth: add it to PUBLIC?"
        return
    url, real = world.fill(endpoint)
    for headers in ({}, bearer("not-a-token"), bearer("enc_" + "x" * 43)):
        assert call(client, endpoint, url, headers).status_code == 401, headers
    _check_ingest(client, endpoint, url, world)
    _check_other_manager(client, endpoint, url, world)
    _check_admin(client, endpoint, url, real)


def _check_ingest(client: TestClient, endpoint: Endpoint, url: str, world: World) -> None:
    response = call(client, endpoint, url, world.ingest)
    if endpoint.needs(reader) or endpoint.needs(admin_only):
        assert response.status_code == 403, response.text
    else:
        assert response.status_code not in (401, 403, 404), response.text


def _check_other_manager(client: TestClient, endpoint: Endpoint, url: str, world: World) -> None:
    response = call(client, endpoint, url, world.manager_b)
    if _key(endpoint) == ("POST", "/api/feedback/batch"):  # refused per item, not as a whole
        assert response.status_code == 200 and response.json()["refused"] == 1, response.text
    elif endpoint.needs(admin_only):
        assert response.status_code == 403, response.text
    elif set(endpoint.params) - NOT_VENUE_DATA or VENUE_A in str(BODIES.get(_key(endpoint))):
        assert response.status_code == 404, response.text
    else:
        assert response.status_code not in (401, 403, 404), response.text
        assert VENUE_A not in response.text


def _check_admin(client: TestClient, endpoint: Endpoint, url: str, real: bool) -> None:
    if endpoint.path.endswith("/stream") and endpoint.method == "GET":
        return  # a live stream never ends; its auth paths are checked above
    response = call(client, endpoint, url, ADMIN)
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text
    if real:
        assert response.status_code != 404, response.text
        if endpoint.method == "GET":
            assert response.status_code == 200, response.text


def _key(endpoint: Endpoint) -> tuple[str, str]:
    return (endpoint.method, endpoint.path)


# The whole route table, written out: the status each caller gets, in the order
# (admin, venue A's manager, venue B's manager, ingest, no token), on venue A's objects.
# API routes take a bearer token; pages take the same token as the sign-in cookie.
# A route added to the app and missing here fails test_the_table_names_every_route.
CALLERS = ("admin", "own", "other", "ingest", "none")
OWN_VENUE = (200, 200, 404, 403, 401)
ADMIN_ONLY = (200, 403, 403, 403, 401)
PUBLIC_200 = (200,) * 5
PAGE_OWN_VENUE = (303, 303, 404, 303, 303)  # signed out / ingest: to the sign-in page
PAGE_ADMIN = (303, 404, 404, 303, 303)
TABLE: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/openapi.json"): PUBLIC_200,
    ("GET", "/docs"): PUBLIC_200,
    ("GET", "/docs/oauth2-redirect"): PUBLIC_200,
    ("GET", "/redoc"): PUBLIC_200,
    ("GET", "/health"): PUBLIC_200,
    ("GET", "/health/scheduler"): (503,) * 5,  # no scheduler in this process: for everyone
    ("GET", "/metrics"): PUBLIC_200,
    ("GET", "/static"): PUBLIC_200,
    ("GET", "/unsubscribe/{token}"): (404,) * 5,  # public, and a forged link is refused
    ("POST", "/unsubscribe/{token}"): (404,) * 5,
    ("GET", "/unsubscribe/manager/{token}"): (404,) * 5,
    ("POST", "/unsubscribe/manager/{token}"): (404,) * 5,
    ("POST", "/api/venues"): (201, 403, 403, 403, 401),
    ("GET", "/api/venues"): (200, 200, 200, 403, 401),
    ("GET", "/api/venues/{venue_id}"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/settings"): OWN_VENUE,
    ("PATCH", "/api/venues/{venue_id}/settings"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/manager-preferences"): OWN_VENUE,
    ("PUT", "/api/venues/{venue_id}/manager-preferences/{email}"): OWN_VENUE,
    ("POST", "/api/admin/tokens"): (201, 403, 403, 403, 401),
    ("POST", "/api/feedback"): (201, 201, 404, 201, 401),
    # 200 for every caller: venue B's manager gets the item refused in the results (its test).
    ("POST", "/api/feedback/batch"): (200, 200, 200, 200, 401),
    ("GET", "/api/venues/{venue_id}/feedback"): OWN_VENUE,
    ("GET", "/api/feedback/{feedback_id}"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/stats"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/stats/history"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/stats/monthly"): OWN_VENUE,
    ("GET", "/api/admin/stats"): ADMIN_ONLY,
    ("GET", "/api/venues/{venue_id}/alerts"): OWN_VENUE,
    ("POST", "/api/alerts/{alert_id}/read"): OWN_VENUE,
    ("POST", "/api/alerts/{alert_id}/acknowledge"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/alerts/stream"): OWN_VENUE,
    ("GET", "/api/admin/jobs"): ADMIN_ONLY,
    ("POST", "/api/admin/jobs/{job_id}/run"): ADMIN_ONLY,
    ("POST", "/api/admin/jobs/{job_id}/pause"): ADMIN_ONLY,
    ("POST", "/api/admin/jobs/{job_id}/resume"): ADMIN_ONLY,
    ("GET", "/api/admin/jobs/{job_id}/runs"): ADMIN_ONLY,
    ("GET", "/api/venues/{venue_id}/reports"): OWN_VENUE,
    ("GET", "/api/reports/{report_id}"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/responses"): OWN_VENUE,
    ("POST", "/api/feedback/{feedback_id}/responses"): (409, 409, 404, 403, 401),  # has one
    ("POST", "/api/responses/{response_id}/approve"): OWN_VENUE,
    ("POST", "/api/responses/{response_id}/reject"): OWN_VENUE,
    ("GET", "/api/venues/{venue_id}/email-queue"): OWN_VENUE,
    ("POST", "/api/email-queue/{queue_id}/cancel"): (409, 409, 404, 403, 401),  # failed item
    ("POST", "/api/email-queue/{queue_id}/requeue"): ADMIN_ONLY,
    ("GET", "/api/venues/{venue_id}/channels"): OWN_VENUE,
    ("POST", "/api/venues/{venue_id}/channels"): (201, 201, 404, 403, 401),
    ("DELETE", "/api/venues/{venue_id}/channels/{channel_id}"): (204, 204, 404, 403, 401),
    ("POST", "/api/venues/{venue_id}/channels/{channel_id}/test"): OWN_VENUE,
    ("GET", "/"): (303,) * 5,
    ("GET", "/signin"): PUBLIC_200,
    ("POST", "/signin"): (403,) * 5,  # no double-submit CSRF pair: refused for anyone
    ("POST", "/signout"): (303, 303, 303, 403, 403),
    ("GET", "/venues/{venue_id}"): (200, 200, 404, 303, 303),
    ("POST", "/venues/{venue_id}/alerts/{alert_id}/acknowledge"): PAGE_OWN_VENUE,
    ("POST", "/venues/{venue_id}/replies/{response_id}/approve"): PAGE_OWN_VENUE,
    ("POST", "/venues/{venue_id}/replies/{response_id}/reject"): PAGE_OWN_VENUE,
    ("GET", "/venues/{venue_id}/channels"): (200, 200, 404, 303, 303),
    ("POST", "/venues/{venue_id}/channels"): PAGE_OWN_VENUE,
    ("POST", "/venues/{venue_id}/channels/{channel_id}/delete"): PAGE_OWN_VENUE,
    ("POST", "/venues/{venue_id}/channels/{channel_id}/test"): PAGE_OWN_VENUE,
    ("GET", "/venues/{venue_id}/settings"): (200, 200, 404, 303, 303),
    # A form with only its CSRF token: no manager address (404), no deadline (422, re-shown).
    ("POST", "/venues/{venue_id}/settings/emails"): (404, 404, 404, 303, 303),
    ("POST", "/venues/{venue_id}/settings/voice"): (422, 422, 404, 303, 303),
    ("GET", "/admin"): (200, 404, 404, 303, 303),
    ("GET", "/admin/jobs/{job_id}"): (200, 404, 404, 303, 303),
    ("POST", "/admin/jobs/{job_id}/run"): PAGE_ADMIN,
    ("POST", "/admin/jobs/{job_id}/{action}"): PAGE_ADMIN,
    ("POST", "/admin/email-queue/{queue_id}/requeue"): PAGE_ADMIN,
}
EXTRA_IDS = {"token": "forged.token", "action": "pause", "path": "app.css"}
EXTRA_IDS["email"] = f"manager@{VENUE_A}.example"  # the venue's manager (factories)
QUERIES = {"/api/venues/{venue_id}/alerts/stream": "?max_seconds=0.05"}


def every_route(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route and mount of the app, HEAD and OPTIONS aside."""
    found: set[tuple[str, str]] = set()
    for context in fastapi.routing.iter_route_contexts(app.routes):
        methods = getattr(context, "methods", None) or {"GET"}  # a mount serves GET
        found.update((method, str(context.path)) for method in methods - {"HEAD", "OPTIONS"})
    return found


def test_the_table_names_every_route() -> None:
    settings = Settings(_env_file=None, encore_database_url="sqlite://")  # type: ignore[call-arg]
    routes = every_route(create_app(build(settings), start_scheduler=False))
    assert routes - set(TABLE) == set(), "routes missing from TABLE: give each its expectations"
    assert set(TABLE) - routes == set(), "TABLE names routes the app no longer has"


@dataclass
class Callers:
    tokens: dict[str, str | None]

    def headers_and_cookies(self, caller: str, page: bool) -> tuple[dict[str, str], dict[str, str]]:
        token = self.tokens[caller]
        if token is None:
            return {}, {}
        if page:
            return {}, {SESSION_COOKIE: token}
        return {"Authorization": f"Bearer {token}"}, {}


@pytest.fixture
def callers(ctx: Container, world: World) -> Callers:
    def raw(headers: dict[str, str]) -> str:
        return headers["Authorization"].removeprefix("Bearer ")

    own = raw(token_for(ctx, Role.VENUE_MANAGER, VENUE_A))
    tokens = {"admin": "test-admin-token", "own": own, "other": raw(world.manager_b)}
    return Callers({**tokens, "ingest": raw(world.ingest), "none": None})


def table_url(world: World, path: str) -> str:
    url = path if path != "/static" else "/static/{path}"
    for name, value in {**world.ids, **EXTRA_IDS}.items():
        url = url.replace("{" + name + "}", value)
    assert "{" not in url, f"no value for a parameter of {path}"
    return url + QUERIES.get(path, "")


def is_page(path: str) -> bool:
    return not path.startswith(("/api/", "/unsubscribe/", "/health", "/metrics"))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("key", sorted(TABLE), ids=lambda key: f"{key[0]} {key[1]}")
def test_route_by_role(
    client: TestClient, world: World, callers: Callers, key: tuple[str, str], caller: str
) -> None:
    method, path = key
    expected = TABLE[key][CALLERS.index(caller)]
    page = is_page(path)
    headers, cookies = callers.headers_and_cookies(caller, page)
    client.cookies.clear()
    client.cookies.update(cookies)
    token = callers.tokens[caller]
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if page and method == "POST":
        kwargs["data"] = {"csrf_token": csrf_for(token) if token else ""}
    elif method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = BODIES.get(key, {})
    response = client.request(method, table_url(world, path), **kwargs)
    assert response.status_code == expected, f"{caller} {method} {path}: {response.text[:300]}"
    if expected == 404 and caller == "other":
        assert VENUE_A not in response.text.replace(f"/venues/{VENUE_A}", "")
