"""Every list endpoint pages with an opaque cursor: all rows seen once, even past the limit cap.

Rows share sort times on purpose (ties), so the tie-breaking column of the keyset is exercised.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from api_support import ADMIN, client, field_names
from factories import make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from encore_backend.bootstrap import Container
from encore_backend.storage.sql import models as m

__all__ = ["client"]

VENUE = "pager"
LEVELS = ("critical", "high", "medium", "low", "info")


def read_all(client: TestClient, url: str, key: str) -> tuple[list[dict[str, Any]], int]:
    """Every row of a list, page by page; and how many pages it took."""
    rows: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        sep = "&" if "?" in url else "?"
        page_url = url if cursor is None else f"{url}{sep}cursor={cursor}"
        body = client.get(page_url, headers=ADMIN).json()
        rows.extend(body[key])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages
        assert pages < 100, "the cursor does not advance"


def bulk_feedback(engine: Engine, n: int, now: datetime) -> list[int]:
    rows = [
        {"venue_id": VENUE, "rating": 1 + i % 5, "comment": f"f{i}", "status": "new",
         "created_at": now, "ingested_at": now}
        for i in range(n)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.feedback), rows)
        query = select(m.feedback.c.feedback_id).where(m.feedback.c.venue_id == VENUE)
        return sorted(int(i) for i in conn.execute(query).scalars())


def bulk_alerts(engine: Engine, feedback_ids: list[int], now: datetime) -> None:
    """One alert per feedback over seven distinct detection times (many ties)."""
    rows = [
        {"alert_id": str(uuid.uuid4()), "venue_id": VENUE, "feedback_id": fid,
         "level": LEVELS[i % 5], "title": "t", "description": "d", "reasons": [],
         "detected_at": now - timedelta(minutes=i % 7), "is_read": False}
        for i, fid in enumerate(feedback_ids)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.alerts), rows)


@pytest.fixture
def venue(ctx: Container, engine: Engine) -> datetime:
    now = ctx.clock.now()
    make_venue(engine, VENUE, now=now)
    return now


def test_1200_alerts_are_read_in_pages_each_once(
    client: TestClient, engine: Engine, venue: datetime
) -> None:
    bulk_alerts(engine, bulk_feedback(engine, 1200, venue), venue)
    alerts, pages = read_all(client, f"/api/venues/{VENUE}/alerts?limit=500", "alerts")
    ids = [a["alert_id"] for a in alerts]
    assert (len(ids), len(set(ids)), pages) == (1200, 1200, 3)
    keys = [(a["detected_at"], a["feedback_id"]) for a in alerts]
    assert keys == sorted(keys, reverse=True)  # newest first, ties by feedback id
    high, _ = read_all(client, f"/api/venues/{VENUE}/alerts?limit=100&level=high", "alerts")
    assert len(high) == 240 and {a["level"] for a in high} == {"high"}


def test_the_last_full_page_says_there_is_no_more(
    client: TestClient, engine: Engine, venue: datetime
) -> None:
    bulk_alerts(engine, bulk_feedback(engine, 4, venue), venue)
    first = client.get(f"/api/venues/{VENUE}/alerts?limit=2", headers=ADMIN).json()
    second = client.get(
        f"/api/venues/{VENUE}/alerts?limit=2&cursor={first['next_cursor']}", headers=ADMIN
    ).json()
    assert len(second["alerts"]) == 2 and second["next_cursor"] is None


def test_feedback_pages_with_a_cursor(client: TestClient, engine: Engine, venue: datetime) -> None:
    made = bulk_feedback(engine, 25, venue)
    rows, pages = read_all(client, f"/api/venues/{VENUE}/feedback?limit=10", "feedback")
    assert [r["feedback_id"] for r in rows] == sorted(made, reverse=True)
    assert pages == 3


def test_replies_queue_items_and_reports_page(
    client: TestClient, engine: Engine, venue: datetime
) -> None:
    feedback_ids = bulk_feedback(engine, 7, venue)
    reply_ids = _replies(engine, feedback_ids, venue)
    queue_ids = _queue_items(engine, feedback_ids, reply_ids, venue)
    report_ids = _reports(engine, venue)
    replies, _ = read_all(client, f"/api/venues/{VENUE}/responses?limit=2", "responses")
    assert sorted(r["response_id"] for r in replies) == sorted(reply_ids)
    items, _ = read_all(client, f"/api/venues/{VENUE}/email-queue?limit=2", "items")
    assert sorted(i["queue_id"] for i in items) == sorted(queue_ids)
    reports, pages = read_all(client, f"/api/venues/{VENUE}/reports?limit=2", "reports")
    assert sorted(r["report_id"] for r in reports) == sorted(report_ids) and pages == 3


def _replies(engine: Engine, feedback_ids: list[int], now: datetime) -> list[str]:
    rows: list[dict[str, Any]] = [
        {"response_id": str(uuid.uuid4()), "feedback_id": fid, "venue_id": VENUE,
         "subject": "s", "body": "b", "status": "approved", "provider": "template",
         "created_at": now - timedelta(minutes=i % 2)}
        for i, fid in enumerate(feedback_ids)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.ai_responses), rows)
    return [r["response_id"] for r in rows]


def _queue_items(
    engine: Engine, feedback_ids: list[int], reply_ids: list[str], now: datetime
) -> list[str]:
    rows: list[dict[str, Any]] = [
        {"queue_id": str(uuid.uuid4()), "feedback_id": fid, "response_id": rid,
         "venue_id": VENUE, "customer_email": "c@example.com", "status": "pending",
         "scheduled_send_time": now + timedelta(minutes=i % 2), "created_at": now,
         "attempts": 0, "message_id": f"<{uuid.uuid4()}@test>"}
        for i, (fid, rid) in enumerate(zip(feedback_ids, reply_ids, strict=True))
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.email_queue), rows)
    return [r["queue_id"] for r in rows]


def _reports(engine: Engine, now: datetime) -> list[str]:
    """A daily and a weekly report on the same period start (a tie on period_start)."""
    starts = [now - timedelta(days=7), now - timedelta(days=7), now - timedelta(days=1)]
    rows: list[dict[str, Any]] = [
        {"report_id": str(uuid.uuid4()), "venue_id": VENUE, "kind": kind, "period_start": start,
         "period_end": start + timedelta(days=1), "generated_at": now, "content": {}}
        for kind, start in zip(("daily", "weekly", "daily"), starts, strict=True)
    ] + [
        {"report_id": str(uuid.uuid4()), "venue_id": VENUE, "kind": "daily",
         "period_start": now - timedelta(days=d), "period_end": now, "generated_at": now,
         "content": {}}
        for d in (2, 3)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.reports), rows)
    return [r["report_id"] for r in rows]


@pytest.mark.parametrize(
    "cursor", ["not-base64!", "bm90IGpzb24", "WzEsMiwzXQ", "WyJ4IiwxXQ", "W1td", "eyJhIjoxfQ"]
)
def test_a_foreign_or_forged_cursor_is_422(
    client: TestClient, venue: datetime, cursor: str
) -> None:
    response = client.get(f"/api/venues/{VENUE}/alerts?cursor={cursor}", headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "cursor" in field_names(response)


def test_a_cursor_of_another_list_is_422(
    client: TestClient, engine: Engine, venue: datetime
) -> None:
    bulk_alerts(engine, bulk_feedback(engine, 3, venue), venue)
    page = client.get(f"/api/venues/{VENUE}/alerts?limit=1", headers=ADMIN).json()
    foreign = client.get(
        f"/api/venues/{VENUE}/responses?cursor={page['next_cursor']}", headers=ADMIN
    )
    assert foreign.status_code == 422
