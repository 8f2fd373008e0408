"""The DynamoDB side of an escalation (response_sla): the alert's escalated_at and the manager
emails, written inside the SQL claim of the feedback (SqlAlertStore.escalate_with).

Per feedback one TransactWriteItems: the alert's `SET escalated_at = if_not_exists(...)` and the
queue items with their notice guards. If the SQL transaction dies after it, the feedback stays
unclaimed and the next run writes again: the guards refuse the emails, which (written in the
same transaction as the alert mark) means this feedback's writes are already there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from encore_backend.storage.dynamodb.alert_items import (
    EXISTS,
    alert_doc,
    alert_key,
    alert_sk,
    guard_key,
)
from encore_backend.storage.dynamodb.batching import batch_get
from encore_backend.storage.dynamodb.codec import encode_value
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.queue_items import new_item_writes
from encore_backend.storage.dynamodb.transactions import TransactionFailed, failed, transact

MARK = "SET escalated_at = if_not_exists(escalated_at, :now)"


def mark_write(table: str, alert: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The Update that marks a stored alert escalated (the first time is kept)."""
    return {
        "Update": {
            "TableName": table,
            "Key": alert_key(
                str(alert["venue_id"]), alert_sk(alert["detected_at"], alert["feedback_id"])
            ),
            "UpdateExpression": MARK,
            "ConditionExpression": EXISTS,
            "ExpressionAttributeValues": {":now": encode_value(now)},
        }
    }


def write_escalation(
    dynamo: Dynamo,
    table: str,
    *,
    alert: Mapping[str, Any] | None,
    emails: Sequence[Mapping[str, Any]],
    now: datetime,
) -> None:
    """Mark the alert and queue the emails of one escalated feedback, all or nothing; a rerun
    that finds the emails queued has nothing left to do."""
    writes = ([mark_write(table, alert, now)] if alert is not None else []) + new_item_writes(
        dynamo, emails
    )
    if not writes:
        return
    reasons = transact(dynamo, writes)
    if reasons is None:
        return
    first_email = 1 if alert is not None else 0
    if any(failed(reasons, i) for i in range(first_email, len(writes))):
        return  # an earlier attempt queued them, with the alert's mark
    if alert is not None and failed(reasons, 0):
        # The alert is gone (removed by hand): the emails still go.
        write_escalation(dynamo, table, alert=None, emails=emails, now=now)
        return
    raise TransactionFailed(reasons)


def alerts_for(
    dynamo: Dynamo, table: str, feedback_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The alert of each feedback that raised one: its guard (one BatchGetItem per 100 ids)
    points at the alert, read in a second batch."""
    ids = sorted({int(i) for i in feedback_ids})
    guards = batch_get(dynamo, table, [guard_key(i) for i in ids])
    keys = [alert_key(g["alert_venue_id"]["S"], g["alert_sk"]["S"]) for g in guards]
    found: dict[int, dict[str, Any]] = {}
    for item in batch_get(dynamo, table, keys):
        doc = alert_doc(item)
        found[int(doc["feedback_id"])] = doc
    return found
