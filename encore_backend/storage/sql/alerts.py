"""Alerts: reads and acknowledgement for the API, and the detector's scan queries.

The scan writes in one transaction: mark the batch scanned, insert its alerts (a duplicate
feedback_id is skipped by the database, so concurrent scanners never duplicate) and the webhook
deliveries of the alerts this transaction inserted (the outbox: nothing is lost on a crash).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, func, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from encore_backend.storage.ports.derived import SavedScan
from encore_backend.storage.sql import escalations
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.email_queue import insert_items
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.keyset import after as keyset_after
from encore_backend.storage.sql.keyset import ordered
from encore_backend.storage.sql.retries import retry_deadlocks

A = m.alerts.c
LIST_ORDER = ((A.detected_at, True), (A.feedback_id, True))  # one alert per feedback
F = m.feedback.c
D = m.webhook_deliveries.c
SCAN_COLUMNS = (
    F.feedback_id,
    F.venue_id,
    F.customer_id,
    F.rating,
    F.comment,
    F.created_at,
    m.customers.c.lifetime_value,
    m.customers.c.tier,
    m.venue_settings.c.alert_keywords,
    m.venue_settings.c.alert_rules_disabled,
    m.venue_settings.c.alert_notify_min_level,
    m.venues.c.webhook_url,
    m.venues.c.name.label("venue_name"),
    m.venues.c.manager_emails,
    m.venues.c.timezone,
)


@raises_port_errors
class SqlAlertStore:
    """The `encore_venue_alerts` table (and, for the scan, feedback and webhook_deliveries)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, alert_id: str) -> dict[str, Any] | None:
        with read_only(self.engine) as conn:
            row = conn.execute(select(m.alerts).where(A.alert_id == alert_id)).first()
        return dict(row._mapping) if row else None

    def for_feedback(self, feedback_id: int) -> dict[str, Any] | None:
        """The alert a feedback raised, if any (at most one)."""
        with read_only(self.engine) as conn:
            row = conn.execute(select(m.alerts).where(A.feedback_id == feedback_id)).first()
        return dict(row._mapping) if row else None

    def list_for_venue(
        self,
        venue_id: str,
        *,
        is_read: bool | None = None,
        level: str | None = None,
        include_archived: bool = False,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's alerts, newest first; after the (detected_at, feedback_id) `after`."""
        query = select(m.alerts).where(A.venue_id == venue_id)
        if after is not None:
            query = query.where(keyset_after(LIST_ORDER, after))
        if is_read is not None:
            query = query.where(A.is_read == is_read)
        if level is not None:
            query = query.where(A.level == level)
        if not include_archived:
            query = query.where(A.archived_at.is_(None))
        query = query.order_by(*ordered(LIST_ORDER)).limit(limit)
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def list_since(
        self, venue_id: str, *, since: datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Alerts detected at or after `since`, oldest first (the live stream polls this)."""
        query = (
            select(m.alerts)
            .where(A.venue_id == venue_id, A.detected_at >= since)
            .order_by(A.detected_at, A.feedback_id)
            .limit(limit)
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def mark_read(self, alert_id: str) -> dict[str, Any] | None:
        with self.engine.begin() as conn:
            conn.execute(update(m.alerts).where(A.alert_id == alert_id).values(is_read=True))
        return self.get(alert_id)

    def acknowledge(self, alert_id: str, by: str, now: datetime) -> dict[str, Any] | None:
        """Mark read and acknowledged; the first acknowledgement is kept."""
        with self.engine.begin() as conn:
            conn.execute(update(m.alerts).where(A.alert_id == alert_id).values(is_read=True))
            conn.execute(
                update(m.alerts)
                .where(A.alert_id == alert_id, A.acknowledged_at.is_(None))
                .values(acknowledged_by=by, acknowledged_at=now)
            )
        return self.get(alert_id)

    def count_by_level(self, *, include_archived: bool = False) -> dict[str, int]:
        """Alert counts per level over all venues (for metrics)."""
        query = select(A.level, func.count()).group_by(A.level)
        if not include_archived:
            query = query.where(A.archived_at.is_(None))
        with read_only(self.engine) as conn:
            return {level: int(n) for level, n in conn.execute(query)}

    # --- the detector's scan -------------------------------------------------------------

    def unscanned(
        self, *, limit: int, after_id: int = 0, feedback_ids: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Not-yet-scanned feedback with what the rules need, in id order (one query)."""
        joined = (
            m.feedback.join(m.venues, m.venues.c.venue_id == F.venue_id)
            .outerjoin(m.venue_settings, m.venue_settings.c.venue_id == F.venue_id)
            .outerjoin(m.customers, m.customers.c.customer_id == F.customer_id)
        )
        query = select(*SCAN_COLUMNS).select_from(joined).where(F.alert_scanned_at.is_(None))
        if feedback_ids is not None:
            query = query.where(F.feedback_id.in_(list(feedback_ids)))
        query = query.where(F.feedback_id > after_id).order_by(F.feedback_id).limit(limit)
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def low_ratings(
        self, *, customer_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        """Ratings ≤ 2 of these customers created in [since, until] (one query per batch)."""
        if not customer_ids:
            return []
        query = select(F.feedback_id, F.customer_id, F.venue_id, F.created_at).where(
            F.customer_id.in_(sorted(set(customer_ids))),
            F.rating <= 2,
            F.created_at >= since,
            F.created_at <= until,
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    @retry_deadlocks
    def save_scan(
        self,
        *,
        feedback_ids: Sequence[int],
        alerts: Sequence[Mapping[str, Any]],
        deliveries: Mapping[str, Sequence[Mapping[str, Any]]],
        now: datetime,
        emails: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> SavedScan:
        """Mark the batch scanned and insert its alerts, their webhook deliveries (outbox rows
        by alert id: the venue's webhook and its channels) and their emails to managers (queue
        items by alert id), atomically.

        Marking first makes a concurrent scanner of the same rows wait for this commit (row
        locks), then find nothing left to mark; alerts it still inserts are skipped as
        duplicates, and only alerts this transaction inserted get deliveries.
        """
        with self.engine.begin() as conn:
            marked = _mark_scanned(conn, feedback_ids, now)
            if marked == 0 or not alerts:
                return SavedScan(marked=marked)
            ids = [a["alert_id"] for a in alerts]
            # Alert ids derive from the feedback, so "ours" is what had no alert before.
            fids = [int(a["feedback_id"]) for a in alerts]
            had = set(conn.execute(select(A.feedback_id).where(A.feedback_id.in_(fids))).scalars())
            conn.execute(insert_ignoring_duplicates(conn), [dict(a) for a in alerts])
            ours = {a["alert_id"] for a in alerts if int(a["feedback_id"]) not in had}
            rows = [dict(d) for i in ids if i in ours for d in deliveries.get(i, ())]
            if rows:
                conn.execute(insert(m.webhook_deliveries), rows)
            mail = emails or {}
            insert_items(conn, [item for i in ids if i in ours for item in mail.get(i, ())])
        inserted = [dict(a) for a in alerts if a["alert_id"] in ours]
        return SavedScan(marked, inserted, [r["delivery_id"] for r in rows])

    # --- response deadline (response_sla; queries in storage/sql/escalations) ----------------

    def unanswered(
        self,
        venue_id: str,
        *,
        escalated: bool | None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's feedback without a sent reply, oldest first: escalated (True), not yet
        (False) or both (None)."""
        return escalations.unanswered(
            self.engine,
            venue_id,
            escalated=escalated,
            created_from=created_from,
            created_to=created_to,
            limit=limit,
        )

    def count_overdue(self, venue_id: str) -> int:
        """The venue's escalated feedback still without a sent reply."""
        return escalations.count_overdue(self.engine, venue_id)

    def for_feedbacks(self, feedback_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The alert of each of these feedback that raised one, by feedback id."""
        return escalations.alerts_for(self.engine, feedback_ids)

    def mark_escalated(self, alert_ids: Sequence[str], now: datetime) -> int:
        """Set escalated_at on these alerts (the first one is kept); how many changed."""
        with self.engine.begin() as conn:
            return escalations.mark_alerts(conn, alert_ids, now)

    @retry_deadlocks
    def escalate(
        self,
        *,
        feedback_ids: Sequence[int],
        alerts: Mapping[int, Mapping[str, Any]],
        emails: Mapping[int, Sequence[Mapping[str, Any]]],
        deliveries: Mapping[int, Sequence[Mapping[str, Any]]],
        now: datetime,
    ) -> list[int]:
        """Escalate the feedback still unanswered and unescalated, once: its escalated_at, its
        alert's, its manager emails and webhook deliveries in one transaction; the ids done."""

        def write(conn: Connection, claimed: Sequence[int]) -> None:
            ids = [str(alerts[i]["alert_id"]) for i in claimed if i in alerts]
            escalations.mark_alerts(conn, ids, now)
            escalations.insert_notices(conn, [e for i in claimed for e in emails.get(i, ())])

        return escalations.escalate_with(
            self.engine, feedback_ids=feedback_ids, deliveries=deliveries, now=now, write=write
        )

    def escalate_with(
        self,
        *,
        feedback_ids: Sequence[int],
        deliveries: Mapping[int, Sequence[Mapping[str, Any]]],
        now: datetime,
        write: Callable[[Sequence[int]], None],
    ) -> list[int]:
        """The claim for another store's writes (DynamoDB): `write(claimed)` runs inside it."""
        return escalations.escalate_with(
            self.engine,
            feedback_ids=feedback_ids,
            deliveries=deliveries,
            now=now,
            write=lambda _conn, claimed: write(claimed),
        )

    # --- for the DynamoDB profile, whose alerts live in DynamoDB ------------------------------

    @retry_deadlocks
    def save_scan_with(
        self,
        *,
        feedback_ids: Sequence[int],
        now: datetime,
        write: Callable[[Mapping[int, datetime]], Sequence[Mapping[str, Any]]],
    ) -> tuple[int, list[str]]:
        """Mark the batch scanned around another store's alert writes, in one transaction:
        lock the rows not scanned yet, mark them, call `write({feedback_id: created_at})` for
        the rows this call marked while they stay locked, insert the webhook deliveries it
        returns (an id already stored is skipped), commit. How many rows it marked, and the
        ids of the deliveries it inserted.

        The locks make a racing scanner wait for this commit and then find those rows marked;
        if this transaction dies, the rows stay unscanned and the next scan calls `write` for
        them again (its writes must be idempotent: see storage/dynamodb/alert_scan.py).
        """
        with self.engine.begin() as conn:
            created = _lock_unscanned(conn, feedback_ids)
            if not created:
                return 0, []
            conn.execute(
                update(m.feedback)
                .where(F.feedback_id.in_(sorted(created)))
                .values(alert_scanned_at=now)
            )
            return len(created), _insert_new_deliveries(conn, write(created))

    def venue_ids(self) -> list[str]:
        """Every venue's id (the DynamoDB store reads its per-venue items by these)."""
        with read_only(self.engine) as conn:
            return list(conn.execute(select(m.venues.c.venue_id)).scalars())

    def archive_before(self, *, before: datetime, now: datetime) -> int:
        """Archive the alerts detected before `before` (archived_at = now); how many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(m.alerts)
                .where(A.archived_at.is_(None), A.detected_at < before)
                .values(archived_at=now)
            )
        return int(result.rowcount)


def _mark_scanned(conn: Connection, feedback_ids: Sequence[int], now: datetime) -> int:
    result = conn.execute(
        update(m.feedback)
        .where(F.feedback_id.in_(sorted(feedback_ids)), F.alert_scanned_at.is_(None))
        .values(alert_scanned_at=now)
    )
    return int(result.rowcount)


def insert_ignoring_duplicates(conn: Connection) -> Insert:
    """INSERT into alerts that skips rows whose feedback_id already has an alert."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(m.alerts).on_conflict_do_nothing(index_elements=["feedback_id"])
    if name == "sqlite":
        return sqlite.insert(m.alerts).on_conflict_do_nothing(index_elements=["feedback_id"])
    if name in ("mysql", "mariadb"):
        # A no-op update: the existing row (and its alert_id) stays as it is.
        return mysql.insert(m.alerts).on_duplicate_key_update(alert_id=A.alert_id)
    raise NotImplementedError(f"no duplicate-skipping insert for {name}")


def _lock_unscanned(conn: Connection, feedback_ids: Sequence[int]) -> dict[int, datetime]:
    """created_at of the batch's rows not scanned yet, locked until commit (SQLite: its writer
    transaction is BEGIN IMMEDIATE, which already excludes every other writer)."""
    query = (
        select(F.feedback_id, F.created_at)
        .where(F.feedback_id.in_(sorted(feedback_ids)), F.alert_scanned_at.is_(None))
        .order_by(F.feedback_id)
        .with_for_update()
    )
    return {int(r.feedback_id): r.created_at for r in conn.execute(query)}


def _insert_new_deliveries(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Insert the delivery rows whose id is not stored yet; the ids inserted."""
    ids = [r["delivery_id"] for r in rows]
    if not ids:
        return []
    stored = set(conn.execute(select(D.delivery_id).where(D.delivery_id.in_(ids))).scalars())
    new = [dict(r) for r in rows if r["delivery_id"] not in stored]
    if new:
        conn.execute(insert(m.webhook_deliveries), new)
    return [r["delivery_id"] for r in new]
