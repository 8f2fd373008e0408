"""The email queue table as the queue store's adapters use it: item keys, fresh reads by id,
moves of an item (an update in place, or a delete and a put when its sort key changes) and
outcome transactions that carry the reply and history writes along.

An item's key is (venue_id, scheduled_send_time#queue_id), so an id is found through the
`queue_id` or `response_id` index (eventually consistent on AWS) and then read by key with
a consistent GetItem: callers never see a stale status.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from encore_backend.storage.dynamodb.codec import decode
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.queue_items import (
    GUARD_SK,
    NOT_EXISTS,
    QUEUE_FIELDS,
    QUEUE_TIMES,
    queue_item,
    queue_sk,
)
from encore_backend.storage.dynamodb.schema import EMAIL_QUEUE
from encore_backend.storage.dynamodb.writes import (
    CONDITION_FAILED,
    Condition,
    delete,
    index_query,
    put,
    transact,
    update,
    when,
)
from encore_backend.storage.sql.email_queue import SqlEmailQueueStore

# After an item moved to a new sort key an index may still name the old key for a moment.
INDEX_LAG_WAITS = (0.05, 0.2, 0.5, 1.0)


@dataclass
class Step:
    """A write that goes with an item's move; `always`: also when the move was refused (the
    SQL store writes it whether or not its UPDATE matched)."""

    write: dict[str, Any]
    always: bool = False


def queue_key(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The table key of a queue document (venue_id and scheduled_send_time#queue_id)."""
    return {"venue_id": {"S": str(doc["venue_id"])}, "sk": {"S": queue_sk(doc)}}


def queue_doc(item: Mapping[str, Any]) -> dict[str, Any]:
    """The queue row of an item: exactly the SQL columns."""
    doc = decode(item, fields=QUEUE_FIELDS, times=QUEUE_TIMES)
    return {name: doc[name] for name in QUEUE_FIELDS}


class QueueTable:
    """The table, its indexes and the transactions every queue change goes through."""

    def __init__(self, dynamo: Dynamo, source: SqlEmailQueueStore) -> None:
        self.dynamo = dynamo
        self.source = source
        self.table = dynamo.name(EMAIL_QUEUE)

    def _get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        answer = self.dynamo.client.get_item(
            TableName=self.table, Key=dict(key), ConsistentRead=True
        )
        return answer.get("Item")

    def _fresh(self, index: str, value: str) -> dict[str, Any] | None:
        """The current item whose `index` attribute is `value`, read by key (consistent)."""
        for wait in (*INDEX_LAG_WAITS, None):
            found = [
                i
                for i in index_query(self.dynamo, self.table, index, index, value)
                if i["sk"]["S"] != GUARD_SK
            ]
            if not found:
                return None
            item = self._get({"venue_id": found[0]["venue_id"], "sk": found[0]["sk"]})
            if item is not None or wait is None:
                return item
            time.sleep(wait)  # the index still names a key the item has just left
        return None

    def _by_id(self, queue_id: str) -> dict[str, Any] | None:
        item = self._fresh("queue_id", str(queue_id))
        return queue_doc(item) if item else None

    def _moves(
        self, old: Mapping[str, Any], new: Mapping[str, Any], condition: Condition
    ) -> list[dict[str, Any]]:
        """Entries that turn `old` into the full document `new` under `condition` (on the old
        item): one Put in place, or a Delete and a Put when the sort key changes."""
        if queue_key(old) == queue_key(new):
            return [{"Put": put(self.table, queue_item(new), condition)}]
        return [
            {"Delete": delete(self.table, queue_key(old), condition)},
            {"Put": put(self.table, queue_item(new), Condition(NOT_EXISTS))},
        ]

    def _update(
        self,
        doc: Mapping[str, Any],
        changes: Mapping[str, Any],
        condition: Condition,
        *,
        attempt: bool = False,
    ) -> dict[str, Any]:
        """An update in place of the item `doc` (its key unchanged)."""
        add = {"attempts": 1} if attempt else None
        return {"Update": update(self.table, queue_key(doc), changes, add=add, condition=condition)}

    def _apply(self, moves: Sequence[dict[str, Any]], steps: Sequence[Step]) -> bool:
        """Commit the item's `moves` with the `steps` in one transaction; True when the moves
        were accepted. A refused move drops the steps not marked `always`; a refused step (a
        reply that is gone) is dropped, as a SQL UPDATE matching no row changes nothing."""
        won, steps = True, list(steps)
        while True:
            entries = list(moves) if won else []
            entries += [s.write for s in steps if won or s.always]
            if not entries:
                return won
            reasons = transact(self.dynamo, entries)
            if reasons is None:
                return won
            refused = [e for e, r in zip(entries, reasons, strict=False) if r == CONDITION_FAILED]
            if not refused:
                raise RuntimeError(f"transaction cancelled without a refused write: {reasons}")
            if any(e is m for e in refused for m in moves):
                won = False
            steps = [s for s in steps if not any(s.write is e for e in refused)]


def claimed(claim: str, *, status: str | None = None) -> Condition:
    """The item is held by `claim` (and, if given, in `status`)."""
    if status is None:
        return when("claimed_by = :claim", claim=claim)
    return when("claimed_by = :claim AND #status = :from", claim=claim, **{"from": status})
