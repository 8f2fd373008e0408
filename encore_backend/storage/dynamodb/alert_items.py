"""How alerts (`encore_venue_alerts`, SPEC §6) are laid out as DynamoDB items.

- The alert: PK venue_id, `sk` = detected_at#feedback_id (12 digits), so a venue's alerts sort
  by (detected_at, feedback_id) like the SQL list and its cursor; plus `feedback_created_at`
  (the feedback's created_at) for the reports' critical-alert facts.
- A guard per feedback, {venue_id: "#feedback:<id>", sk: "#"}: at most one alert per feedback
  (SQL's unique key). It points at its alert (`alert_venue_id`, `alert_sk`) and says whether the
  scan that wrote it has committed its SQL side (`committed`, see alert_scan).
- A counter per venue, {venue_id: "#levels:<venue>", sk: "#"}: `total_<level>` and
  `archived_<level>`, changed in the transaction that writes or archives an alert, so the
  metrics read one item per venue instead of every alert.
Guards and counters carry no alert_id or feedback_id: the GSIs hold alerts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from encore_backend.storage.dynamodb.codec import decode, encode, iso

FIELDS = (
    "alert_id",
    "venue_id",
    "feedback_id",
    "level",
    "title",
    "description",
    "reasons",
    "detected_at",
    "is_read",
    "acknowledged_by",
    "acknowledged_at",
    "archived_at",
    "escalated_at",
)
TIMES = ("detected_at", "acknowledged_at", "archived_at", "escalated_at")
HERE = "#"
NOT_EXISTS = "attribute_not_exists(sk)"
EXISTS = "attribute_exists(sk)"


def alert_sk(detected_at: datetime | str, feedback_id: int) -> str:
    at = detected_at if isinstance(detected_at, str) else iso(detected_at)
    return f"{at}#{int(feedback_id):012d}"


def alert_key(venue_id: str, sk: str) -> dict[str, Any]:
    return {"venue_id": {"S": str(venue_id)}, "sk": {"S": sk}}


def alert_item(alert: Mapping[str, Any], feedback_created_at: datetime) -> dict[str, Any]:
    """The item of an alert row (the SQL columns) and its feedback's creation time."""
    doc = {k: alert.get(k) for k in FIELDS}
    doc["venue_id"] = str(doc["venue_id"])
    doc["level"] = str(doc["level"])
    doc["is_read"] = bool(doc["is_read"])
    doc["sk"] = alert_sk(alert["detected_at"], alert["feedback_id"])
    doc["feedback_created_at"] = feedback_created_at
    return encode(doc)


def alert_doc(item: Mapping[str, Any]) -> dict[str, Any]:
    """An alert item as the SQL store's row: every column, nothing else."""
    doc = decode(item, fields=FIELDS, times=TIMES)
    return {k: doc[k] for k in FIELDS}


def guard_key(feedback_id: int) -> dict[str, Any]:
    return {"venue_id": {"S": f"#feedback:{int(feedback_id)}"}, "sk": {"S": HERE}}


def guard_item(feedback_id: int, venue_id: str, sk: str, *, committed: bool) -> dict[str, Any]:
    return {
        **guard_key(feedback_id),
        "alert_venue_id": {"S": str(venue_id)},
        "alert_sk": {"S": sk},
        "committed": {"BOOL": committed},
    }


def counter_key(venue_id: str) -> dict[str, Any]:
    return {"venue_id": {"S": f"#levels:{venue_id}"}, "sk": {"S": HERE}}


def count_update(table: str, venue_id: str, counter: str, level: str) -> dict[str, Any]:
    """A transaction's Update adding one to the venue's `<counter>_<level>`."""
    return {
        "Update": {
            "TableName": table,
            "Key": counter_key(venue_id),
            "UpdateExpression": "ADD #n :one",
            "ExpressionAttributeNames": {"#n": f"{counter}_{level}"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def counts_of(item: Mapping[str, Any], *, include_archived: bool) -> dict[str, int]:
    """Alerts per level held by one counter item (levels with none left out)."""
    counts: dict[str, int] = {}
    for name, value in item.items():
        if name.startswith("total_"):
            level = name.removeprefix("total_")
            archived = 0 if include_archived else int(item.get(f"archived_{level}", {"N": 0})["N"])
            counts[level] = int(value["N"]) - archived
    return {level: n for level, n in counts.items() if n > 0}
