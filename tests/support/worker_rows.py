"""Rows of the email-worker race tests (SQL and DynamoDB queues alike): customer i and their
answered 5-star feedback, scanned an hour ago; in SQL, their replies and due queue items too."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from encore_backend.storage.sql import models as m

Q = m.email_queue.c


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


DUE_A_MINUTE_AGO = -timedelta(minutes=1)


def insert_due_items(
    engine: Engine, first: int, count: int, *, due_in: Callable[[int], timedelta] | None = None
) -> list[str]:
    """`count` queue items (with customer, feedback and reply rows), item i due `due_in(i)`
    from now (default: due a minute ago); their Message-IDs."""
    now = datetime.now(UTC)
    ids = range(first, first + count)
    items = [item_row(i, now, now + (due_in(i) if due_in else DUE_A_MINUTE_AGO)) for i in ids]
    with engine.begin() as conn:
        insert_sources(conn, ids, now)
        conn.execute(insert(m.ai_responses), [reply_row(i, now) for i in ids])
        conn.execute(insert(m.email_queue), items)
    return [item["message_id"] for item in items]


def reply_row(i: int, now: datetime) -> dict[str, Any]:
    return {
        "response_id": f"r-{i}",
        "feedback_id": i,
        "venue_id": "v1",
        "subject": "Thank you for visiting",
        "body": f"Hi Sam,\n\nThank you for your visit ({i}).\n\nThe team",
        "status": "auto_approved",
        "provider": "template",
        "created_at": now,
    }


def item_row(i: int, now: datetime, send_at: datetime) -> dict[str, Any]:
    return {
        "queue_id": f"q-{i:06d}",
        "kind": "reply",
        "feedback_id": i,
        "response_id": f"r-{i}",
        "venue_id": "v1",
        "customer_email": f"c{i}@example.com",
        "scheduled_send_time": send_at,
        "status": "pending",
        "created_at": now,
        "attempts": 0,
        "message_id": f"<q-{i:06d}@encore.test>",
    }


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Q.status, func.count()).group_by(Q.status)).all())


def sending_by_pid(engine: Engine) -> dict[int, str]:
    """Items now `sending`, by the pid in their claim (host:pid:token)."""
    with engine.connect() as conn:
        rows = conn.execute(select(Q.queue_id, Q.claimed_by).where(Q.status == "sending")).all()
    return {int(claim.split(":")[-2]): queue_id for queue_id, claim in rows}


def all_sending_by_pid(engine: Engine) -> dict[int, set[str]]:
    """Every item now `sending`, by the pid in its claim (a process runs several senders)."""
    with engine.connect() as conn:
        rows = conn.execute(select(Q.queue_id, Q.claimed_by).where(Q.status == "sending")).all()
    found: dict[int, set[str]] = {}
    for queue_id, claim in rows:
        found.setdefault(int(claim.split(":")[-2]), set()).add(queue_id)
    return found
