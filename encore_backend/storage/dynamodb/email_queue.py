"""The email queue (`encore_email_queue`) and its attempt log (`email_history`) on DynamoDB.

Same contract as SqlEmailQueueStore. Due items are one Query of the `status` index (status =
pending AND due_key <= now); a worker claims one with a conditional UpdateItem pending →
sending (one winner), under a lease and a claim token. Every outcome is one TransactWriteItems:
the item's change (conditional on the claim), its reply's status and the history item. An item
left `sending` past its lease becomes `failed` "outcome unknown" and is never resent
automatically. Feedback stays in SQL: a sent reply's feedback is marked `responded` there.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from encore_backend.domain.enums import EmailKind, QueueStatus, ReplyStatus
from encore_backend.storage.dynamodb.codec import iso
from encore_backend.storage.dynamodb.email_history import history_put, read_history
from encore_backend.storage.dynamodb.listing import newest_first, upper_bound
from encore_backend.storage.dynamodb.queue_admin import DynamoQueueAdmin
from encore_backend.storage.dynamodb.queue_items import due_key
from encore_backend.storage.dynamodb.queue_table import Step, claimed, queue_doc
from encore_backend.storage.dynamodb.reply_items import status_write
from encore_backend.storage.dynamodb.send_context import send_context
from encore_backend.storage.dynamodb.writes import conditional, count, projection, update, when
from encore_backend.storage.sql.email_queue import CLAIM_CANDIDATES, OUTCOME_UNKNOWN

PENDING, SENDING, SENT, FAILED, CANCELLED = (
    QueueStatus.PENDING,
    QueueStatus.SENDING,
    QueueStatus.SENT,
    QueueStatus.FAILED,
    QueueStatus.CANCELLED,
)
DUE_COLUMNS = ("queue_id", "kind", "customer_email", "scheduled_send_time", "attempts")
FAILED_COLUMNS = ("queue_id", "venue_id", "customer_email", "scheduled_send_time", "error")
LAST = "~"  # sorts after `time#<any id>`: due_key <= iso(now) + LAST is "due by now"


class DynamoEmailQueueStore(DynamoQueueAdmin):
    """The `email_queue` and `email_history` tables; feedback, customers and venues via SQL."""

    def get(self, queue_id: str) -> dict[str, Any] | None:
        return self._by_id(queue_id)

    def for_response(self, response_id: str) -> dict[str, Any] | None:
        item = self._fresh("response_id", str(response_id))
        return queue_doc(item) if item else None

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
        condition, values = "venue_id = :v", {":v": {"S": str(venue_id)}}
        if after is not None:
            condition += " AND sk <= :upper"
            values[":upper"] = {"S": upper_bound(after)}
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": max(limit, 1) + 1,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :s"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":s"] = {"S": str(status)}
        items = self.dynamo.pages("query", **query, ExpressionAttributeValues=values)
        docs = (queue_doc(i) for i in items)
        return newest_first(
            docs, time="scheduled_send_time", ident="queue_id", limit=limit, after=after
        )

    def history(self, queue_id: str) -> list[dict[str, Any]]:
        """Every attempt at one item, oldest first."""
        return read_history(self.dynamo, queue_id)

    def count_by_status(self) -> dict[str, int]:
        """Items per status: one Select=COUNT Query of the status index per status."""
        counts = {str(s): count(self.dynamo, **self._status_query(s)) for s in QueueStatus}
        return {status: n for status, n in counts.items() if n}

    def count_by_kind_and_status(self) -> dict[tuple[str, str], int]:
        """Items per (kind, status): the status index read per status, `kind` only."""
        counts: dict[tuple[str, str], int] = {}
        for status in QueueStatus:
            query = self._status_query(status)
            wanted = projection(["kind"])
            query["ProjectionExpression"] = wanted["ProjectionExpression"]
            query["ExpressionAttributeNames"].update(wanted["ExpressionAttributeNames"])
            for item in self.dynamo.pages("query", **query):
                key = (item.get("kind", {}).get("S", EmailKind.REPLY.value), str(status))
                counts[key] = counts.get(key, 0) + 1
        return counts

    def has_due(self, *, now: datetime) -> bool:
        page = self.dynamo.client.query(**self._due_query(now), Limit=1)
        return bool(page.get("Items"))

    def claim_next(
        self, *, now: datetime, claim: str, lease_until: datetime
    ) -> dict[str, Any] | None:
        """Take one due item for sending under `claim`; None when nothing is due."""
        while True:
            page = self.dynamo.client.query(**self._due_query(now), Limit=CLAIM_CANDIDATES)
            candidates = page.get("Items", [])
            if not candidates:
                return None
            random.shuffle(candidates)
            for candidate in candidates:
                item = self._claim(candidate, now=now, claim=claim, lease_until=lease_until)
                if item is not None:
                    return send_context(self.dynamo, self.source, item)

    def _claim(
        self, candidate: Mapping[str, Any], *, now: datetime, claim: str, lease_until: datetime
    ) -> dict[str, Any] | None:
        """pending → sending under `claim` if the item is still pending and due (its due_key
        unchanged keeps it in the same place of the status index)."""
        params = update(
            self.table,
            {"venue_id": candidate["venue_id"], "sk": candidate["sk"]},
            {"status": str(SENDING), "claimed_by": claim, "lease_expires_at": lease_until},
            condition=when(
                "#status = :pending AND due_key <= :due", pending=str(PENDING), due=_due(now)
            ),
        )
        answer = conditional(self.dynamo, "update_item", {**params, "ReturnValues": "ALL_NEW"})
        return queue_doc(answer["Attributes"]) if answer else None

    def send_context(self, queue_id: str) -> dict[str, Any] | None:
        """The item with what its message needs: for a reply the reply text, comment, customer
        and venue; for a report or an alert to a manager, that report or alert and the venue."""
        item = self._by_id(queue_id)
        return send_context(self.dynamo, self.source, item) if item else None

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
        taken away (the reply, feedback and history are written either way, as in SQL).

        The feedback's `responded` is committed in SQL first, then the DynamoDB transaction.
        A crash between the two leaves the item `sending` with its feedback responded: the
        lease expires and the item is parked "outcome unknown" (SPEC §4: a worker that dies
        after the hand-over), never resent; the feedback is right, the message was handed
        over. The other order could leave a sent reply whose feedback stays `pending` with
        nothing left to rerun (a sent item is never claimed again)."""
        if item["kind"] == EmailKind.REPLY and item.get("feedback_id") is not None:
            self.source.record_responded(item, now=now)
        changes = {"status": str(SENT), "sent_at": now, "error": None, "claimed_by": None}
        steps = [
            Step(
                history_put(self.dynamo, item, now, SENT, None, backend, provider_message_id),
                always=True,
            )
        ]
        if item["kind"] == EmailKind.REPLY:
            steps.insert(
                0,
                Step(
                    self._reply_write(item, ReplyStatus.SENT, sent_at=now, error=None), always=True
                ),
            )
        return self._finish(item, claim, changes, steps)

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
        """A transient failure: back to pending until `next_attempt_at` (its due_key too)."""
        changes = {
            "status": str(PENDING),
            "error": error,
            "next_attempt_at": next_attempt_at,
            "due_key": due_key({**item, "next_attempt_at": next_attempt_at}),
            "claimed_by": None,
        }
        history = history_put(self.dynamo, item, now, "retry", error, backend, None)
        return self._finish(item, claim, changes, [Step(history, always=True)])

    def mark_failed(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, error: str, backend: str
    ) -> bool:
        """A permanent failure (or the last attempt): item and reply `failed` with the error."""
        return self._fail(item, claim, now, error=error, outcome=(FAILED, error), backend=backend)

    def mark_outcome_unknown(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, detail: str, backend: str
    ) -> bool:
        """Handed over without an answer: `failed` "outcome unknown" (the detail in the history),
        never resent automatically; an operator may requeue it."""
        outcome = ("outcome_unknown", detail)
        return self._fail(item, claim, now, error=OUTCOME_UNKNOWN, outcome=outcome, backend=backend)

    def _fail(
        self,
        item: Mapping[str, Any],
        claim: str,
        now: datetime,
        *,
        error: str,
        outcome: tuple[str, str],
        backend: str,
    ) -> bool:
        changes = {"status": str(FAILED), "error": error, "claimed_by": None}
        history = history_put(self.dynamo, item, now, outcome[0], outcome[1], backend, None)
        steps = [Step(history, always=True)]
        if item.get("response_id") is not None:
            steps.insert(0, Step(self._reply_write(item, ReplyStatus.FAILED, error=error)))
        return self._finish(item, claim, changes, steps)

    def note_retry(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, error: str, backend: str
    ) -> None:
        """A failed try that is retried within the same claim: logged, the item stays claimed."""
        entry = history_put(self.dynamo, item, now, "retry", error, backend, None)
        self.dynamo.client.put_item(**entry["Put"])

    def release(self, item: Mapping[str, Any], *, claim: str) -> bool:
        """Give a claimed item back untouched (pending, attempts not counted, no history): the
        provider refused our configuration, so the item itself was never tried."""
        changes = {"status": str(PENDING), "claimed_by": None}
        return self._finish(item, claim, changes, [], attempt=False, only_from=SENDING)

    def mark_cancelled(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, reason: str
    ) -> bool:
        """Never sent (no address, unsubscribed): item and reply `cancelled` with the reason."""
        changes = {"status": str(CANCELLED), "error": reason, "claimed_by": None}
        steps = [
            Step(history_put(self.dynamo, item, now, CANCELLED, reason, None, None), always=True)
        ]
        if item.get("response_id") is not None:
            steps.insert(0, Step(self._reply_write(item, ReplyStatus.CANCELLED, error=reason)))
        return self._finish(item, claim, changes, steps, attempt=False)

    def _finish(
        self,
        item: Mapping[str, Any],
        claim: str,
        changes: Mapping[str, Any],
        steps: list[Step],
        *,
        attempt: bool = True,
        only_from: str | None = None,
    ) -> bool:
        """Change the item only while `claim` holds it (and, if given, it is in `only_from`),
        with the steps, in one transaction; the lease ends."""
        move = self._update(
            item,
            {**changes, "lease_expires_at": None},
            claimed(claim, status=str(only_from) if only_from else None),
            attempt=attempt,
        )
        return self._apply([move], steps)

    def _reply_write(self, item: Mapping[str, Any], status: ReplyStatus, **values: Any) -> dict:
        return status_write(
            self.dynamo,
            feedback_id=item["feedback_id"],
            response_id=item["response_id"],
            status=status.value,
            **values,
        )

    def due_items(self, *, now: datetime, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """How many items are due, and the first `limit` of them by scheduled send time (a dry
        run's preview: every due item is read, its preview columns only)."""
        query = self._due_query(now)
        wanted = projection(DUE_COLUMNS)
        query["ProjectionExpression"] = wanted["ProjectionExpression"]
        query["ExpressionAttributeNames"].update(wanted["ExpressionAttributeNames"])
        rows = [queue_doc(i) for i in self.dynamo.pages("query", **query)]
        rows.sort(key=lambda r: (iso(r["scheduled_send_time"]), r["queue_id"]))
        return len(rows), [{k: r[k] for k in DUE_COLUMNS} for r in rows[:limit]]

    def stale_leases(self, *, now: datetime) -> list[str]:
        """Ids of items left `sending` past their lease (expire_leases would park them)."""
        return [item["queue_id"] for item in self._stale(now)]

    def expire_leases(self, *, now: datetime) -> list[str]:
        """Items left `sending` past their lease → failed "outcome unknown"; their ids. The
        claim is kept, so a send that did finish late can still record success."""
        expired = []
        for item in self._stale(now):
            changes = {"status": str(FAILED), "error": OUTCOME_UNKNOWN, "lease_expires_at": None}
            condition = claimed(item["claimed_by"], status=str(SENDING))
            move = self._update(item, changes, condition, attempt=True)
            history = history_put(
                self.dynamo, item, now, "outcome_unknown", OUTCOME_UNKNOWN, None, None
            )
            steps = [Step(history)]
            if item["response_id"] is not None:
                reply = self._reply_write(item, ReplyStatus.FAILED, error=OUTCOME_UNKNOWN)
                steps.insert(0, Step(reply))
            if self._apply([move], steps):
                expired.append(item["queue_id"])
        return expired

    def _stale(self, now: datetime) -> Iterator[dict[str, Any]]:
        query = self._status_query(SENDING)
        query["FilterExpression"] = "lease_expires_at < :now"
        query["ExpressionAttributeValues"][":now"] = {"S": iso(now)}
        return (queue_doc(i) for i in self.dynamo.pages("query", **query))

    def failed_emails(self, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest failed items of every venue by scheduled send time (the admin console's
        requeue list; SqlOpsCountStore.failed_emails). Read down the status index: an item's
        due_key is never before its scheduled time, so once due keys fall below the `limit`-th
        newest time found, no later item can enter."""
        query = {**self._status_query(FAILED), "ScanIndexForward": False}
        found: list[dict[str, Any]] = []
        if limit <= 0:
            return found
        for item in self.dynamo.pages("query", **query):
            doc = queue_doc(item)
            if len(found) >= limit and item["due_key"]["S"] < iso(
                found[limit - 1]["scheduled_send_time"]
            ):
                break
            found.append(doc)
            found.sort(key=lambda d: iso(d["scheduled_send_time"]), reverse=True)
        return [{k: d[k] for k in FAILED_COLUMNS} for d in found[:limit]]

    def _status_query(self, status: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "IndexName": "status",
            "KeyConditionExpression": "#status = :s",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":s": {"S": str(status)}},
        }

    def _due_query(self, now: datetime) -> dict[str, Any]:
        query = self._status_query(PENDING)
        query["KeyConditionExpression"] += " AND due_key <= :due"
        query["ExpressionAttributeValues"][":due"] = {"S": _due(now)}
        return query


def _due(now: datetime) -> str:
    return iso(now) + LAST
