"""Escalation of unanswered bad feedback (response_sla): the reads over ix_feedback_unanswered
and the claim that makes each feedback escalate once.

The claim locks the chosen feedback rows still unanswered and unescalated, sets their
escalated_at, and writes the escalation's outputs (webhook deliveries here; alert marks and
manager emails through `write`, which the SQL alert store runs on the same connection and the
DynamoDB one against DynamoDB) before the commit. A racing run waits for the lock, then finds
those rows escalated; a run that dies before its commit leaves them to the next run, which is
why the outputs are written idempotently (fixed delivery ids, unique notice keys).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, exists, func, insert, select, update

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.engine import read_only

F, A, D, Q = m.feedback.c, m.alerts.c, m.webhook_deliveries.c, m.email_queue.c
UNANSWERED_COLUMNS = (
    F.feedback_id,
    F.venue_id,
    F.rating,
    F.comment,
    F.created_at,
    F.escalated_at,
)
# Inside the claim: (connection, feedback ids this call claimed) → nothing; raises to roll back.
Write = Callable[[Connection, Sequence[int]], None]


def answerable() -> ColumnElement[bool]:
    """The feedback's customer can be sent a reply (an address, not unsubscribed). Feedback
    nobody can answer is never overdue: its reply is cancelled, and escalating it would keep it
    on the overdue list for good."""
    c = m.customers.alias("reachable")  # its own name: queries that join customers still work
    return exists().where(
        c.c.customer_id == F.customer_id, c.c.email.is_not(None), c.c.unsubscribed_at.is_(None)
    )


def unanswered(
    engine: Engine,
    venue_id: str,
    *,
    escalated: bool | None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The venue's feedback without a sent reply (with its customer's name), oldest first:
    escalated (True), not yet (False) or both (None); a range of ix_feedback_unanswered
    (venue_id, responded_at, escalated_at, created_at)."""
    query = (
        select(*UNANSWERED_COLUMNS, m.customers.c.name.label("customer_name"))
        .select_from(m.feedback.outerjoin(m.customers))
        .where(F.venue_id == str(venue_id), F.responded_at.is_(None), answerable())
    )
    if escalated is not None:
        query = query.where(F.escalated_at.is_not(None) if escalated else F.escalated_at.is_(None))
    if created_from is not None:
        query = query.where(F.created_at >= created_from)
    if created_to is not None:
        query = query.where(F.created_at <= created_to)
    query = query.order_by(F.created_at, F.feedback_id)
    if limit is not None:
        query = query.limit(limit)
    with read_only(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def count_overdue(engine: Engine, venue_id: str) -> int:
    """How many of the venue's feedback are escalated and still unanswered (and answerable)."""
    query = select(func.count()).where(
        F.venue_id == str(venue_id),
        F.responded_at.is_(None),
        F.escalated_at.is_not(None),
        answerable(),
    )
    with read_only(engine) as conn:
        return int(conn.execute(query).scalar_one())


def escalate_with(
    engine: Engine,
    *,
    feedback_ids: Sequence[int],
    deliveries: Mapping[int, Sequence[Mapping[str, Any]]],
    now: datetime,
    write: Write,
) -> list[int]:
    """Claim the feedback of `feedback_ids` still unanswered and unescalated, and in the same
    transaction run `write` for them and insert their webhook deliveries; the ids claimed."""
    if not feedback_ids:
        return []
    with engine.begin() as conn:
        claimed = _lock_claimable(conn, feedback_ids)
        if not claimed:
            return []
        conn.execute(
            update(m.feedback)
            .where(F.feedback_id.in_(claimed), F.escalated_at.is_(None))
            .values(escalated_at=now)
        )
        write(conn, claimed)
        _insert_new_deliveries(conn, [dict(d) for i in claimed for d in deliveries.get(i, ())])
    return claimed


def _lock_claimable(conn: Connection, feedback_ids: Sequence[int]) -> list[int]:
    """Ids still unanswered and unescalated, locked until commit (SQLite: the writer
    transaction is BEGIN IMMEDIATE, which already excludes every other writer)."""
    query = (
        select(F.feedback_id)
        .where(
            F.feedback_id.in_(sorted({int(i) for i in feedback_ids})),
            F.escalated_at.is_(None),
            F.responded_at.is_(None),
            answerable(),
        )
        .order_by(F.feedback_id)
        .with_for_update()
    )
    return [int(i) for i in conn.execute(query).scalars()]


def mark_alerts(conn: Connection, alert_ids: Sequence[str], now: datetime) -> int:
    """escalated_at on these alerts (the first escalation is kept); how many changed."""
    if not alert_ids:
        return 0
    result = conn.execute(
        update(m.alerts)
        .where(A.alert_id.in_(sorted(set(alert_ids))), A.escalated_at.is_(None))
        .values(escalated_at=now)
    )
    return int(result.rowcount)


def insert_notices(conn: Connection, items: Sequence[Mapping[str, Any]]) -> int:
    """Queue manager notices, skipping a (notice_key, recipient) already queued; how many."""
    if not items:
        return 0
    keys = sorted({str(i["notice_key"]) for i in items})
    stored = {
        (key, (email or "").lower())
        for key, email in conn.execute(
            select(Q.notice_key, Q.customer_email).where(Q.notice_key.in_(keys))
        )
    }
    new = [
        dict(i)
        for i in items
        if (i["notice_key"], (i["customer_email"] or "").lower()) not in stored
    ]
    if new:
        conn.execute(insert(m.email_queue), new)
    return len(new)


def _insert_new_deliveries(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    ids = [r["delivery_id"] for r in rows]
    if not ids:
        return
    stored = set(conn.execute(select(D.delivery_id).where(D.delivery_id.in_(ids))).scalars())
    new = [dict(r) for r in rows if r["delivery_id"] not in stored]
    if new:
        conn.execute(insert(m.webhook_deliveries), new)


def alerts_for(engine: Engine, feedback_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The alert each of these feedback raised (those without one left out)."""
    found: dict[int, dict[str, Any]] = {}
    ids = sorted({int(i) for i in feedback_ids})
    with read_only(engine) as conn:
        for start in range(0, len(ids), 500):
            query = select(m.alerts).where(A.feedback_id.in_(ids[start : start + 500]))
            found.update({int(r.feedback_id): dict(r._mapping) for r in conn.execute(query)})
    return found
