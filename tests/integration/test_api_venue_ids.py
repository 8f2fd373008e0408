"""The seed's integer venue ids: 57 and "57" name the same venue in bodies and paths (SPEC §6)."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ADMIN, client, field_names, token_for
from fastapi.testclient import TestClient

from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role

__all__ = ["client"]

VENUE = {"name": "Fifty Seven", "timezone": "UTC", "manager_emails": []}


def make_57(client: TestClient) -> Any:
    return client.post("/api/venues", json={**VENUE, "venue_id": 57}, headers=ADMIN)


def test_an_integer_venue_id_creates_the_string_id(client: TestClient, ctx: Container) -> None:
    response = make_57(client)
    assert response.status_code == 201, response.text
    assert response.json()["venue_id"] == "57"
    assert ctx.venues.get("57") is not None
    again = client.post("/api/venues", json={**VENUE, "venue_id": "57"}, headers=ADMIN)
    assert again.status_code == 409  # "57" is the venue 57 made


def test_feedback_for_57_and_for_the_string_land_on_one_venue(client: TestClient) -> None:
    make_57(client)
    for venue_id in (57, "57"):
        body = {"venue_id": venue_id, "rating": 4, "comment": f"as {type(venue_id).__name__}"}
        response = client.post("/api/feedback", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        assert response.json()["venue_id"] == "57"
    listed = client.get("/api/venues/57/feedback", headers=ADMIN).json()["feedback"]
    assert sorted(f["comment"] for f in listed) == ["as int", "as str"]


def test_the_path_names_the_integer_venue(client: TestClient, ctx: Container) -> None:
    make_57(client)
    assert client.get("/api/venues/57", headers=ADMIN).json()["venue_id"] == "57"
    patched = client.patch("/api/venues/57/settings", json={"brand_voice": "x"}, headers=ADMIN)
    assert patched.status_code == 200
    assert (ctx.venues.get_settings("57") or {})["brand_voice"] == "x"


def test_a_manager_token_for_venue_57_sees_it(client: TestClient, ctx: Container) -> None:
    make_57(client)
    created = client.post(
        "/api/admin/tokens",
        json={"role": "venue_manager", "venue_id": 57, "name": "m"},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    assert created.json()["venue_id"] == "57"
    manager = {"Authorization": f"Bearer {created.json()['token']}"}
    assert client.get("/api/venues/57", headers=manager).status_code == 200
    body = {"venue_id": 57, "rating": 5}
    assert client.post("/api/feedback", json=body, headers=manager).status_code == 201


def test_a_query_venue_id_of_57_is_the_string(client: TestClient, ctx: Container) -> None:
    """The manager of "57" sees venue 57 in the list (the filter is the principal's venue)."""
    make_57(client)
    manager = token_for(ctx, Role.VENUE_MANAGER, "57")
    venues = client.get("/api/venues", headers=manager).json()["venues"]
    assert [v["venue_id"] for v in venues] == ["57"]


@pytest.mark.parametrize("bad", [-1, True, 2**63, 1.5, "57 ", ""])
def test_other_shapes_are_refused_with_422(client: TestClient, bad: object) -> None:
    response = client.post("/api/venues", json={**VENUE, "venue_id": bad}, headers=ADMIN)
    assert response.status_code == 422, (bad, response.text)
    assert "venue_id" in field_names(response)
    feedback = client.post("/api/feedback", json={"venue_id": bad, "rating": 3}, headers=ADMIN)
    assert feedback.status_code == 422, (bad, feedback.text)


def test_the_schema_says_string_or_integer(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("VenueCreate", "FeedbackCreate"):
        venue_id = schemas[name]["properties"]["venue_id"]
        types = {branch.get("type") for branch in _branches(venue_id)}
        assert {"string", "integer"} <= types, (name, venue_id)


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a schema, looking through nullable wrappers."""
    found: list[dict[str, Any]] = []
    for branch in schema.get("anyOf", [schema]):
        found.extend(_branches(branch) if "anyOf" in branch else [branch])
    return found
