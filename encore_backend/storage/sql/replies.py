"""AI replies (`encore_ai_responses`): what the generator drafts, reads for the API.

A unique index on feedback_id makes "one reply per feedback" the database's job: a second
generator racing for the same feedback loses the insert and stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from encore_backend.domain.enums import FeedbackStatus, ReplyStatus
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.keyset import after as keyset_after
from encore_backend.storage.sql.keyset import ordered

R, F, C, V, S, A = (
    m.ai_responses.c,
    m.feedback.c,
    m.customers.c,
    m.venues.c,
    m.venue_settings.c,
    m.alerts.c,
)
CANDIDATE_COLUMNS = (
    F.feedback_id,
    F.venue_id,
    F.rating,
    F.comment,
    F.created_at,
    F.customer_id,
    F.draft_attempts,
    C.name.label("customer_name"),
    C.email.label("customer_email"),
    C.unsubscribed_at,
    V.name.label("venue_name"),
    S.brand_voice,
    S.reply_tone,
    S.reply_signature,
    S.banned_phrases,
    S.require_approval,
    S.auto_send_enabled,
    S.auto_send_delay_minutes,
    A.level.label("alert_level"),
)


class ReplySourceReads:
    """What the DynamoDB reply store reads and writes here: the source rows of `candidates`,
    `draft_source` and `unanswered_before` without the reply and alert joins (it checks
    those tables itself), and the feedback changes that go with its reply writes."""

    engine: Engine

    def feedback_candidates(
        self,
        *,
        now: datetime,
        after_id: int = 0,
        limit: int = 50,
        created_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """`candidates` rows (no alert_level) whether or not a reply exists."""
        query = _feedback_query().where(*_waiting(now, after_id, created_since))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(F.feedback_id).limit(limit))
            return [dict(r._mapping) for r in rows]

    def feedback_source(self, feedback_id: int) -> dict[str, Any] | None:
        """A `draft_source` row without alert_level."""
        with self.engine.connect() as conn:
            row = conn.execute(_feedback_query().where(F.feedback_id == feedback_id)).first()
        return dict(row._mapping) if row else None

    def feedback_before(self, venue_id: str, before: datetime) -> list[dict[str, Any]]:
        """The venue's feedback created before `before` (replied or not), without alert_level."""
        query = _feedback_query().where(F.venue_id == venue_id, F.created_at < before)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(F.feedback_id))]

    def save_locked(
        self, feedback_id: int, write: Callable[[datetime], bool], *, drafted: bool
    ) -> bool:
        """Run `write(feedback created_at)` while this transaction holds the feedback row lock;
        when it stored the reply (True) and `drafted`, move the feedback to `pending` and clear
        its draft retries; commit after. LookupError for an unknown feedback."""
        lock = select(F.created_at).where(F.feedback_id == feedback_id).with_for_update()
        with self.engine.begin() as conn:
            created_at = conn.execute(lock).scalar()
            if created_at is None:
                raise LookupError(f"feedback {feedback_id} not found")
            if not write(created_at):
                return False
            if drafted:
                _mark_feedback_pending(conn, [feedback_id])
                _clear_draft_retries(conn, [feedback_id])
        return True

    def mark_drafted(self, feedback_id: int) -> None:
        """A draft exists: `new` → `pending`, draft retries cleared (idempotent)."""
        with self.engine.begin() as conn:
            _mark_feedback_pending(conn, [feedback_id])
            _clear_draft_retries(conn, [feedback_id])

    def import_outcomes(
        self, feedback: Sequence[Mapping[str, Any]], feedback_ids: Sequence[int]
    ) -> dict[int, datetime]:
        """Store the feedback outcomes of imported replies (as import_history); the created_at
        of each of `feedback_ids`."""
        with self.engine.begin() as conn:
            if feedback:
                conn.execute(_OUTCOME, [_outcome_row(f) for f in feedback])
            query = select(F.feedback_id, F.created_at).where(F.feedback_id.in_(feedback_ids))
            return {int(i): t for i, t in conn.execute(query)}


_OUTCOME = (
    update(m.feedback)
    .where(F.feedback_id == bindparam("fid"))
    .values(
        status=bindparam("new_status"),
        responded_at=bindparam("new_responded_at"),
        response_seconds=bindparam("new_response_seconds"),
    )
)


