"""How a queue document (`encore_email_queue`, SPEC §6) is laid out as a DynamoDB item, and the
writes that add one. Shared by the queue store and by the stores that queue an email in the same
transaction as their own document (an alert's or a report's email to managers).

- `sk` = scheduled_send_time#queue_id: the table's sort key (SPEC: SK scheduled_send_time).
- `due_key` = the time it is next due (the later of scheduled_send_time and next_attempt_at)
  #queue_id: the sort key of the `status` index, so the due items are one Query on
  status = pending AND due_key <= now.
- The SQL table's unique keys (one item per reply; one per report or alert and recipient) are
  guard items `{venue_id: "#unique:<key>", sk: "#"}` (a manager notice's key is
  notice:<notice_key>:<recipient>) put in the same transaction with
  attribute_not_exists, so a duplicate fails the whole write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from encore_backend.storage.dynamodb.codec import encode, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.schema import EMAIL_QUEUE

QUEUE_FIELDS = (
    "queue_id",
    "kind",
    "feedback_id",
    "response_id",
    "report_id",
    "alert_id",
    "venue_id",
    "customer_email",
    "scheduled_send_time",
    "status",
    "created_at",
    "sent_at",
    "error",
    "attempts",
    "claimed_by",
    "lease_expires_at",
    "next_attempt_at",
    "message_id",
    "notice_key",
    "payload",
)
QUEUE_TIMES = (
    "scheduled_send_time",
    "created_at",
    "sent_at",
    "lease_expires_at",
    "next_attempt_at",
)
GUARD_SK = "#"
NOT_EXISTS = "attribute_not_exists(venue_id)"


def queue_sk(doc: Mapping[str, Any]) -> str:
    return f"{iso(doc['scheduled_send_time'])}#{doc['queue_id']}"


def due_key(doc: Mapping[str, Any]) -> str:
    """When the item is next due, as sortable text ending in its id."""
    due: datetime = doc["scheduled_send_time"]
    retry = doc.get("next_attempt_at")
    if retry is not None and retry > due:
        due = retry
    return f"{iso(due)}#{doc['queue_id']}"


def queue_item(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The low-level item of a queue document (kind defaults to reply, attempts to 0)."""
    full = {"kind": "reply", "attempts": 0, **doc}
    return encode(
        {**full, "venue_id": str(full["venue_id"]), "sk": queue_sk(full), "due_key": due_key(full)}
    )


def unique_keys(doc: Mapping[str, Any]) -> list[str]:
    """The SQL table's unique keys this document holds."""
    keys = []
    if doc.get("response_id"):
        keys.append(f"response:{doc['response_id']}")
    for ref in ("report_id", "alert_id"):
        if doc.get(ref):
            keys.append(f"{ref[:-3]}:{doc[ref]}:{(doc.get('customer_email') or '').lower()}")
    if doc.get("notice_key"):
        keys.append(f"notice:{doc['notice_key']}:{(doc.get('customer_email') or '').lower()}")
    return keys


def guard_key(key: str) -> dict[str, Any]:
    return {"venue_id": {"S": f"#unique:{key}"}, "sk": {"S": GUARD_SK}}


def new_item_writes(dynamo: Dynamo, docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """TransactWriteItems entries that add `docs` and their guards; any duplicate (same
    queue_id, or a unique key already taken) cancels the transaction they are part of."""
    table = dynamo.name(EMAIL_QUEUE)
    writes: list[dict[str, Any]] = []
    for doc in docs:
        writes.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": queue_item(doc),
                    "ConditionExpression": NOT_EXISTS,
                }
            }
        )
        for key in unique_keys(doc):
            item = {**guard_key(key), "queue_id": {"S": str(doc["queue_id"])}}
            writes.append(
                {"Put": {"TableName": table, "Item": item, "ConditionExpression": NOT_EXISTS}}
            )
    return writes
