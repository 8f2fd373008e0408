"""Manager preferences over HTTP: list every address, set one; roles, 404, 422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ADMIN, client, count_rows, field_names, token_for
from factories import make_venue
from fastapi.testclient import TestClient

from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role
from encore_backend.domain.manager_prefs import Pref
from encore_backend.storage.sql import models as m

__all__ = ["client"]
URL = "/api/venues/v1/manager-preferences"


@pytest.fixture(autouse=True)
def venues(ctx: Container) -> None:
    now = ctx.clock.now()
    make_venue(ctx.engine, "v1", now=now, manager_emails=["Ann@v1.example", "bob@v1.example"])
    make_venue(ctx.engine, "v2", now=now, manager_emails=["zoe@v2.example"])


def test_every_address_is_listed_standard_until_it_chooses(client: TestClient) -> None:
    answer = client.get(URL, headers=ADMIN)
    assert answer.status_code == 200
    assert [(p["email"], p["mode"]) for p in answer.json()["preferences"]] == [
        ("Ann@v1.example", "standard"),
        ("bob@v1.example", "standard"),
    ]
    body = {"mode": "digest", "digest_hour": 7, "quiet_start_hour": 22, "quiet_end_hour": 6}
    put = client.put(f"{URL}/ann@V1.example", json=body, headers=ADMIN)
    assert put.status_code == 200
    assert put.json() == {"email": "Ann@v1.example", **body}
    listed = client.get(URL, headers=ADMIN).json()["preferences"]
    assert listed[0] == {"email": "Ann@v1.example", **body}


def test_standard_removes_the_stored_choice(
    client: TestClient, ctx: Container, engine: Any
) -> None:
    client.put(f"{URL}/bob@v1.example", json={"mode": "none"}, headers=ADMIN)
    assert ctx.manager_prefs.for_venue("v1") == {"bob@v1.example": Pref("none")}
    client.put(f"{URL}/bob@v1.example", json={"mode": "standard"}, headers=ADMIN)
    assert count_rows(engine, m.manager_preferences) == 0


def test_a_venue_manager_sets_their_own_venue_only(client: TestClient, ctx: Container) -> None:
    own = token_for(ctx, Role.VENUE_MANAGER, "v1")
    body = {"mode": "immediate"}
    assert client.put(f"{URL}/bob@v1.example", json=body, headers=own).status_code == 200
    other = "/api/venues/v2/manager-preferences"
    assert client.get(other, headers=own).status_code == 404
    assert client.put(f"{other}/zoe@v2.example", json=body, headers=own).status_code == 404
    ingest = token_for(ctx, Role.INGEST)
    assert client.get(URL, headers=ingest).status_code == 403
    assert client.get(URL).status_code == 401


def test_unknown_venue_or_address_is_404(client: TestClient) -> None:
    body = {"mode": "none"}
    assert client.get("/api/venues/nope/manager-preferences", headers=ADMIN).status_code == 404
    assert client.put(f"{URL}/zoe@v2.example", json=body, headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "daily"}, "mode"),
        ({"mode": "digest"}, "digest_hour"),
        ({"mode": "digest", "digest_hour": 24}, "digest_hour"),
        ({"mode": "immediate", "quiet_start_hour": 22}, "quiet_end_hour"),
        ({"mode": "immediate", "quiet_end_hour": 7}, "quiet_end_hour"),
        ({"mode": "immediate", "quiet_start_hour": -1, "quiet_end_hour": 7}, "quiet_start_hour"),
        ({"mode": "none", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, engine: Any, body: dict[str, Any], field: str
) -> None:
    answer = client.put(f"{URL}/bob@v1.example", json=body, headers=ADMIN)
    assert answer.status_code == 422
    assert field in field_names(answer)
    assert count_rows(engine, m.manager_preferences) == 0