def _outcome_row(change: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "fid": change["feedback_id"],
        "new_status": change["status"],
        "new_responded_at": change["responded_at"],
        "new_response_seconds": change["response_seconds"],
    }


@raises_port_errors
class SqlReplyStore(ReplySourceReads):
    """The `encore_ai_responses` table (and the queue item a reply may create)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, response_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.ai_responses).where(R.response_id == response_id)).first()
        return dict(row._mapping) if row else None

    def for_feedback(self, feedback_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.ai_responses).where(R.feedback_id == feedback_id)).first()
        return dict(row._mapping) if row else None

    def list_for_venue(
        self,
        venue_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's replies, newest first, optionally of one status; after the
        (created_at, response_id) `after`."""
        order = ((R.created_at, True), (R.response_id, False))
        query = select(m.ai_responses).where(R.venue_id == venue_id)
        if after is not None:
            query = query.where(keyset_after(order, after))
        if status is not None:
            query = query.where(R.status == status)
        query = query.order_by(*ordered(order)).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def candidates(
        self,
        *,
        now: datetime,
        after_id: int = 0,
        limit: int = 50,
        created_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """New feedback without a reply at venues that generate, oldest first, after `after_id`,
        leaving out feedback whose draft failed transiently and waits until `draft_retry_at`.

        Only feedback the alert detector has scanned: a critical alert must be known before a
        draft is routed (SPEC §4). A walk up the primary key from `after_id`; the reply check
        is a probe of the unique index on ai_responses.feedback_id."""
        with self.engine.connect() as conn:
            query = candidates_query(
                now=now, after_id=after_id, limit=limit, created_since=created_since
            )
            return [dict(r._mapping) for r in conn.execute(query)]

    def draft_source(self, feedback_id: int) -> dict[str, Any] | None:
        """What drafting one feedback needs (as `candidates` rows), whatever its status."""
        with self.engine.connect() as conn:
            row = conn.execute(_source_query().where(F.feedback_id == feedback_id)).first()
        return dict(row._mapping) if row else None

    def unanswered_before(self, venue_id: str, before: datetime) -> list[dict[str, Any]]:
        """The venue's feedback created before `before` with no reply, as `candidates` rows
        (demo history, imports)."""
        has_reply = exists().where(R.feedback_id == F.feedback_id)
        query = (
            _source_query()
            .where(F.venue_id == venue_id, F.created_at < before, ~has_reply)
            .order_by(F.feedback_id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def import_history(
        self, replies: Sequence[Mapping[str, Any]], feedback: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store past replies and their feedback's outcome in one transaction (bulk)."""
        if not replies:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(m.ai_responses), [dict(r) for r in replies])
            conn.execute(_OUTCOME, [_outcome_row(f) for f in feedback])

    def delete_failed(self, response_id: str) -> bool:
        """Delete a `failed` reply that has no queue item; False if it changed meanwhile."""
        no_item = ~exists().where(m.email_queue.c.response_id == R.response_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(m.ai_responses).where(
                    R.response_id == response_id, R.status == ReplyStatus.FAILED.value, no_item
                )
            )
        return result.rowcount == 1

    def save(
        self,
        *,
        reply: Mapping[str, Any],
        queue_item: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store a reply (+ its queue item) and, when a draft exists, move the feedback to
        `pending` and clear its draft retries; False when the feedback already has a reply (a
        racing generator won)."""
        return self.save_many([(reply, queue_item)])[0]

    def save_many(
        self, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]]
    ) -> list[bool]:
        """`save` for each (reply, queue item) in one transaction of multi-row writes: a fixed
        number of statements per batch. One flag per item, False where a reply existed."""
        if not items:
            return []
        try:
            with self.engine.begin() as conn:
                return _save_batch(conn, items)
        except IntegrityError:
            if len(items) > 1:  # a racing saver between our check and insert: one at a time
                return [self.save_many([item])[0] for item in items]
            if self.for_feedback(int(items[0][0]["feedback_id"])) is None:
                raise
            return [False]

    def update_status(
        self,
        response_id: str,
        *,
        status: ReplyStatus,
        from_statuses: tuple[ReplyStatus, ...],
        **values: Any,
    ) -> bool:
        """Move a reply to `status` if it is still in one of `from_statuses` (approval API)."""
        allowed = [s.value for s in from_statuses]
        with self.engine.begin() as conn:
            result = conn.execute(
                update(m.ai_responses)
                .where(and_(R.response_id == response_id, R.status.in_(allowed)))
                .values(status=status.value, **values)
            )
        return result.rowcount == 1


def candidates_query(
    *, now: datetime, after_id: int, limit: int, created_since: datetime | None = None
) -> Any:
    """The `candidates` select (tests read its query plan)."""
    has_reply = exists().where(R.feedback_id == F.feedback_id)
    return (
        _source_query()
        .where(*_waiting(now, after_id, created_since), ~has_reply)
        .order_by(F.feedback_id)
        .limit(limit)
    )


def _waiting(now: datetime, after_id: int, created_since: datetime | None) -> tuple[Any, ...]:
    """New, scanned feedback past `after_id` and any draft backoff, at venues that generate,
    created at or after `created_since` (AUTO_REPLY_MAX_AGE_HOURS: no replies to history)."""
    since = () if created_since is None else (F.created_at >= created_since,)
    return (
        *since,
        F.status == FeedbackStatus.NEW.value,
        F.alert_scanned_at.is_not(None),
        F.feedback_id > after_id,
        or_(F.draft_retry_at.is_(None), F.draft_retry_at <= now),
        S.ai_generation_enabled.is_(True),
        S.auto_generate_responses.is_(True),
    )


def _source_query() -> Any:
    """Feedback with its customer, venue, settings and alert level."""
    return select(*CANDIDATE_COLUMNS).select_from(
        m.feedback.join(m.venue_settings, S.venue_id == F.venue_id)
        .join(m.venues, V.venue_id == F.venue_id)
        .outerjoin(m.customers, C.customer_id == F.customer_id)
        .outerjoin(m.alerts, A.feedback_id == F.feedback_id)
    )


def _feedback_query() -> Any:
    """`_source_query` without the derived tables (replies and alerts live in DynamoDB)."""
    columns = [c for c in CANDIDATE_COLUMNS if c.name != "alert_level"]
    return select(*columns).select_from(
        m.feedback.join(m.venue_settings, S.venue_id == F.venue_id)
        .join(m.venues, V.venue_id == F.venue_id)
        .outerjoin(m.customers, C.customer_id == F.customer_id)
    )


def _save_batch(
    conn: Connection, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]]
) -> list[bool]:
    """Lock the feedback rows first (in id order: racing savers queue here instead of
    deadlocking on the foreign-key and unique-index locks on MariaDB), skip those with a reply,
    insert the rest."""
    ids = sorted({int(reply["feedback_id"]) for reply, _ in items})
    lock = select(F.feedback_id).where(F.feedback_id.in_(ids)).order_by(F.feedback_id)
    conn.execute(lock.with_for_update())
    taken = set(conn.execute(select(R.feedback_id).where(R.feedback_id.in_(ids))).scalars())
    stored = []
    for reply, _ in items:
        fid = int(reply["feedback_id"])
        stored.append(fid not in taken)
        taken.add(fid)  # a second reply to the same feedback in this batch loses too
    kept = [item for item, ok in zip(items, stored, strict=True) if ok]
    _insert_rows(conn, m.ai_responses, [reply for reply, _ in kept])
    _insert_rows(conn, m.email_queue, [queue for _, queue in kept if queue is not None])
    drafted = [int(r["feedback_id"]) for r, _ in kept if r["status"] != ReplyStatus.FAILED.value]
    if drafted:
        _mark_feedback_pending(conn, drafted)
        _clear_draft_retries(conn, drafted)
    return stored


def _insert_rows(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """One multi-row insert per set of columns (rows without a column keep its default)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(dict(row))
    for group in groups.values():
        conn.execute(insert(table), group)


def _mark_feedback_pending(conn: Connection, feedback_ids: Sequence[int]) -> None:
    conn.execute(
        update(m.feedback)
        .where(F.feedback_id.in_(feedback_ids), F.status == FeedbackStatus.NEW.value)
        .values(status=FeedbackStatus.PENDING.value)
    )


def _clear_draft_retries(conn: Connection, feedback_ids: Sequence[int]) -> None:
    """A draft exists: the transient failures before it are history."""
    conn.execute(
        update(m.feedback)
        .where(
            F.feedback_id.in_(feedback_ids),
            or_(F.draft_attempts != 0, F.draft_retry_at.is_not(None), F.draft_error.is_not(None)),
        )
        .values(draft_attempts=0, draft_retry_at=None, draft_error=None)
    )
