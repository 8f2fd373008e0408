"""How a reply (`encore_ai_responses`, SPEC §6) is laid out as a DynamoDB item, and the write
that keeps its status in step with its queue item (shared by the reply and queue stores).

- PK `feedback_id` (N): one reply per feedback, by key.
- `created_key` = created_at#response_id: the sort key of the `venue_created` and `status`
  indexes (newest first, ties broken by id).
- `feedback_created_at`: the feedback's creation time, copied in so reports read response times
  through `venue_sent` (sparse: only sent replies carry `sent_at`) without a SQL join.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from encore_backend.storage.dynamodb.codec import decode, encode, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.schema import AI_RESPONSES
from encore_backend.storage.dynamodb.writes import update, when

REPLY_FIELDS = (
    "response_id",
    "feedback_id",
    "venue_id",
    "subject",
    "body",
    "status",
    "provider",
    "model",
    "error",
    "created_at",
    "approved_by",
    "approved_at",
    "sent_at",
    "hold_reason",
)
REPLY_TIMES = ("created_at", "approved_at", "sent_at")


def created_key(doc: Mapping[str, Any]) -> str:
    return f"{iso(doc['created_at'])}#{doc['response_id']}"


def reply_key(feedback_id: int) -> dict[str, Any]:
    return {"feedback_id": {"N": str(int(feedback_id))}}


def reply_item(doc: Mapping[str, Any], *, feedback_created_at: datetime | None) -> dict:
    """The low-level item of a reply row (the SQL columns) and its feedback's creation time."""
    full = {**dict.fromkeys(REPLY_FIELDS), **doc}
    return encode(
        {
            **full,
            "feedback_id": int(full["feedback_id"]),
            "venue_id": str(full["venue_id"]),
            "created_key": created_key(full),
            "feedback_created_at": feedback_created_at,
        }
    )


def reply_doc(item: Mapping[str, Any]) -> dict[str, Any]:
    """The reply row of an item: exactly the SQL columns."""
    doc = decode(item, fields=REPLY_FIELDS, times=REPLY_TIMES)
    return {name: doc[name] for name in REPLY_FIELDS}


def status_write(
    dynamo: Dynamo, *, feedback_id: int, response_id: str, status: str, **values: Any
) -> dict[str, Any]:
    """A transaction entry: the reply `response_id` (of `feedback_id`) gets `status` and the
    values; refused (ConditionalCheckFailed) when that reply is not there."""
    changes = {"status": str(status), **values}
    return {
        "Update": update(
            dynamo.name(AI_RESPONSES),
            reply_key(feedback_id),
            changes,
            condition=when("response_id = :rid", rid=response_id),
        )
    }
