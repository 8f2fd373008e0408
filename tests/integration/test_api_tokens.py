"""Tokens over HTTP and the CLI: issued once, stored hashed, scoped by role."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from api_support import ADMIN, bearer, client, count_rows, field_names, token_for
from factories import make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from encore_backend.bootstrap import Container
from encore_backend.cli import app as cli_app
from encore_backend.domain.enums import Role
from encore_backend.storage.sql import models as m

__all__ = ["client"]


def issue(client: TestClient, **body: Any) -> Any:
    return client.post("/api/admin/tokens", json=body, headers=ADMIN)


def stored_values(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(m.api_tokens)).all()
    return [str(v) for row in rows for v in row]


def test_token_is_shown_once_and_stored_hashed(
    client: TestClient, ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    response = issue(client, role="venue_manager", venue_id="a", name="Ann's tablet")
    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert token.startswith("enc_") and len(token) > 40
    assert body["role"] == "venue_manager" and body["venue_id"] == "a"
    values = stored_values(engine)
    assert not any(token in value for value in values)
    assert hashlib.sha256(token.encode()).hexdigest() in values
    assert client.get("/api/venues/a", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"role": "venue_manager", "name": "no venue"},
        {"role": "venue_manager", "venue_id": "missing", "name": "unknown venue"},
        {"role": "admin", "venue_id": "a", "name": "admin with venue"},
        {"role": "ingest", "venue_id": "missing", "name": "unknown venue"},
    ],
)
def test_bad_scope_is_422_on_venue_id(
    client: TestClient, ctx: Container, engine: Engine, body: dict[str, Any]
) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    response = issue(client, **body)
    assert response.status_code == 422
    assert "venue_id" in field_names(response)
    assert count_rows(engine, m.api_tokens) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"role": "owner", "name": "x"}, "role"), ({"role": "ingest", "name": ""}, "name")],
)
def test_bad_role_or_name_is_422(
    client: TestClient, engine: Engine, body: dict[str, Any], field: str
) -> None:
    response = issue(client, **body)
    assert response.status_code == 422 and field in field_names(response)
    assert count_rows(engine, m.api_tokens) == 0


def test_only_admins_issue_tokens(client: TestClient, ctx: Container, engine: Engine) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    for headers in (token_for(ctx, Role.VENUE_MANAGER, "a"), token_for(ctx, Role.INGEST)):
        response = client.post(
            "/api/admin/tokens", json={"role": "admin", "name": "escalate"}, headers=headers
        )
        assert response.status_code == 403
    created = issue(client, role="admin", name="second admin").json()["token"]
    assert client.get("/api/venues", headers=bearer(created)).status_code == 200


def test_ingest_token_may_only_submit_feedback(
    client: TestClient, ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    ingest = bearer(issue(client, role="ingest", name="pos").json()["token"])
    posted = client.post("/api/feedback", json={"venue_id": "a", "rating": 5}, headers=ingest)
    assert posted.status_code == 201
    assert client.get("/api/venues", headers=ingest).status_code == 403
    assert client.get("/api/venues/a/feedback", headers=ingest).status_code == 403


def test_cli_token_create_prints_a_working_token(
    client: TestClient, ctx: Container, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    monkeypatch.setenv("ENCORE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(
        cli_app, ["token", "create", "--role", "venue_manager", "--venue", "a", "--name", "cli"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].split()[-1]
    assert client.get("/api/venues/a", headers=bearer(token)).status_code == 200
    bad = CliRunner().invoke(cli_app, ["token", "create", "--role", "venue_manager"])
    assert bad.exit_code == 2 and "venue" in bad.output
