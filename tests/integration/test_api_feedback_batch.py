"""POST /api/feedback/batch: one result per item, valid items stored beside refused ones, the
1,000-item and body-size limits, managers' foreign items, and alerts for the created items."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from api_support import ADMIN, client, count_rows, token_for
from factories import make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from encore_backend.api.routes.feedback_batch import MAX_BODY_BYTES
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.domain.enums import Role
from encore_backend.storage.sql import models as m

__all__ = ["client"]
BATCH = "/api/feedback/batch"


@pytest.fixture
def venues(ctx: Container, engine: Engine) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    make_venue(engine, "b", now=ctx.clock.now())


def item(**fields: Any) -> dict[str, Any]:
    return {"venue_id": "a", "rating": 4, "comment": "fine", **fields}


def post_batch(client: TestClient, items: list[Any], headers: dict[str, str] = ADMIN) -> Any:
    return client.post(BATCH, json={"items": items}, headers=headers)


def test_mixed_items_get_one_result_each_and_the_valid_ones_are_stored(
    client: TestClient, venues: None, engine: Engine, clock: ManualClock
) -> None:
    """Given a stored external_id, when a batch mixes new, repeated and bad items, expect each
    result in order, the good ones stored, and field errors named with their index."""
    first = post_batch(client, [item(external_id="pos-1")]).json()["results"][0]
    items = [
        item(external_id="pos-2", customer={"email": "Ann@Guest.Example", "tier": "Gold"}),
        item(rating=9),
        item(external_id="pos-1", comment="again"),
        item(external_id="pos-2", comment="twice in one batch"),
        item(venue_id="nowhere"),
        item(customer={"email": "not-an-email"}),
        item(created_at=iso_z(clock.now() + timedelta(hours=1))),
        "not an object",
        item(comment="no external id"),
    ]
    response = post_batch(client, items)
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [
        "created", "refused", "duplicate", "duplicate", "refused", "refused", "refused",
        "refused", "created",
    ]  # fmt: skip
    assert results[2]["feedback_id"] == first["feedback_id"]
    assert results[3]["feedback_id"] == results[0]["feedback_id"]
    fields = {r["index"]: r["error"]["field"] for r in results if r["status"] == "refused"}
    assert fields == {
        1: "items[1].rating",
        4: "items[4].venue_id",
        5: "items[5].customer.email",
        6: "items[6].created_at",
        7: "items[7]",
    }
    assert "less than or equal to 5" in results[1]["error"]["message"]
    assert (body["created"], body["duplicate"], body["refused"]) == (2, 2, 5)
    assert count_rows(engine, m.feedback) == 3
    customer = client.get(f"/api/feedback/{results[0]['feedback_id']}", headers=ADMIN).json()
    assert customer["customer"]["email"] == "ann@guest.example"
    assert customer["customer"]["tier"] == "gold"


def test_a_batch_of_only_refused_items_writes_nothing(
    client: TestClient, venues: None, engine: Engine
) -> None:
    response = post_batch(client, [item(rating=0), item(venue_id="nowhere")])
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"refused"}
    assert count_rows(engine, m.feedback) == 0 and count_rows(engine, m.customers) == 0


def test_more_than_1000_items_are_refused_naming_items(
    client: TestClient, venues: None, engine: Engine
) -> None:
    response = post_batch(client, [item() for _ in range(1001)])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "items"]
    assert count_rows(engine, m.feedback) == 0


def test_a_full_batch_of_long_comments_fits_the_body_limit(
    client: TestClient, venues: None, engine: Engine
) -> None:
    """1,000 items of 5,000 characters written as \\u escapes: far over the API's 1 MiB, under
    the batch route's own limit; the same body elsewhere is refused with 413."""
    comment = "é" * 5000
    body = json.dumps({"items": [item(comment=comment) for _ in range(1000)]}).encode()
    assert 1024 * 1024 * 25 < len(body) < MAX_BODY_BYTES
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post(BATCH, content=body, headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["created"] == 1000
    elsewhere = client.post("/api/feedback", content=body, headers=headers)
    assert elsewhere.status_code == 413
    too_big = client.post(BATCH, content=b"x" * (MAX_BODY_BYTES + 1), headers=headers)
    assert too_big.status_code == 413


def test_a_managers_item_for_another_venue_is_refused_alone(
    client: TestClient, ctx: Container, venues: None, engine: Engine
) -> None:
    manager = token_for(ctx, Role.VENUE_MANAGER, "a")
    response = post_batch(client, [item(), item(venue_id="b")], headers=manager)
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "refused"]
    assert results[1]["error"] == {
        "field": "items[1].venue_id",
        "message": "venue 'b' does not exist",  # as for an unknown venue: b is not revealed
    }
    ingest_b = token_for(ctx, Role.INGEST, "b")
    statuses = [r["status"] for r in post_batch(client, [item()], ingest_b).json()["results"]]
    assert statuses == ["refused"]
    anywhere = token_for(ctx, Role.INGEST)
    statuses = [
        r["status"] for r in post_batch(client, [item(venue_id="b")], anywhere).json()["results"]
    ]
    assert statuses == ["created"]
    assert client.post(BATCH, json={"items": [item()]}).status_code == 401


def test_created_items_raise_alerts(client: TestClient, venues: None, engine: Engine) -> None:
    items = [
        item(comment="I was sick all night", rating=3),
        item(comment="Lovely", rating=5),
        item(comment="rude waiter", external_id="x1"),
    ]
    results = post_batch(client, items).json()["results"]
    with engine.connect() as conn:
        alerts = dict(conn.execute(select(m.alerts.c.feedback_id, m.alerts.c.level)).all())
    assert alerts == {results[0]["feedback_id"]: "critical", results[2]["feedback_id"]: "medium"}
