"""The delayed email queue (`encore_email_queue`) and the log of every attempt (`email_history`).

One queue carries every email: customer replies, and reports and critical alerts to managers.

A worker claims an item with `UPDATE … WHERE status = 'pending'` (one winner), under a lease and a
claim token. Every outcome is written together with the reply, the feedback and a history row, and
only by the claim that holds the item. An item left `sending` past its lease belonged to a worker
that died mid-send: it becomes `failed` "outcome unknown" and is never resent automatically.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from encore_backend.domain.enums import EmailKind, FeedbackStatus, QueueStatus, ReplyStatus
from encore_backend.domain.queue_moves import OperatorMove, cancel_move, requeue_move
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.keyset import after as keyset_after
from encore_backend.storage.sql.keyset import ordered

Q, H, R, F, C, V = (
    m.email_queue.c,
    m.email_history.c,
    m.ai_responses.c,
    m.feedback.c,
    m.customers.c,
    m.venues.c,
)
PENDING, SENDING, SENT, FAILED, CANCELLED = (
    QueueStatus.PENDING,
    QueueStatus.SENDING,
    QueueStatus.SENT,
    QueueStatus.FAILED,
    QueueStatus.CANCELLED,
)
OUTCOME_UNKNOWN = "outcome unknown"
CLAIM_CANDIDATES = 16  # due ids read per claim; one is tried at random so racing workers spread
REPLY, REPORT, DIGEST = EmailKind.REPLY, EmailKind.REPORT, EmailKind.DIGEST
QUOTED_COMMENTS = 12  # example comments a report email quotes, at most
P, A = m.reports.c, m.alerts.c
# One read for any kind: an item's other references are NULL, so their columns come back None.
SEND_CONTEXT = select(
    m.email_queue,
    R.subject,
    R.body,
    F.comment,
    F.rating,
    F.created_at.label("feedback_created_at"),
    F.customer_id,
    C.name.label("customer_name"),
    C.unsubscribed_at,
    V.name.label("venue_name"),
    V.manager_emails,
    P.kind.label("report_kind"),
    P.content,
    A.level,
    A.title,
    A.description,
    A.reasons,
    A.detected_at,
).select_from(
    m.email_queue.join(m.venues, V.venue_id == Q.venue_id)
    .outerjoin(m.ai_responses, R.response_id == Q.response_id)
    .outerjoin(m.reports, P.report_id == Q.report_id)
    .outerjoin(m.alerts, A.alert_id == Q.alert_id)
    .outerjoin(m.feedback, F.feedback_id == Q.feedback_id)  # a reply's or an alert's feedback
    .outerjoin(m.customers, C.customer_id == F.customer_id)
)


def insert_items(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue items written inside another store's transaction (a report's or an alert's email
    is queued atomically with the report or alert itself)."""
    if rows:
        conn.execute(insert(m.email_queue), [dict(r) for r in rows])


def _report_comments(conn: Connection, content: Mapping[str, Any]) -> dict[int, str]:
    """Comments of the feedback a report names (critical alerts, issue examples), for quoting."""
    ids = [int(a["feedback_id"]) for a in content.get("critical_alert_list", [])]
    ids += [int(i) for issue in content.get("top_issues", []) for i in issue["feedback_ids"][:1]]
    wanted = list(dict.fromkeys(ids))[:QUOTED_COMMENTS]
    if not wanted:
        return {}
    query = select(F.feedback_id, F.comment).where(F.feedback_id.in_(wanted))
    return {int(i): c for i, c in conn.execute(query) if c}


