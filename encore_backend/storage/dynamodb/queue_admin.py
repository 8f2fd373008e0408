"""Operator and manager actions on DynamoDB queue items (mixed into DynamoEmailQueueStore):
queue a reply (or reset its old item), cancel, requeue; unsubscribing is SQL's (customers).

A reply has one item, whatever happens: the guard item `#unique:response:<id>` (queue_items)
is put with the item in one transaction, so two approvals racing queue it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from encore_backend.domain.enums import QueueStatus, ReplyStatus
from encore_backend.domain.queue_moves import OperatorMove, cancel_move, requeue_move
from encore_backend.storage.dynamodb.email_history import history_put
from encore_backend.storage.dynamodb.queue_items import (
    QUEUE_FIELDS,
    due_key,
    guard_key,
    new_item_writes,
    queue_sk,
)
from encore_backend.storage.dynamodb.queue_table import QueueTable, Step
from encore_backend.storage.dynamodb.reply_items import status_write
from encore_backend.storage.dynamodb.writes import (
    conditional,
    delete,
    one_of,
    transact,
    when,
)

PENDING, SENDING, SENT, FAILED, CANCELLED = (
    QueueStatus.PENDING,
    QueueStatus.SENDING,
    QueueStatus.SENT,
    QueueStatus.FAILED,
    QueueStatus.CANCELLED,
)
KEPT_ON_RESET = ("queue_id", "message_id", "created_at")
RACE_TRIES = 4
NEW_ONLY = {"ConditionExpression": "attribute_not_exists(venue_id)"}


class DynamoQueueAdmin(QueueTable):
    """queue_reply, cancel, requeue and unsubscribe, as SqlEmailQueueStore's QueueAdmin."""

    def queue_reply(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Queue a reply: a new item, or its old pending/cancelled/failed item reset to `values`;
        None when its item is being sent or was sent (never twice)."""
        guard = guard_key(f"response:{values['response_id']}")
        for _ in range(RACE_TRIES):
            held = self._get(guard)
            if held is None:
                if transact(self.dynamo, new_item_writes(self.dynamo, [values])) is None:
                    return dict(values)
                continue  # a racing approval queued it first: reset theirs
            old = self._by_id(held["queue_id"]["S"])
            if old is None:  # a guard whose item was deleted without it
                conditional(self.dynamo, "delete_item", delete(self.table, guard))
                continue
            return self._reset(old, values)
        raise RuntimeError(f"queueing reply {values['response_id']} kept racing")

    def _reset(self, old: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any] | None:
        if old["status"] in (SENDING, SENT):
            return None
        reset = {k: v for k, v in values.items() if k not in KEPT_ON_RESET}
        new = {**old, **reset, "claimed_by": None, "lease_expires_at": None}
        new["next_attempt_at"] = None
        moves = self._moves(old, new, when("#status = :old", old=str(old["status"])))
        if self._apply(moves, []):
            return {name: new.get(name) for name in QUEUE_FIELDS}
        return self._by_id(old["queue_id"])  # as SQL: the row as it is now

    def add_notices(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue manager notices (a digest), each once per (notice_key, recipient): its guard
        item goes in the item's transaction, so a duplicate cancels only its own write."""
        return sum(transact(self.dynamo, new_item_writes(self.dynamo, [i])) is None for i in items)

    def cancel(self, queue_id: str, *, now: datetime, reason: str) -> bool:
        """pending → cancelled (the reply too); False in any other status."""
        return self._operator_move(queue_id, now=now, move=cancel_move(reason))

    def requeue(self, queue_id: str, *, now: datetime) -> bool:
        """failed/cancelled → pending now with fresh attempts, the reply back to `approved`."""
        return self._operator_move(queue_id, now=now, move=requeue_move(now))

    def _operator_move(self, queue_id: str, *, now: datetime, move: OperatorMove) -> bool:
        """Move an item out of `from_statuses` with its reply, and log it, in one transaction;
        False if it was in another status (or is gone)."""
        old = self._by_id(queue_id)
        if old is None or old["status"] not in move.from_statuses:
            return False
        new = {**old, **move.values}
        condition = one_of("status", [str(s) for s in move.from_statuses])
        if queue_sk(new) == queue_sk(old):
            changes = {**move.values, "due_key": due_key(new)}
            moves = [self._update(old, {k: _plain(v) for k, v in changes.items()}, condition)]
        else:
            moves = self._moves(old, new, condition)
        steps = [
            Step(history_put(self.dynamo, old, now, move.outcome[0], move.outcome[1], None, None))
        ]
        if old["response_id"] is not None:
            write = status_write(
                self.dynamo,
                feedback_id=old["feedback_id"],
                response_id=old["response_id"],
                status=move.reply[0],
                error=move.reply[1],
            )
            steps.insert(0, Step(write))
        return self._apply(moves, steps)

    def unsubscribe(self, *, customer_id: int, email: str, now: datetime) -> bool:
        """Mark the customer (id and address must match) unsubscribed; idempotent (SQL)."""
        return self.source.unsubscribe(customer_id=customer_id, email=email, now=now)


def _plain(value: Any) -> Any:
    """Enum members as their text (DynamoDB stores strings)."""
    return str(value) if isinstance(value, QueueStatus | ReplyStatus) else value
