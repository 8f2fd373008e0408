"""Reports, monthly stats and archived alerts over HTTP: listing, filters, roles, 404s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import ADMIN, client, field_names, token_for
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role
from encore_backend.scheduler.jobs import daily_report, weekly_cleanup, weekly_report
from encore_backend.storage.sql import models as m

__all__ = ["client"]  # the HTTP client fixture
NOW = datetime(2026, 3, 16, 12, 5, tzinfo=UTC)  # a Monday
CREATED = datetime(2026, 2, 1, tzinfo=UTC)


def setup_reports(ctx: Container, engine: Engine) -> None:
    make_venue(engine, "ny", now=CREATED, timezone="America/New_York")
    make_venue(engine, "ldn", now=CREATED, timezone="Europe/London")
    make_feedback(engine, "ny", created_at=NOW - timedelta(days=1), rating=2, comment="Cold <b>")
    daily_report.run(ctx, NOW)
    weekly_report.run(ctx, NOW)


def test_a_venues_reports_newest_first_with_a_kind_filter(
    client: TestClient,
    ctx: Container,
    engine: Engine,
) -> None:
    setup_reports(ctx, engine)
    body = client.get("/api/venues/ny/reports", headers=ADMIN).json()
    starts = [r["period_start"] for r in body["reports"]]
    assert len(starts) == 7 + 4 and starts == sorted(starts, reverse=True)
    daily = client.get("/api/venues/ny/reports?kind=daily", headers=ADMIN).json()["reports"]
    assert len(daily) == 7 and {r["kind"] for r in daily} == {"daily"}
    latest = daily[0]
    assert latest["period_start"] == "2026-03-15T04:00:00Z"
    assert latest["period_end"] == "2026-03-16T04:00:00Z"
    assert latest["generated_at"] == "2026-03-16T12:05:00Z"
    assert latest["content"]["total_feedback"] == 1
    assert latest["content"]["top_issues"][0]["topic"] == "food quality"
    weekly = client.get("/api/venues/ny/reports?kind=weekly&limit=1", headers=ADMIN).json()
    assert [r["period_start"] for r in weekly["reports"]] == ["2026-03-09T04:00:00Z"]
    one = client.get(f"/api/reports/{latest['report_id']}", headers=ADMIN)
    assert one.status_code == 200 and one.json() == latest


def test_roles_and_not_found(
    client: TestClient,
    ctx: Container,
    engine: Engine,
) -> None:
    setup_reports(ctx, engine)
    manager = token_for(ctx, Role.VENUE_MANAGER, "ny")
    other = client.get("/api/venues/ldn/reports", headers=ADMIN).json()["reports"][0]
    mine = client.get("/api/venues/ny/reports", headers=manager).json()["reports"][0]
    assert client.get(f"/api/reports/{mine['report_id']}", headers=manager).status_code == 200
    assert client.get(f"/api/reports/{other['report_id']}", headers=manager).status_code == 404
    assert client.get("/api/venues/ldn/reports", headers=manager).status_code == 404
    assert client.get("/api/reports/nope", headers=ADMIN).status_code == 404
    assert client.get("/api/venues/nope/reports", headers=ADMIN).status_code == 404
    assert client.get("/api/venues/ny/reports").status_code == 401
    ingest = token_for(ctx, Role.INGEST)
    assert client.get("/api/venues/ny/reports", headers=ingest).status_code == 403
    bad = client.get("/api/venues/ny/reports?kind=monthly", headers=ADMIN)
    assert bad.status_code == 422 and "kind" in field_names(bad)


def test_monthly_stats_are_served_after_the_cleanup_rolls_them_up(
    client: TestClient,
    ctx: Container,
    engine: Engine,
) -> None:
    make_venue(engine, "ny", now=CREATED, timezone="America/New_York")
    for day, rating in ((2, 5), (3, 4), (3, 1)):
        make_feedback(
            engine, "ny", created_at=datetime(2026, 3, day, 12, tzinfo=UTC), rating=rating
        )
    path = "/api/venues/ny/stats/monthly"
    assert client.get(path, headers=ADMIN).json() == {"venue_id": "ny", "months": []}
    weekly_cleanup.run(ctx, datetime(2026, 4, 5, 3, tzinfo=UTC))
    months = client.get(path, headers=ADMIN).json()["months"]
    assert [mo["month"] for mo in months] == ["2026-03", "2026-04"]
    march = months[0]
    assert march["feedback_count"] == 3 and march["average_rating"] == 3.33
    assert march["csat"] == 0.6667 and march["response_rate"] == 0.0
    assert (
        march["avg_response_time_hours"] is None and march["period_start"] == "2026-03-01T05:00:00Z"
    )
    assert months[1]["average_rating"] is None
    make_venue(engine, "x", now=CREATED)
    assert client.get(path, headers=token_for(ctx, Role.VENUE_MANAGER, "x")).status_code == 404


def test_archived_alerts_leave_the_default_listing_but_stay_reachable(
    client: TestClient,
    ctx: Container,
    engine: Engine,
) -> None:
    make_venue(engine, "ny", now=CREATED)
    for days, alert_id in ((100, "old"), (10, "new")):
        at = NOW - timedelta(days=days)
        feedback_id = make_feedback(engine, "ny", created_at=at, rating=1)
        with engine.begin() as conn:
            conn.execute(
                insert(m.alerts).values(
                    alert_id=alert_id, venue_id="ny", feedback_id=feedback_id, level="high",
                    title="High", description="d", reasons=[], detected_at=at, is_read=False,
                )
            )  # fmt: skip
    assert weekly_cleanup.run(ctx, NOW).details["alerts_archived"] == 1
    listed = client.get("/api/venues/ny/alerts", headers=ADMIN).json()["alerts"]
    assert [a["alert_id"] for a in listed] == ["new"] and listed[0]["archived_at"] is None
    every = client.get("/api/venues/ny/alerts?archived=true", headers=ADMIN).json()["alerts"]
    assert [a["alert_id"] for a in every] == ["new", "old"]
    assert every[1]["archived_at"] == "2026-03-16T12:05:00Z"