class QueueAdmin:
    """Operator and manager actions on queue items (mixed into SqlEmailQueueStore)."""

    engine: Engine

    def queue_reply(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Queue a reply: a new item, or its old pending/cancelled/failed item reset to `values`;
        None when its item is being sent or was sent (never twice)."""
        with self.engine.begin() as conn:
            old = conn.execute(
                select(Q.queue_id, Q.status).where(Q.response_id == values["response_id"])
            ).first()
            if old is None:
                conn.execute(insert(m.email_queue).values(**values))
                return dict(values)
            if old.status in (SENDING, SENT):
                return None
            kept = ("queue_id", "message_id", "created_at")
            reset = {k: v for k, v in values.items() if k not in kept}
            conn.execute(
                update(m.email_queue)
                .where(Q.queue_id == old.queue_id, Q.status == old.status)
                .values(**reset, claimed_by=None, lease_expires_at=None, next_attempt_at=None)
            )
            row = conn.execute(select(m.email_queue).where(Q.queue_id == old.queue_id)).one()
        return dict(row._mapping)

    def cancel(self, queue_id: str, *, now: datetime, reason: str) -> bool:
        """pending → cancelled (the reply too); False in any other status."""
        return self._operator_move(queue_id, now=now, move=cancel_move(reason))

    def requeue(self, queue_id: str, *, now: datetime) -> bool:
        """failed/cancelled → pending now with fresh attempts, the reply back to `approved`."""
        return self._operator_move(queue_id, now=now, move=requeue_move(now))

    def _operator_move(self, queue_id: str, *, now: datetime, move: OperatorMove) -> bool:
        """Move an item out of `from_statuses` with its reply, and log it; False if it was in
        another status (or is gone)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(m.email_queue).where(Q.queue_id == queue_id)).first()
            if row is None:
                return False
            done = conn.execute(
                update(m.email_queue)
                .where(Q.queue_id == queue_id, Q.status.in_(move.from_statuses))
                .values(**move.values)
            )
            if done.rowcount != 1:
                return False
            item = dict(row._mapping)
            _set_reply(conn, item, move.reply[0], error=move.reply[1])
            _history(conn, item, now, move.outcome[0], move.outcome[1], None, None)
        return True

    def unsubscribe(self, *, customer_id: int, email: str, now: datetime) -> bool:
        """Mark the customer (id and address must match) unsubscribed; idempotent."""
        with self.engine.begin() as conn:
            query = select(C.email, C.unsubscribed_at).where(C.customer_id == customer_id)
            row = conn.execute(query).first()
            if row is None or (row.email or "").lower() != email.lower():
                return False
            if row.unsubscribed_at is None:
                conn.execute(
                    update(m.customers)
                    .where(C.customer_id == customer_id)
                    .values(unsubscribed_at=now, updated_at=now)
                )
        return True


