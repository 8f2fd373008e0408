"""Feedback over HTTP: ingestion, idempotency on external_id, customers, validation, reads."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from api_support import ADMIN, client, count_rows, field_names, token_for
from factories import make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.domain.enums import Role
from encore_backend.services import feedback_service
from encore_backend.storage.sql import models as m

__all__ = ["client"]


@pytest.fixture
def venues(ctx: Container, engine: Engine) -> tuple[str, str]:
    now = ctx.clock.now()
    return make_venue(engine, "a", now=now), make_venue(engine, "b", now=now)


def post(client: TestClient, headers: dict[str, str] = ADMIN, **body: Any) -> Any:
    return client.post(
        "/api/feedback", json={"venue_id": "a", "rating": 4, **body}, headers=headers
    )


def test_ingest_returns_201_with_the_feedback(
    client: TestClient, venues: Any, clock: ManualClock
) -> None:
    customer = {
        "email": "Ann@Guest.Example",
        "name": "Ann",
        "lifetime_value": 1200.5,
        "tier": "Gold",
    }
    response = post(client, comment="Lovely", customer=customer, external_id="pos-1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["feedback_id"] > 0 and body["status"] == "new"
    assert body["created_at"] == iso_z(clock.now()) and body["created_at"].endswith("Z")
    assert body["customer"]["email"] == "ann@guest.example"
    assert body["customer"]["tier"] == "gold" and body["customer"]["lifetime_value"] == 1200.5
    fetched = post_get(client, body["feedback_id"])
    assert fetched == body


def post_get(client: TestClient, feedback_id: int) -> Any:
    return client.get(f"/api/feedback/{feedback_id}", headers=ADMIN).json()


def test_same_external_id_returns_the_first_one(
    client: TestClient, venues: Any, engine: Engine
) -> None:
    first = post(client, rating=5, comment="first", external_id="pos-7")
    again = post(client, rating=1, comment="second", external_id="pos-7")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert count_rows(engine, m.feedback) == 1
    other_venue = post(client, venue_id="b", external_id="pos-7")
    assert other_venue.status_code == 201  # external ids are per venue


def test_concurrent_duplicates_make_one_row(ctx: Container, venues: Any, engine: Engine) -> None:
    results: list[tuple[int, bool]] = []
    barrier = threading.Barrier(4)

    def ingest() -> None:
        barrier.wait()
        row, created = feedback_service.ingest_feedback(
            ctx, venue_id="a", rating=3, comment="", external_id="race",
            customer={"email": "race@guest.example"},
        )  # fmt: skip
        results.append((row["feedback_id"], created))

    threads = [threading.Thread(target=ingest) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({fid for fid, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert count_rows(engine, m.feedback) == 1 and count_rows(engine, m.customers) == 1


def test_customer_is_upserted_by_email(client: TestClient, venues: Any, engine: Engine) -> None:
    one = post(client, customer={"email": "Joe@Guest.example", "name": "Joe"}).json()
    two = post(client, customer={"email": "joe@guest.EXAMPLE", "tier": "platinum"}).json()
    assert one["customer"]["customer_id"] == two["customer"]["customer_id"]
    assert two["customer"] == {**one["customer"], "tier": "platinum"}
    assert count_rows(engine, m.customers) == 1
    anonymous = post(client, comment="no customer").json()
    assert anonymous["customer"] is None and count_rows(engine, m.customers) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": None}, "rating"),
        ({"comment": "x" * 5001}, "comment"),
        ({"venue_id": "nowhere"}, "venue_id"),
        ({"customer": {"email": "not an email"}}, "email"),
        ({"customer": {"lifetime_value": -1}}, "lifetime_value"),
        ({"external_id": "x" * 129}, "external_id"),
        ({"created_at": "yesterday-ish"}, "created_at"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, venues: Any, engine: Engine, changes: dict[str, Any], field: str
) -> None:
    response = post(client, **{"customer": {"email": "c@guest.example"}, **changes})
    assert response.status_code == 422
    assert field in field_names(response)
    assert count_rows(engine, m.feedback) == 0 and count_rows(engine, m.customers) == 0


def test_created_at_may_not_be_in_the_future(
    client: TestClient, venues: Any, engine: Engine, clock: ManualClock
) -> None:
    future = post(client, created_at=iso_z(clock.now() + timedelta(minutes=6)))
    assert future.status_code == 422 and "created_at" in field_names(future)
    assert count_rows(engine, m.feedback) == 0
    skewed = post(client, created_at=iso_z(clock.now() + timedelta(minutes=4)))
    assert skewed.status_code == 201
    past = post(client, created_at="2026-03-01T09:30:00+05:30")
    assert past.json()["created_at"] == "2026-03-01T04:00:00Z"


def test_comment_of_5000_chars_and_empty_comment_are_accepted(
    client: TestClient, venues: Any
) -> None:
    assert post(client, comment="é" * 5000).status_code == 201
    assert post(client, comment="").status_code == 201


def test_managers_post_and_read_only_their_venue(
    client: TestClient, ctx: Container, venues: Any, engine: Engine
) -> None:
    manager_a = token_for(ctx, Role.VENUE_MANAGER, "a")
    assert post(client, manager_a).status_code == 201
    assert post(client, manager_a, venue_id="b").status_code == 404
    assert post(client, manager_a, venue_id="nowhere").status_code == 404
    b_id = post(client, venue_id="b").json()["feedback_id"]
    assert client.get(f"/api/feedback/{b_id}", headers=manager_a).status_code == 404
    assert client.get("/api/venues/b/feedback", headers=manager_a).status_code == 404
    assert client.get("/api/feedback/999999", headers=ADMIN).status_code == 404
    assert count_rows(engine, m.feedback) == 2


def test_venue_bound_ingest_token_posts_only_to_its_venue(
    client: TestClient, ctx: Container, venues: Any
) -> None:
    ingest_a = token_for(ctx, Role.INGEST, "a")
    assert post(client, ingest_a).status_code == 201
    assert post(client, ingest_a, venue_id="b").status_code == 404
    unbound = token_for(ctx, Role.INGEST)
    assert post(client, unbound, venue_id="b").status_code == 201


def test_listing_pages_newest_first_with_filters(
    client: TestClient, venues: Any, clock: ManualClock
) -> None:
    ids = [post(client, rating=1 + i % 5, comment=f"n{i}").json()["feedback_id"] for i in range(7)]
    post(client, venue_id="b")
    page1 = client.get("/api/venues/a/feedback?limit=3", headers=ADMIN).json()
    assert [f["feedback_id"] for f in page1["feedback"]] == ids[::-1][:3]
    cursor = page1["next_before_id"]
    page2 = client.get(f"/api/venues/a/feedback?limit=3&before_id={cursor}", headers=ADMIN).json()
    page3_url = f"/api/venues/a/feedback?limit=3&before_id={page2['next_before_id']}"
    page3 = client.get(page3_url, headers=ADMIN).json()
    assert [f["feedback_id"] for f in page2["feedback"] + page3["feedback"]] == ids[::-1][3:]
    assert page3["next_before_id"] is None
    ones = client.get("/api/venues/a/feedback?rating=1", headers=ADMIN).json()["feedback"]
    assert [f["feedback_id"] for f in ones] == [ids[5], ids[0]]
    new = client.get("/api/venues/a/feedback?status=new", headers=ADMIN).json()["feedback"]
    assert len(new) == 7
    for query in ("limit=201", "limit=0", "rating=9", "status=lost", "before_id=x"):
        bad = client.get(f"/api/venues/a/feedback?{query}", headers=ADMIN)
        assert bad.status_code == 422 and query.split("=")[0] in field_names(bad)


def test_ingestion_schedules_alert_detection(
    client: TestClient, venues: Any, engine: Engine
) -> None:
    """The POST returns at once; the detector then runs for the new feedback (trigger=event)."""
    pytest.importorskip("encore_backend.scheduler.runner")
    response = post(client, rating=1, comment="Found a cockroach in the soup")
    assert response.status_code == 201
    with engine.connect() as conn:
        runs = conn.execute(
            select(m.job_runs.c.job_id, m.job_runs.c.trigger, m.job_runs.c.status)
        ).all()
    assert ("alert_detector", "event") in {(r.job_id, r.trigger) for r in runs}
