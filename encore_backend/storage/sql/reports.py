"""Reports: the `encore_reports` table and the set-based reads a report run needs.

A run asks for the facts of many periods at once. Each venue's periods are merged into one
covering span, venues with the same span share one `venue_id IN (...) AND time in span` term,
and one statement per fact (feedback, sent replies, critical alerts) reads them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Insert, and_, or_, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from encore_backend.storage.ports.derived import Span
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.email_queue import insert_items
from encore_backend.storage.sql.keyset import after as keyset_after
from encore_backend.storage.sql.keyset import ordered
from encore_backend.storage.sql.retries import retry_deadlocks

R, F = m.reports.c, m.feedback.c
LIST_MAX = 500


def in_spans(venue: Any, when: Any, spans: Sequence[Span]) -> ColumnElement[bool]:
    return or_(*(and_(venue.in_(list(s.venue_ids)), when >= s.start, when < s.end) for s in spans))


@raises_port_errors
class SqlReportStore:
    """The `encore_reports` table, and the reads of feedback, replies and alerts behind it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def venues(self) -> list[dict[str, Any]]:
        """Every venue with what scheduling and delivery of its reports need."""
        v, s = m.venues.c, m.venue_settings.c
        query = (
            select(
                v.venue_id,
                v.name,
                v.timezone,
                v.created_at,
                v.manager_emails,
                s.daily_report_enabled,
                s.weekly_report_enabled,
                s.response_sla_hours,
            )
            .select_from(m.venues.outerjoin(m.venue_settings, s.venue_id == v.venue_id))
            .order_by(v.venue_id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def existing(self, *, kind: str, since: datetime) -> set[tuple[str, datetime]]:
        """(venue_id, period_start) of the reports of `kind` starting at or after `since`."""
        query = select(R.venue_id, R.period_start).where(R.kind == kind, R.period_start >= since)
        with self.engine.connect() as conn:
            return {(r.venue_id, r.period_start) for r in conn.execute(query)}

    def feedback_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Feedback created in the spans: venue_id, feedback_id, rating, comment, created_at."""
        if not spans:
            return []
        query = select(F.venue_id, F.feedback_id, F.rating, F.comment, F.created_at).where(
            in_spans(F.venue_id, F.created_at, spans)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def replies_sent_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Replies sent in the spans: venue_id, sent_at and their feedback's created_at."""
        if not spans:
            return []
        r = m.ai_responses.c
        query = (
            select(r.venue_id, r.sent_at, F.created_at)
            .select_from(m.ai_responses.join(m.feedback, F.feedback_id == r.feedback_id))
            .where(in_spans(r.venue_id, r.sent_at, spans))
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def critical_alerts_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Critical alerts on feedback created in the spans (archived ones too)."""
        if not spans:
            return []
        a = m.alerts.c
        query = (
            select(F.venue_id, F.created_at, a.alert_id, a.feedback_id, a.title)
            .select_from(m.alerts.join(m.feedback, F.feedback_id == a.feedback_id))
            .where(a.level == "critical", in_spans(F.venue_id, F.created_at, spans))
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @retry_deadlocks
    def insert(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        emails: Callable[[list[dict[str, Any]]], Sequence[Mapping[str, Any]]] | None = None,
    ) -> list[dict[str, Any]]:
        """Insert reports, skipping any whose (venue, kind, period) exists; the ones inserted.
        `emails(inserted)` gives queue items written in the same transaction. Racing inserts
        of the same keys can deadlock on MariaDB's gap locks: the victim runs again."""
        if not rows:
            return []
        ids = [row["report_id"] for row in rows]
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_duplicates(conn), [dict(row) for row in rows])
            ours = set(conn.execute(select(R.report_id).where(R.report_id.in_(ids))).scalars())
            inserted = [dict(row) for row in rows if row["report_id"] in ours]
            if emails is not None:
                insert_items(conn, emails(inserted))
        return inserted

    def get(self, report_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.reports).where(R.report_id == report_id)).first()
        return dict(row._mapping) if row else None

    def list_for_venue(
        self,
        venue_id: str,
        *,
        kind: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's reports, newest period first; after the (period_start, kind) `after`."""
        order = ((R.period_start, True), (R.kind, False))
        query = select(m.reports).where(R.venue_id == venue_id)
        if after is not None:
            query = query.where(keyset_after(order, after))
        if kind is not None:
            query = query.where(R.kind == kind)
        query = query.order_by(*ordered(order)).limit(min(limit, LIST_MAX + 1))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def insert_ignoring_duplicates(conn: Connection) -> Insert:
    """INSERT into reports that skips a row whose (venue_id, kind, period_start) exists."""
    name = conn.dialect.name
    key = ["venue_id", "kind", "period_start"]
    if name == "postgresql":
        return postgresql.insert(m.reports).on_conflict_do_nothing(index_elements=key)
    if name == "sqlite":
        return sqlite.insert(m.reports).on_conflict_do_nothing(index_elements=key)
    if name in ("mysql", "mariadb"):
        return mysql.insert(m.reports).on_duplicate_key_update(report_id=R.report_id)
    raise NotImplementedError(f"no duplicate-skipping insert for {name}")
