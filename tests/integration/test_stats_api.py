"""Stats over HTTP: snapshots written by the job and read back; roles; history; admin totals."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from encore_backend.api.app import create_app
from encore_backend.api.deps import hash_token
from encore_backend.bootstrap import Container
from encore_backend.scheduler.jobs import stats_aggregator
from encore_backend.storage.sql import models as m

ADMIN = {"Authorization": "Bearer test-admin-token"}
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def token(engine: Engine, role: str, venue_id: str | None = None) -> dict[str, str]:
    """Headers with a token written straight into api_tokens (hashed, as the store keeps it)."""
    raw = secrets.token_urlsafe(16)
    with engine.begin() as conn:
        conn.execute(
            insert(m.api_tokens).values(
                token_id=secrets.token_hex(8),
                name=f"{role} test",
                role=role,
                venue_id=venue_id,
                token_hash=hash_token(raw),
                created_at=T0,
            )
        )
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def client(ctx: Container, engine: Engine) -> Iterator[TestClient]:
    make_venue(engine, "ny", now=T0, timezone="America/New_York")
    make_venue(engine, "kol", now=T0, timezone="Asia/Kolkata")
    make_venue(engine, "quiet", now=T0)
    for hours, rating in ((1, 5), (2, 4), (30, 1)):
        make_feedback(engine, "ny", created_at=T0 - timedelta(hours=hours), rating=rating)
    make_feedback(engine, "kol", created_at=T0 - timedelta(days=3), rating=2)
    with TestClient(create_app(ctx, start_scheduler=False)) as test_client:
        yield test_client


def test_latest_is_404_before_the_first_run_then_the_snapshot(
    client: TestClient, ctx: Container
) -> None:
    assert client.get("/api/venues/ny/stats", headers=ADMIN).status_code == 404
    stats_aggregator.run(ctx, T0)
    body = client.get("/api/venues/ny/stats", headers=ADMIN).json()
    assert body["venue_id"] == "ny" and body["computed_at"] == "2026-03-10T12:00:00Z"
    assert body["stats"]["feedback_30d"] == 3 and body["stats"]["average_rating"] == 3.33
    assert body["stats"]["feedback_today"] == 2  # 11:00Z and 10:00Z are 7:00 and 6:00 EDT


def test_dashboards_read_snapshots_not_live_feedback(
    client: TestClient, ctx: Container, engine: Engine
) -> None:
    stats_aggregator.run(ctx, T0)
    make_feedback(engine, "ny", created_at=T0, rating=1)
    assert client.get("/api/venues/ny/stats", headers=ADMIN).json()["stats"]["feedback_30d"] == 3
    stats_aggregator.run(ctx, T0 + timedelta(minutes=5))
    assert client.get("/api/venues/ny/stats", headers=ADMIN).json()["stats"]["feedback_30d"] == 4


def test_history_is_oldest_first_with_since_and_limit(client: TestClient, ctx: Container) -> None:
    for minutes in (0, 5, 10, 15):
        stats_aggregator.run(ctx, T0 + timedelta(minutes=minutes))
    url = "/api/venues/kol/stats/history"
    times = [s["computed_at"] for s in client.get(url, headers=ADMIN).json()["snapshots"]]
    assert times == [f"2026-03-10T12:{m:02d}:00Z" for m in (0, 5, 10, 15)]
    newest_two = client.get(url, params={"limit": 2}, headers=ADMIN).json()["snapshots"]
    assert [s["computed_at"] for s in newest_two] == [
        "2026-03-10T12:10:00Z",
        "2026-03-10T12:15:00Z",
    ]
    since = client.get(url, params={"since": "2026-03-10T12:05:00Z", "limit": 2}, headers=ADMIN)
    assert [s["computed_at"] for s in since.json()["snapshots"]] == [
        "2026-03-10T12:05:00Z",
        "2026-03-10T12:10:00Z",
    ]
    assert since.json()["snapshots"][0]["stats"]["feedback_30d"] == 1
    for bad in ({"limit": 0}, {"limit": "many"}, {"since": "yesterday"}):
        response = client.get(url, params=bad, headers=ADMIN)
        assert response.status_code == 422
        assert next(iter(bad)) in str(response.json()["detail"])


def test_admin_stats_lists_every_venue_with_totals(client: TestClient, ctx: Container) -> None:
    stats_aggregator.run(ctx, T0 - timedelta(minutes=5))
    stats_aggregator.run(ctx, T0)
    body = client.get("/api/admin/stats", headers=ADMIN).json()
    assert body["computed_at"] == "2026-03-10T12:00:00Z"
    assert [v["venue_id"] for v in body["venues"]] == ["kol", "ny", "quiet"]
    assert {v["computed_at"] for v in body["venues"]} == {"2026-03-10T12:00:00Z"}
    quiet = body["venues"][2]
    assert quiet["name"] == "Venue quiet" and quiet["stats"]["average_rating"] is None
    totals = body["totals"]
    assert totals["feedback_30d"] == 4 and totals["feedback_today"] == 2
    assert totals["average_rating"] == 3.0  # (5 + 4 + 1 + 2) / 4
    assert totals["csat"] == 0.5 and totals["avg_response_time_hours"] is None


def test_admin_stats_before_any_run_has_null_snapshots(client: TestClient) -> None:
    body = client.get("/api/admin/stats", headers=ADMIN).json()
    assert body["computed_at"] is None
    assert all(v["stats"] is None for v in body["venues"]) and len(body["venues"]) == 3
    assert body["totals"]["feedback_today"] == 0 and body["totals"]["csat"] is None


@pytest.mark.parametrize(
    "path", ["/api/venues/ny/stats", "/api/venues/ny/stats/history", "/api/admin/stats"]
)
def test_roles(client: TestClient, ctx: Container, engine: Engine, path: str) -> None:
    stats_aggregator.run(ctx, T0)
    own, other = token(engine, "venue_manager", "ny"), token(engine, "venue_manager", "kol")
    admin_route = path.startswith("/api/admin")
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(path, headers=token(engine, "ingest")).status_code == 403
    assert client.get(path, headers=own).status_code == (403 if admin_route else 200)
    assert client.get(path, headers=other).status_code == (403 if admin_route else 404)
    assert client.get(path, headers=ADMIN).status_code == 200


def test_unknown_venue_is_404(client: TestClient, ctx: Container) -> None:
    stats_aggregator.run(ctx, T0)
    assert client.get("/api/venues/nope/stats", headers=ADMIN).status_code == 404
    assert client.get("/api/venues/nope/stats/history", headers=ADMIN).status_code == 404
