"""Alert routes over HTTP: list and filter, read, acknowledge, roles, and the live stream."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from encore_backend.api.app import create_app
from encore_backend.api.deps import hash_token
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.notify import live
from encore_backend.scheduler.jobs import alert_detector
from encore_backend.storage.sql import models as m

ADMIN = {"Authorization": "Bearer test-admin-token"}


def token(engine: Engine, *, role: str, venue_id: str | None, name: str, now: Any) -> dict:
    raw = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        conn.execute(
            insert(m.api_tokens).values(
                token_id=str(uuid.uuid4()),
                name=name,
                role=role,
                venue_id=venue_id,
                token_hash=hash_token(raw),
                created_at=now,
            )
        )
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def client(ctx: Container) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, start_scheduler=False)) as test_client:
        yield test_client


@pytest.fixture
def world(ctx: Container, engine: Engine, clock: ManualClock) -> dict[str, Any]:
    """Two venues with alerts: v1 has a critical and a medium one, v2 a high one."""
    now = clock.now()
    make_venue(engine, "v1", now=now)
    make_venue(engine, "v2", now=now)
    sick = make_feedback(engine, "v1", created_at=now, rating=4, comment="I got sick")
    make_feedback(engine, "v1", created_at=now, rating=2, comment="slow")
    make_feedback(engine, "v2", created_at=now, rating=1, comment="cold")
    alert_detector.run(ctx, now)
    clock.advance(minutes=1)
    by_feedback = {a["feedback_id"]: a for a in ctx.alerts.list_for_venue("v1")}
    return {
        "critical_id": by_feedback[sick]["alert_id"],
        "v2_alert_id": ctx.alerts.list_for_venue("v2")[0]["alert_id"],
        "manager": token(engine, role="venue_manager", venue_id="v1", name="Mia", now=now),
        "ingest": token(engine, role="ingest", venue_id=None, name="pos", now=now),
    }


def test_list_and_filter(client: TestClient, world: dict[str, Any]) -> None:
    everything = client.get("/api/venues/v1/alerts", headers=world["manager"])
    assert everything.status_code == 200
    alerts = everything.json()["alerts"]
    assert sorted(a["level"] for a in alerts) == ["critical", "medium"]
    assert all(a["detected_at"].endswith("Z") and a["is_read"] is False for a in alerts)
    critical = client.get("/api/venues/v1/alerts?level=critical", headers=ADMIN).json()["alerts"]
    assert [a["alert_id"] for a in critical] == [world["critical_id"]]
    unread = client.get("/api/venues/v1/alerts?is_read=true", headers=ADMIN).json()
    assert unread == {"alerts": [], "next_cursor": None}


def test_bad_level_is_422_naming_level(client: TestClient, world: dict[str, Any]) -> None:
    response = client.get("/api/venues/v1/alerts?level=urgent", headers=ADMIN)
    assert response.status_code == 422
    assert "level" in {str(p) for err in response.json()["detail"] for p in err["loc"]}


def test_roles_and_other_venues(client: TestClient, world: dict[str, Any]) -> None:
    assert client.get("/api/venues/v1/alerts").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.get("/api/venues/v1/alerts", headers=bad).status_code == 401
    assert client.get("/api/venues/v1/alerts", headers=world["ingest"]).status_code == 403
    assert client.get("/api/venues/v2/alerts", headers=world["manager"]).status_code == 404
    assert client.get("/api/venues/nowhere/alerts", headers=ADMIN).status_code == 404
    assert client.get("/api/venues/v2/alerts", headers=ADMIN).status_code == 200


def test_mark_read(client: TestClient, world: dict[str, Any]) -> None:
    url = f"/api/alerts/{world['critical_id']}/read"
    response = client.post(url, headers=world["manager"])
    assert response.status_code == 200
    assert response.json()["is_read"] is True
    unread = client.get("/api/venues/v1/alerts?is_read=false", headers=ADMIN).json()["alerts"]
    assert [a["level"] for a in unread] == ["medium"]
    assert client.post("/api/alerts/no-such-alert/read", headers=ADMIN).status_code == 404


def test_acknowledge_by_name_or_by_the_caller(
    client: TestClient, world: dict[str, Any], ctx: Container, clock: ManualClock
) -> None:
    url = f"/api/alerts/{world['critical_id']}/acknowledge"
    response = client.post(url, headers=world["manager"])
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged_by"] == "Mia"
    assert body["acknowledged_at"] == iso_z(clock.now())
    assert body["is_read"] is True

    medium = ctx.alerts.list_for_venue("v1", level="medium")[0]["alert_id"]
    named = client.post(
        f"/api/alerts/{medium}/acknowledge", json={"acknowledged_by": "Sam"}, headers=ADMIN
    )
    assert named.json()["acknowledged_by"] == "Sam"
    blank = client.post(url, json={"acknowledged_by": ""}, headers=ADMIN)
    assert blank.status_code == 422
    assert "acknowledged_by" in {str(p) for err in blank.json()["detail"] for p in err["loc"]}


def test_another_venues_alert_is_404_and_untouched(
    client: TestClient, world: dict[str, Any], ctx: Container
) -> None:
    other = world["v2_alert_id"]
    assert client.post(f"/api/alerts/{other}/read", headers=world["manager"]).status_code == 404
    ack = client.post(f"/api/alerts/{other}/acknowledge", headers=world["manager"])
    assert ack.status_code == 404
    row = ctx.alerts.get(other)
    assert row is not None
    assert (row["is_read"], row["acknowledged_by"]) == (False, None)


def test_stream_sends_an_alert_created_after_connecting(
    client: TestClient, world: dict[str, Any], ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    url = "/api/venues/v1/alerts/stream?max_seconds=20"
    with client.stream("GET", url, headers=world["manager"]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith(":")) == ": connected"
        feedback_id = make_feedback(engine, "v1", created_at=clock.now(), comment="a rat!")
        alert_detector.run(ctx, clock.now())
        event = first_event(lines)

    assert event["event"] == "alert.created"
    assert event["data"]["feedback_id"] == feedback_id
    assert event["data"]["level"] == "high"
    assert event["id"] == event["data"]["alert_id"]


def test_stream_since_replays_existing_alerts(
    client: TestClient, world: dict[str, Any], clock: ManualClock
) -> None:
    since = iso_z(clock.now() - timedelta(hours=1))
    url = f"/api/venues/v1/alerts/stream?max_seconds=5&since={since}"
    with client.stream("GET", url, headers=ADMIN) as response:
        event = first_event(response.iter_lines())
    assert event["data"]["venue_id"] == "v1"
    assert client.get("/api/venues/v2/alerts/stream", headers=world["manager"]).status_code == 404


def first_event(lines: Iterator[str]) -> dict[str, Any]:
    """Read SSE lines up to the end of the first event (a blank line after a data line)."""
    event: dict[str, Any] = {}
    for line in lines:
        if line.startswith(("id:", "event:", "data:")):
            key, _, value = line.partition(":")
            event[key] = json.loads(value) if key == "data" else value.strip()
        elif line == "" and "data" in event:
            return event
    raise AssertionError(f"stream ended without an event: {event}")


def test_ingested_feedback_raises_its_alert_right_away(
    client: TestClient, world: dict[str, Any]
) -> None:
    body = {"venue_id": "v1", "rating": 5, "comment": "Two of us were hospitalised."}
    created = client.post("/api/feedback", json=body, headers=ADMIN)
    assert created.status_code == 201

    alerts = client.get("/api/venues/v1/alerts?level=critical", headers=ADMIN).json()["alerts"]

    assert created.json()["feedback_id"] in {a["feedback_id"] for a in alerts}


def test_live_feed_sends_a_late_committed_alert_once(
    world: dict[str, Any], ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    feed = live.AlertFeed(ctx, "v1", since=None)
    feed.skip_existing()
    assert feed.poll() == []
    late = make_feedback(engine, "v1", created_at=clock.now(), comment="filthy")
    alert_detector.run(ctx, clock.now() - timedelta(minutes=3))  # a slow scanner's older `now`

    assert [a["feedback_id"] for a in feed.poll()] == [late]
    assert feed.poll() == []
