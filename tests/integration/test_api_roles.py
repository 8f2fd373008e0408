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
from encore_backend.api.deps import admin_only, current_principal, reader
from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.domain.enums import Role
from encore_backend.storage.sql import models as m

__all__ = ["client"]

VENUE_A, VENUE_B = "alpha", "bravo"
SKIPPED = ("/docs", "/openapi.json", "/redoc", "/health")
# Routes meant to be reachable without a bearer token; anything else public is a bug.
PUBLIC_PATHS = {"/", "/metrics", "/unsubscribe/{token}"}
# Path parameters that do not name venue data (admin-only routes use them).
NOT_VENUE_DATA = {"job_id"}
# Bodies for routes that need one; venue A in a body makes it venue A's request.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/venues"): {"name": "Matrix", "timezone": "UTC", "manager_emails": []},
    ("PATCH", "/api/venues/{venue_id}/settings"): {"brand_voice": "matrix"},
    ("POST", "/api/admin/tokens"): {"role": "ingest", "name": "matrix"},
    ("POST", "/api/feedback"): {"venue_id": VENUE_A, "rating": 5, "comment": "matrix"},
    ("POST", "/api/alerts/{alert_id}/acknowledge"): {"acknowledged_by": "matrix"},
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
    if endpoint.needs(admin_only):
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