@raises_port_errors
class SqlEmailQueueStore(QueueAdmin):
    """The `encore_email_queue` and `email_history` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, queue_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.email_queue).where(Q.queue_id == queue_id)).first()
        return dict(row._mapping) if row else None

    def for_response(self, response_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.email_queue).where(Q.response_id == response_id)).first()
        return dict(row._mapping) if row else None

    def list_for_venue(
        self,
        venue_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's queue items by scheduled send time, newest first; after the
        (scheduled_send_time, queue_id) `after`."""
        order = ((Q.scheduled_send_time, True), (Q.queue_id, False))
        query = select(m.email_queue).where(Q.venue_id == venue_id)
        if after is not None:
            query = query.where(keyset_after(order, after))
        if status is not None:
            query = query.where(Q.status == status)
        query = query.order_by(*ordered(order)).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def history(self, queue_id: str) -> list[dict[str, Any]]:
        """Every attempt at one item, oldest first."""
        query = (
            select(m.email_history)
            .where(H.queue_id == queue_id)
            .order_by(H.attempted_at, H.history_id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count_by_status(self) -> dict[str, int]:
        query = select(Q.status, func.count()).group_by(Q.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def count_by_kind_and_status(self) -> dict[tuple[str, str], int]:
        query = select(Q.kind, Q.status, func.count()).group_by(Q.kind, Q.status)
        with self.engine.connect() as conn:
            return {(kind, status): int(n) for kind, status, n in conn.execute(query)}

    def has_due(self, *, now: datetime) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_due_ids(now).limit(1)).first() is not None

    def claim_next(
        self, *, now: datetime, claim: str, lease_until: datetime
    ) -> dict[str, Any] | None:
        """Take one due item for sending under `claim`; None when nothing is due."""
        while True:
            with self.engine.connect() as conn:
                ids = list(conn.execute(_due_ids(now).limit(CLAIM_CANDIDATES)).scalars())
            if not ids:
                return None
            random.shuffle(ids)
            for queue_id in ids:
                if self._claim(queue_id, now=now, claim=claim, lease_until=lease_until):
                    return self.send_context(queue_id)

    def send_context(self, queue_id: str) -> dict[str, Any] | None:
        """The item with what its message needs: for a reply the reply text, comment, customer
        and venue; for a report or an alert to a manager, that report or alert and the venue."""
        with self.engine.connect() as conn:
            row = conn.execute(SEND_CONTEXT.where(Q.queue_id == queue_id)).first()
            if row is None:
                return None
            item = dict(row._mapping)
            if item["kind"] == REPORT:
                item["comments"] = _report_comments(conn, item["content"])
            if item["kind"] == DIGEST:
                item["content"] = item["payload"]  # computed when queued
        return item

    def add_notices(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue manager notices (items with a notice_key), skipping those whose (notice_key,
        recipient) is queued already; how many were added."""
        if not items:
            return 0
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    keys = sorted({str(i["notice_key"]) for i in items})
                    query = select(Q.notice_key, Q.customer_email).where(Q.notice_key.in_(keys))
                    have = {(k, (e or "").lower()) for k, e in conn.execute(query)}
                    new = [
                        dict(i)
                        for i in items
                        if (i["notice_key"], (i["customer_email"] or "").lower()) not in have
                    ]
                    insert_items(conn, new)
                return len(new)
            except IntegrityError:  # a racing process queued some first: read again
                if attempt:
                    raise
        return 0

    def _claim(self, queue_id: str, *, now: datetime, claim: str, lease_until: datetime) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(m.email_queue)
                .where(Q.queue_id == queue_id, Q.status == PENDING)
                .values(status=SENDING, claimed_by=claim, lease_expires_at=lease_until)
            )
        return result.rowcount == 1

    def mark_sent(
        self,
        item: Mapping[str, Any],
        *,
        claim: str,
        now: datetime,
        backend: str,
        provider_message_id: str | None,
    ) -> bool:
        """Item sent (for a reply, the reply and feedback too); False if the claim had been
        taken away."""
        with self.engine.begin() as conn:
            # Matches even after a reaper marked it "outcome unknown" (it keeps the claim): sent.
            won = _move(conn, item, claim, status=SENT, sent_at=now, error=None)
            if item["kind"] == REPLY:
                _reply_sent(conn, item, now)
            _history(conn, item, now, SENT, None, backend, provider_message_id)
        return won

    def mark_retry(
        self,
        item: Mapping[str, Any],
        *,
        claim: str,
        now: datetime,
        error: str,
        next_attempt_at: datetime,
        backend: str,
    ) -> bool:
        """A transient failure: back to pending until `next_attempt_at`."""
        with self.engine.begin() as conn:
            won = _move(
                conn, item, claim, status=PENDING, error=error, next_attempt_at=next_attempt_at
            )
            _history(conn, item, now, "retry", error, backend, None)
        return won

    def mark_failed(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, error: str, backend: str
    ) -> bool:
        """A permanent failure (or the last attempt): item and reply `failed` with the error."""
        with self.engine.begin() as conn:
            won = _move(conn, item, claim, status=FAILED, error=error)
            if won:
                _set_reply(conn, item, ReplyStatus.FAILED, error=error)
            _history(conn, item, now, FAILED, error, backend, None)
        return won

    def mark_outcome_unknown(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, detail: str, backend: str
    ) -> bool:
        """Handed over without an answer: `failed` "outcome unknown" (the detail in the history),
        never resent automatically; an operator may requeue it."""
        with self.engine.begin() as conn:
            won = _move(conn, item, claim, status=FAILED, error=OUTCOME_UNKNOWN)
            if won:
                _set_reply(conn, item, ReplyStatus.FAILED, error=OUTCOME_UNKNOWN)
            _history(conn, item, now, "outcome_unknown", detail, backend, None)
        return won

    def note_retry(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, error: str, backend: str
    ) -> None:
        """A failed try that is retried within the same claim: logged, the item stays claimed."""
        with self.engine.begin() as conn:
            _history(conn, item, now, "retry", error, backend, None)

    def release(self, item: Mapping[str, Any], *, claim: str) -> bool:
        """Give a claimed item back untouched (pending, attempts not counted, no history): the
        provider refused our configuration, so the item itself was never tried."""
        with self.engine.begin() as conn:
            return _move(conn, item, claim, status=PENDING, count_attempt=False, only_from=SENDING)

    def due_items(self, *, now: datetime, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """How many items are due, and the first `limit` of them (a dry run's preview)."""
        columns = (Q.queue_id, Q.kind, Q.customer_email, Q.scheduled_send_time, Q.attempts)
        query = select(*columns).where(*_due_where(now)).order_by(Q.scheduled_send_time)
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).where(*_due_where(now))).scalar_one()
            rows = conn.execute(query.limit(limit))
            return int(count), [dict(r._mapping) for r in rows]

    def stale_leases(self, *, now: datetime) -> list[str]:
        """Ids of items left `sending` past their lease (expire_leases would park them)."""
        query = select(Q.queue_id).where(Q.status == SENDING, Q.lease_expires_at < now)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def mark_cancelled(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, reason: str
    ) -> bool:
        """Never sent (no address, unsubscribed): item and reply `cancelled` with the reason."""
        with self.engine.begin() as conn:
            won = _move(conn, item, claim, status=CANCELLED, error=reason, count_attempt=False)
            if won:
                _set_reply(conn, item, ReplyStatus.CANCELLED, error=reason)
            _history(conn, item, now, CANCELLED, reason, None, None)
        return won

    # --- for the DynamoDB queue store (its items live there; feedback and venues here) -----

    def record_responded(self, item: Mapping[str, Any], *, now: datetime) -> None:
        """The feedback of a sent reply item is `responded`, with its response time."""
        with self.engine.begin() as conn:
            _feedback_responded(conn, item, now)

    def send_context_source(
        self, *, venue_id: str, feedback_id: int | None, content: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The SQL columns of `send_context` (feedback, customer, venue) and, given a report's
        content, the comments it quotes; None when the venue is gone."""
        with self.engine.connect() as conn:
            row = conn.execute(_source_context(venue_id, feedback_id)).first()
            if row is None:
                return None
            found = dict(row._mapping)
            if content is not None:
                found["comments"] = _report_comments(conn, content)
        return found

    def expire_leases(self, *, now: datetime) -> list[str]:
        """Items left `sending` past their lease → failed "outcome unknown"; their ids."""
        query = select(m.email_queue).where(Q.status == SENDING, Q.lease_expires_at < now)
        with self.engine.connect() as conn:
            stale = [dict(r._mapping) for r in conn.execute(query)]
        expired = []
        for item in stale:
            with self.engine.begin() as conn:
                claim = item["claimed_by"]
                # The claim is kept, so a send that did finish late can still record success.
                values = {"error": OUTCOME_UNKNOWN, "claimed_by": claim}
                if _move(conn, item, claim, status=FAILED, only_from=SENDING, **values):
                    _set_reply(conn, item, ReplyStatus.FAILED, error=OUTCOME_UNKNOWN)
                    _history(conn, item, now, "outcome_unknown", OUTCOME_UNKNOWN, None, None)
                    expired.append(item["queue_id"])
        return expired


def _source_context(venue_id: str, feedback_id: int | None) -> Any:
    """SEND_CONTEXT's feedback, customer and venue columns for one venue and feedback."""
    fid = -1 if feedback_id is None else int(feedback_id)  # no feedback: the columns are None
    return (
        select(
            F.comment,
            F.rating,
            F.created_at.label("feedback_created_at"),
            F.customer_id,
            C.name.label("customer_name"),
            C.unsubscribed_at,
            V.name.label("venue_name"),
            V.manager_emails,
        )
        .select_from(
            m.venues.outerjoin(m.feedback, F.feedback_id == fid).outerjoin(
                m.customers, C.customer_id == F.customer_id
            )
        )
        .where(V.venue_id == str(venue_id))
    )


def _due_ids(now: datetime) -> Any:
    """Due ids oldest first, in ix_email_queue_due order: no tie-break column, which would sort
    the whole backlog for every claim (quadratic over a large backlog)."""
    return select(Q.queue_id).where(*_due_where(now)).order_by(Q.scheduled_send_time)


def _due_where(now: datetime) -> tuple[Any, ...]:
    """Pending, scheduled by `now`, and past any retry backoff."""
    return (
        Q.status == PENDING,
        Q.scheduled_send_time <= now,
        or_(Q.next_attempt_at.is_(None), Q.next_attempt_at <= now),
    )


def _move(
    conn: Connection,
    item: Mapping[str, Any],
    claim: str,
    *,
    status: str,
    count_attempt: bool = True,
    only_from: str | None = None,
    **values: Any,
) -> bool:
    """Update the item only while `claim` holds it (and, if given, it is in `only_from`)."""
    if count_attempt:
        values["attempts"] = Q.attempts + 1
    values.setdefault("claimed_by", None)
    query = update(m.email_queue).where(Q.queue_id == item["queue_id"], Q.claimed_by == claim)
    if only_from is not None:
        query = query.where(Q.status == only_from)
    result = conn.execute(query.values(status=status, lease_expires_at=None, **values))
    return result.rowcount == 1


def _set_reply(
    conn: Connection, item: Mapping[str, Any], status: ReplyStatus, **values: Any
) -> None:
    """Keep a reply's status in step with its queue item (report and alert items have none)."""
    if item.get("response_id") is None:
        return
    conn.execute(
        update(m.ai_responses)
        .where(R.response_id == item["response_id"])
        .values(status=status.value, **values)
    )


def _reply_sent(conn: Connection, item: Mapping[str, Any], now: datetime) -> None:
    """The reply is sent and its feedback responded, with the response time."""
    _set_reply(conn, item, ReplyStatus.SENT, sent_at=now, error=None)
    _feedback_responded(conn, item, now)


def _feedback_responded(conn: Connection, item: Mapping[str, Any], now: datetime) -> None:
    seconds = max(int((now - item["feedback_created_at"]).total_seconds()), 0)
    conn.execute(
        update(m.feedback)
        .where(F.feedback_id == item["feedback_id"])
        .values(
            status=FeedbackStatus.RESPONDED.value,
            responded_at=now,
            response_seconds=seconds,
        )
    )


def _history(
    conn: Connection,
    item: Mapping[str, Any],
    now: datetime,
    outcome: str,
    error: str | None,
    backend: str | None,
    provider_message_id: str | None,
) -> None:
    conn.execute(
        insert(m.email_history).values(
            queue_id=item["queue_id"],
            attempted_at=now,
            outcome=outcome,
            error=error,
            backend=backend,
            provider_message_id=provider_message_id,
        )
    )
