"""Feedback and the customers who left it: ingestion, listing, and bulk loads for the demo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Select,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.feedback_batch import Item, ingest_items

f, c = m.feedback, m.customers
CUSTOMER_COLUMNS = (c.c.email, c.c.name, c.c.lifetime_value, c.c.tier)
CUSTOMER_FIELDS = ("name", "lifetime_value", "tier")


def _feedback_query() -> Select[Any]:
    """Feedback joined with its customer's public fields."""
    return select(f, *CUSTOMER_COLUMNS).select_from(
        f.outerjoin(c, f.c.customer_id == c.c.customer_id)
    )


# The ingestion path's statements, built once: building a statement with literal values costs
# more than executing it (cache-key generation), and ingestion runs them per feedback.
CUSTOMER_BY_EMAIL = select(c.c.customer_id).where(c.c.email == bindparam("b_email"))
UPDATE_CUSTOMER = update(c).where(c.c.customer_id == bindparam("b_id"))
INSERT_CUSTOMER = insert(c)
INSERT_FEEDBACK = insert(f)
FEEDBACK_BY_ID = _feedback_query().where(f.c.feedback_id == bindparam("b_id"))


@raises_port_errors
class SqlFeedbackStore:
    """The `feedback` and `customers` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, feedback_id: int) -> dict[str, Any] | None:
        """One feedback row with customer email/name/lifetime_value/tier, or None."""
        with read_only(self.engine) as conn:
            row = conn.execute(_feedback_query().where(f.c.feedback_id == feedback_id)).first()
        return dict(row._mapping) if row else None

    def get_by_external_id(self, venue_id: str, external_id: str) -> dict[str, Any] | None:
        query = _feedback_query().where(f.c.venue_id == venue_id, f.c.external_id == external_id)
        with read_only(self.engine) as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def ingest(
        self,
        *,
        feedback: Mapping[str, Any],
        customer: Mapping[str, Any] | None,
        now: datetime,
    ) -> tuple[dict[str, Any], bool]:
        """Insert feedback (+ customer upsert) atomically; (row, created). An existing
        (venue_id, external_id) returns (first row, False): races are settled by the unique key."""
        venue_id, external_id = feedback["venue_id"], feedback.get("external_id")
        for _attempt in range(3):
            if external_id is not None:
                existing = self.get_by_external_id(venue_id, external_id)
                if existing is not None:
                    return existing, False
            try:
                return self._insert(feedback, customer, now), True
            except IntegrityError:
                continue  # a concurrent request won the external_id or the customer email
        raise RuntimeError("feedback ingestion kept conflicting; giving up after 3 attempts")

    def ingest_many(self, items: Sequence[Item], *, now: datetime) -> list[tuple[int, bool]]:
        """`ingest` of many (feedback, customer) pairs in one transaction; (feedback_id,
        created) per item. A concurrent writer taking one of the keys first rolls the batch
        back, and the retry then finds that key stored."""
        for _attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    return ingest_items(conn, items, now)
            except IntegrityError:
                continue
        raise RuntimeError("batch ingestion kept conflicting; giving up after 3 attempts")

    def _insert(
        self, feedback: Mapping[str, Any], customer: Mapping[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        """One transaction: the customer, the feedback, and the stored row read back (one
        connection and one commit per feedback: on SQLite the single writer is the limit)."""
        with self.engine.begin() as conn:
            customer_id = _upsert_customer(conn, customer, now) if customer else None
            values = {**feedback, "customer_id": customer_id, "status": "new", "ingested_at": now}
            feedback_id = _new_id(conn.execute(INSERT_FEEDBACK, values))
            row = conn.execute(FEEDBACK_BY_ID, {"b_id": feedback_id}).one()
        return dict(row._mapping)

    def list_for_venue(
        self,
        venue_id: str,
        *,
        limit: int = 50,
        before_id: int | None = None,
        rating: int | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first (by id), `limit` rows older than `before_id`, optionally filtered."""
        query = _feedback_query().where(f.c.venue_id == venue_id)
        if before_id is not None:
            query = query.where(f.c.feedback_id < before_id)
        if rating is not None:
            query = query.where(f.c.rating == rating)
        if status is not None:
            query = query.where(f.c.status == status)
        query = query.order_by(f.c.feedback_id.desc()).limit(limit)
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count(self, venue_id: str | None = None) -> int:
        query = select(func.count()).select_from(f)
        if venue_id is not None:
            query = query.where(f.c.venue_id == venue_id)
        with read_only(self.engine) as conn:
            return int(conn.execute(query).scalar_one())

    def defer_draft(self, feedback_id: int, *, retry_at: datetime | None, error: str) -> bool:
        """Count one more run whose draft failed transiently, keep the error and wait until
        `retry_at` (None: no further retry). False when the feedback got a reply meanwhile (a
        racing generator): it is left alone."""
        answered = exists().where(m.ai_responses.c.feedback_id == f.c.feedback_id)
        change = (
            update(f)
            .where(f.c.feedback_id == feedback_id, ~answered)
            .values(
                draft_attempts=f.c.draft_attempts + 1, draft_retry_at=retry_at, draft_error=error
            )
        )
        with self.engine.begin() as conn:
            return conn.execute(change).rowcount == 1

    def hold_drafts(
        self, feedback_ids: Sequence[int], *, until: datetime, now: datetime
    ) -> list[int]:
        """Set draft_retry_at = until on each unanswered feedback not already waiting (one
        transaction; a row another tick held or a draft deferred is left alone)."""
        answered = exists().where(m.ai_responses.c.feedback_id == f.c.feedback_id)
        free = or_(f.c.draft_retry_at.is_(None), f.c.draft_retry_at <= now)
        held = []
        with self.engine.begin() as conn:
            for feedback_id in feedback_ids:
                change = (
                    update(f)
                    .where(f.c.feedback_id == feedback_id, free, ~answered)
                    .values(draft_retry_at=until)
                )
                if conn.execute(change).rowcount == 1:
                    held.append(int(feedback_id))
        return held

    def bulk_insert_customers(
        self, rows: Sequence[Mapping[str, Any]], *, now: datetime
    ) -> dict[str, int]:
        """Insert customers (each with a lower-case email) not yet known; returns email -> id."""
        emails = [r["email"] for r in rows]
        with self.engine.begin() as conn:
            known = _ids_by_email(conn, emails)
            new = [
                {**r, "created_at": now, "updated_at": now} for r in rows if r["email"] not in known
            ]
            if new:
                conn.execute(insert(c), new)
            return _ids_by_email(conn, emails)

    def bulk_insert_feedback(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert many feedback rows in one executemany (demo data, imports); returns the count."""
        batch = [dict(r) for r in rows]
        if batch:
            with self.engine.begin() as conn:
                conn.execute(insert(f), batch)
        return len(batch)


def _upsert_customer(conn: Connection, customer: Mapping[str, Any], now: datetime) -> int:
    """The customer with this (lower-cased) email, updated with the given fields; else a new one."""
    given = {k: customer[k] for k in CUSTOMER_FIELDS if customer.get(k) is not None}
    email = customer.get("email")
    if email:
        found = conn.execute(CUSTOMER_BY_EMAIL, {"b_email": email}).scalar()
        if found is not None:
            if given:
                conn.execute(UPDATE_CUSTOMER, {**given, "updated_at": now, "b_id": found})
            return int(found)
    values = {"email": email or None, **given, "created_at": now, "updated_at": now}
    return _new_id(conn.execute(INSERT_CUSTOMER, values))


def _ids_by_email(conn: Connection, emails: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        query = select(c.c.email, c.c.customer_id).where(c.c.email.in_(chunk))
        found.update({e: int(i) for e, i in conn.execute(query)})
    return found


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
