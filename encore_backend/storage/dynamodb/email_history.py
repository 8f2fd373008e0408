"""The log of every attempt at a queue item (`email_history`): PK queue_id, SK attempted_at#n.

`n` is a per-process sequence number and random bits: unique without a counter item, and the
attempts of one process at the same instant keep their order (SQL orders by history_id). It is
also the row's `history_id`. A write is built once, so a transaction retried after a conflict
puts the same key again and never logs an attempt twice.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from encore_backend.storage.dynamodb.codec import decode, encode, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.schema import EMAIL_HISTORY

HISTORY_FIELDS = (
    "history_id",
    "queue_id",
    "attempted_at",
    "outcome",
    "error",
    "backend",
    "provider_message_id",
)
_sequence = itertools.count(1)
RANDOM_BITS = 20


def history_put(
    dynamo: Dynamo,
    item: Mapping[str, Any],
    now: datetime,
    outcome: str,
    error: str | None,
    backend: str | None,
    provider_message_id: str | None,
) -> dict[str, Any]:
    """A transaction entry logging one attempt at `item`."""
    history_id = (next(_sequence) << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)
    doc = {
        "queue_id": str(item["queue_id"]),
        "sk": f"{iso(now)}#{history_id:020d}",
        "history_id": history_id,
        "attempted_at": now,
        "outcome": str(outcome),
        "error": error,
        "backend": backend,
        "provider_message_id": provider_message_id,
    }
    return {"Put": {"TableName": dynamo.name(EMAIL_HISTORY), "Item": encode(doc)}}


def read_history(dynamo: Dynamo, queue_id: str) -> list[dict[str, Any]]:
    """Every attempt at one item, oldest first (a consistent read of its partition)."""
    items = dynamo.pages(
        "query",
        TableName=dynamo.name(EMAIL_HISTORY),
        KeyConditionExpression="queue_id = :q",
        ExpressionAttributeValues={":q": {"S": str(queue_id)}},
        ConsistentRead=True,
    )
    docs = [decode(i, fields=HISTORY_FIELDS, times=("attempted_at",)) for i in items]
    return [{name: doc[name] for name in HISTORY_FIELDS} for doc in docs]
