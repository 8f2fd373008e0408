"""Venues and settings over HTTP: create, list, read, patch; bad input writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ADMIN, client, count_rows, field_names, token_for
from fastapi.testclient import TestClient

from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role
from encore_backend.storage.sql import models as m

__all__ = ["client"]

GOOD = {
    "name": "The Blue Door",
    "timezone": "Europe/London",
    "manager_emails": ["Ann@Blue.example"],
}


def create(client: TestClient, **changes: Any) -> Any:
    return client.post("/api/venues", json={**GOOD, **changes}, headers=ADMIN)


def test_create_returns_secret_and_default_settings(client: TestClient, ctx: Container) -> None:
    response = create(client, venue_id="blue", webhook_url="https://hooks.example/encore")
    assert response.status_code == 201
    body = response.json()
    assert body["venue_id"] == "blue"
    assert len(body["webhook_secret"]) >= 40
    assert body["manager_emails"] == ["ann@blue.example"]
    assert body["created_at"] == "2026-03-10T12:00:00Z"
    expected_delay = ctx.settings.default_auto_send_delay_minutes
    assert body["settings"]["auto_send_delay_minutes"] == expected_delay
    assert body["settings"]["alert_notify_min_level"] == "high"
    assert ctx.venues.get("blue")["webhook_secret"] == body["webhook_secret"]


def test_get_routes_never_show_the_secret(client: TestClient) -> None:
    create(client, venue_id="blue")
    one = client.get("/api/venues/blue", headers=ADMIN)
    listing = client.get("/api/venues", headers=ADMIN)
    assert one.status_code == 200 and listing.status_code == 200
    assert "webhook_secret" not in one.json()
    assert [v["venue_id"] for v in listing.json()["venues"]] == ["blue"]
    assert "webhook_secret" not in listing.json()["venues"][0]


def test_generated_ids_are_slugs_made_unique(client: TestClient) -> None:
    first = create(client, name="Café Ünïcode & Co").json()["venue_id"]
    second = create(client, name="Café Ünïcode & Co").json()["venue_id"]
    assert (first, second) == ("cafe-unicode-co", "cafe-unicode-co-2")


def test_existing_id_is_409(client: TestClient, engine: Any) -> None:
    assert create(client, venue_id="blue").status_code == 201
    assert create(client, venue_id="blue", name="Other").status_code == 409
    assert count_rows(engine, m.venues) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"manager_emails": ["not-an-email"]}, "manager_emails"),
        ({"manager_emails": "a@b.example"}, "manager_emails"),
        ({"venue_id": "Has Spaces"}, "venue_id"),
        ({"venue_id": "-leading-dash"}, "venue_id"),
        ({"venue_id": "x" * 65}, "venue_id"),
        ({"webhook_url": "ftp://files.example/x"}, "webhook_url"),
        ({"name": "   "}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, engine: Any, changes: dict[str, Any], field: str
) -> None:
    response = create(client, **changes)
    assert response.status_code == 422
    assert field in field_names(response)
    assert count_rows(engine, m.venues) == 0
    assert count_rows(engine, m.venue_settings) == 0


def test_manager_sees_only_their_venue(client: TestClient, ctx: Container) -> None:
    create(client, venue_id="a")
    create(client, venue_id="b")
    manager = token_for(ctx, Role.VENUE_MANAGER, "a")
    listing = client.get("/api/venues", headers=manager).json()["venues"]
    assert [v["venue_id"] for v in listing] == ["a"]
    assert client.get("/api/venues/a", headers=manager).status_code == 200
    assert client.get("/api/venues/b", headers=manager).status_code == 404
    assert client.get("/api/venues/nope", headers=ADMIN).status_code == 404
    assert create(client, venue_id="c").status_code == 201
    assert client.post("/api/venues", json=GOOD, headers=manager).status_code == 403


def test_settings_patch_is_partial(client: TestClient, ctx: Container) -> None:
    create(client, venue_id="blue")
    manager = token_for(ctx, Role.VENUE_MANAGER, "blue")
    patch = {
        "auto_send_enabled": True,
        "auto_send_delay_minutes": 10080,
        "alert_keywords": {"critical": ["Salmonella", "salmonella"], "low": ["slow"]},
        "alert_rules_disabled": ["repeated_complaint"],
        "brand_voice": "Warm, brief.",
        "alert_notify_min_level": "medium",
    }
    response = client.patch("/api/venues/blue/settings", json=patch, headers=manager)
    assert response.status_code == 200, response.text
    body = client.get("/api/venues/blue/settings", headers=manager).json()
    assert body["auto_send_enabled"] is True and body["auto_send_delay_minutes"] == 10080
    assert body["alert_keywords"] == {"critical": ["salmonella"], "low": ["slow"]}
    assert body["alert_rules_disabled"] == ["repeated_complaint"]
    assert body["require_approval"] is False  # untouched
    cleared = client.patch("/api/venues/blue/settings", json={"brand_voice": None}, headers=manager)
    assert cleared.json()["brand_voice"] is None
    assert cleared.json()["alert_notify_min_level"] == "medium"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"alert_notify_min_level": "severe"}, "alert_notify_min_level"),
        ({"alert_keywords": {"urgent": ["x"]}}, "alert_keywords"),
        ({"alert_keywords": {"high": [""]}}, "alert_keywords"),
        ({"alert_keywords": {"high": ["x" * 61]}}, "alert_keywords"),
        ({"alert_keywords": {"high": [f"k{i}" for i in range(51)]}}, "alert_keywords"),
        ({"alert_rules_disabled": ["no_such_rule"]}, "alert_rules_disabled"),
        ({"auto_send_delay_minutes": 10081}, "auto_send_delay_minutes"),
        ({"auto_send_delay_minutes": -1}, "auto_send_delay_minutes"),
        ({"require_approval": None}, "require_approval"),
        ({"brand_voice": "x" * 2001}, "brand_voice"),
    ],
)
def test_bad_settings_are_422_and_nothing_is_written(
    client: TestClient, patch: dict[str, Any], field: str
) -> None:
    create(client, venue_id="blue")
    before = client.get("/api/venues/blue/settings", headers=ADMIN).json()
    # A valid change rides along: it must not be applied either.
    response = client.patch(
        "/api/venues/blue/settings", json={"auto_send_enabled": True, **patch}, headers=ADMIN
    )
    assert response.status_code == 422
    assert field in field_names(response)
    assert client.get("/api/venues/blue/settings", headers=ADMIN).json() == before


def test_settings_of_another_venue_are_404(client: TestClient, ctx: Container) -> None:
    create(client, venue_id="a")
    create(client, venue_id="b")
    manager = token_for(ctx, Role.VENUE_MANAGER, "a")
    assert client.get("/api/venues/b/settings", headers=manager).status_code == 404
    response = client.patch("/api/venues/b/settings", json={"brand_voice": "x"}, headers=manager)
    assert response.status_code == 404
    assert ctx.venues.get_settings("b")["brand_voice"] is None


def test_voice_and_deadline_settings_are_stored_normalised(
    client: TestClient, ctx: Container
) -> None:
    create(client, venue_id="blue")
    manager = token_for(ctx, Role.VENUE_MANAGER, "blue")
    defaults = client.get("/api/venues/blue/settings", headers=manager).json()
    assert (defaults["reply_tone"], defaults["reply_signature"]) == ("warm", None)
    assert (defaults["banned_phrases"], defaults["response_sla_hours"]) == ([], 24)
    patch = {
        "reply_tone": "playful",
        "reply_signature": "Maria Rossi\nBistro Nord",
        "banned_phrases": ["No  worries", "no worries", " to be honest ", "NO WORRIES"],
        "response_sla_hours": 12,
    }
    response = client.patch("/api/venues/blue/settings", json=patch, headers=manager)
    assert response.status_code == 200, response.text
    body = client.get("/api/venues/blue/settings", headers=manager).json()
    assert body["reply_tone"] == "playful" and body["response_sla_hours"] == 12
    assert body["reply_signature"] == "Maria Rossi\nBistro Nord"
    assert body["banned_phrases"] == ["No worries", "to be honest"]
    cleared = client.patch(
        "/api/venues/blue/settings",
        json={"reply_signature": None, "banned_phrases": []},
        headers=manager,
    ).json()
    assert cleared["reply_signature"] is None and cleared["banned_phrases"] == []
    assert cleared["reply_tone"] == "playful"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"reply_tone": "angry"}, "reply_tone"),
        ({"reply_tone": None}, "reply_tone"),
        ({"banned_phrases": ["x"]}, "banned_phrases"),
        ({"banned_phrases": ["fine", "y" * 101]}, "banned_phrases"),
        ({"banned_phrases": [f"phrase {i}" for i in range(51)]}, "banned_phrases"),
        ({"banned_phrases": None}, "banned_phrases"),
        ({"banned_phrases": "no worries"}, "banned_phrases"),
        ({"reply_signature": "s" * 501}, "reply_signature"),
        # every draft ends with the signature, and a placeholder stops a draft
        ({"reply_signature": "[Manager]\nBistro Nord"}, "reply_signature"),
        ({"response_sla_hours": 0}, "response_sla_hours"),
        ({"response_sla_hours": 721}, "response_sla_hours"),
    ],
)
def test_bad_voice_and_deadline_settings_are_422_and_nothing_is_written(
    client: TestClient, patch: dict[str, Any], field: str
) -> None:
    create(client, venue_id="blue")
    before = client.get("/api/venues/blue/settings", headers=ADMIN).json()
    response = client.patch(
        "/api/venues/blue/settings", json={"reply_tone": "formal", **patch}, headers=ADMIN
    )
    assert response.status_code == 422
    assert field in field_names(response)
    assert not {"reply_tone", "banned_phrases", "reply_signature"} - {field} & field_names(response)
    assert client.get("/api/venues/blue/settings", headers=ADMIN).json() == before
