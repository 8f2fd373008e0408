"""The FeedbackStore contract of `ingest_many`, on every SQL backend (SQLite, MariaDB,
PostgreSQL; feedback lives in SQL in every profile, DynamoDB holds derived tables only).

Given items with and without external_ids and customers, expect the outcome of `ingest` called
once per item in order: one row per new key, the first row's id for a repeat (in the batch or
stored before), customers matched by email and updated with the fields given, a customer with no
email created per item, and nothing written for a repeat's customer.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from factories import make_venue
from sqlalchemy import Engine, func, select

from encore_backend.bootstrap import Container
from encore_backend.storage.sql import models as m


def fb(external_id: str | None = None, venue_id: str = "v1", **values: Any) -> dict[str, Any]:
    return {
        "venue_id": venue_id,
        "rating": 4,
        "comment": "ok",
        "created_at": values.pop("created_at", None),
        "external_id": external_id,
        **values,
    }


def rows(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_ingest_many_matches_ingest_one_by_one(ctx: Container, engine: Engine) -> None:
    now = ctx.clock.now()
    make_venue(engine, "v1", now=now)
    make_venue(engine, "v2", now=now)
    stored, _ = ctx.feedback.ingest(
        feedback=fb("e0", created_at=now), customer={"email": "a@x.example"}, now=now
    )
    later = now + timedelta(minutes=1)
    items = [
        (fb("e0", created_at=now), {"email": "a@x.example", "name": "Never"}),
        (fb("e1", created_at=now), {"email": "a@x.example", "tier": "gold"}),
        (fb("e1", created_at=now, rating=1), None),
        (fb("e1", venue_id="v2", created_at=now), None),
        (fb(None, created_at=now), {"name": "No Email"}),
        (fb(None, created_at=now), {"name": "No Email"}),
        (fb("e2", created_at=now), {"email": "b@x.example", "lifetime_value": Decimal("12.50")}),
        (fb("e3", created_at=now), {"email": "a@x.example", "name": "Ann"}),
    ]
    results = ctx.feedback.ingest_many(items, now=later)

    created = [c for _, c in results]
    assert created == [False, True, False, True, True, True, True, True]
    assert results[0][0] == stored["feedback_id"]
    assert results[2][0] == results[1][0]
    assert len({i for i, c in results if c}) == 6
    assert rows(engine, m.feedback) == 7
    e1 = ctx.feedback.get(results[1][0])
    assert e1 is not None and e1["rating"] == 4 and e1["ingested_at"] == later
    assert (e1["status"], e1["draft_attempts"], e1["alert_scanned_at"]) == ("new", 0, None)
    assert (e1["email"], e1["tier"], e1["name"]) == ("a@x.example", "gold", "Ann")
    anonymous = [ctx.feedback.get(results[i][0]) for i in (4, 5)]
    assert [a["name"] for a in anonymous if a] == ["No Email", "No Email"]
    assert anonymous[0]["customer_id"] != anonymous[1]["customer_id"]  # type: ignore[index]
    e2 = ctx.feedback.get(results[6][0])
    assert e2 is not None and e2["lifetime_value"] == Decimal("12.50")
    assert rows(engine, m.customers) == 4  # a, b, and two without an email


def test_ingest_many_twice_creates_nothing_new(ctx: Container, engine: Engine) -> None:
    now = ctx.clock.now()
    make_venue(engine, "v1", now=now)
    items = [(fb(f"k{i}", created_at=now), {"email": f"c{i % 3}@x.example"}) for i in range(50)]
    first = ctx.feedback.ingest_many(items, now=now)
    again = ctx.feedback.ingest_many(items, now=now)
    assert all(c for _, c in first) and not any(c for _, c in again)
    assert [i for i, _ in again] == [i for i, _ in first]
    assert rows(engine, m.feedback) == 50 and rows(engine, m.customers) == 3


def test_ingest_many_of_nothing(ctx: Container, engine: Engine) -> None:
    assert ctx.feedback.ingest_many([], now=ctx.clock.now()) == []
