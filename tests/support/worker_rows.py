"""Source rows of the email-worker race tests (SQL and DynamoDB queues alike): customer i and
their answered 5-star feedback, scanned an hour ago."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from encore_backend.storage.sql import models as m


def customer_row(i: int, now: datetime) -> dict[str, Any]:
    email = f"c{i}@example.com"
    return {"customer_id": i, "email": email, "name": "Sam", "created_at": now, "updated_at": now}


def feedback_row(i: int, now: datetime) -> dict[str, Any]:
    created = now - timedelta(hours=1)
    return {
        "feedback_id": i,
        "venue_id": "v1",
        "customer_id": i,
        "rating": 5,
        "comment": "Lovely evening.",
        "status": "pending",
        "created_at": created,
        "ingested_at": created,
        "alert_scanned_at": created,
    }


def insert_sources(conn: Connection, ids: Iterable[int], now: datetime) -> None:
    """Customers and feedback for the queue items `ids`."""
    ids = list(ids)
    conn.execute(insert(m.customers), [customer_row(i, now) for i in ids])
    conn.execute(insert(m.feedback), [feedback_row(i, now) for i in ids])
