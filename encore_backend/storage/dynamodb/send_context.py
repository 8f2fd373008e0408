"""What a claimed queue item's message needs, gathered from both stores: the reply, report or
alert from DynamoDB, the feedback, customer and venue from SQL. The row has exactly the keys of
SqlEmailQueueStore.send_context (the other kinds' columns None), `comments` for a report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from encore_backend.domain.enums import EmailKind
from encore_backend.storage.dynamodb.codec import decode
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.reply_items import reply_key
from encore_backend.storage.dynamodb.schema import AI_RESPONSES, REPORTS, VENUE_ALERTS
from encore_backend.storage.dynamodb.writes import index_query
from encore_backend.storage.sql.email_queue import SqlEmailQueueStore

REPLY_COLUMNS = ("subject", "body")
REPORT_COLUMNS = ("report_kind", "content")
ALERT_COLUMNS = ("level", "title", "description", "reasons", "detected_at")
SOURCE_COLUMNS = (
    "comment",
    "rating",
    "feedback_created_at",
    "customer_id",
    "customer_name",
    "unsubscribed_at",
    "venue_name",
    "manager_emails",
)


def send_context(
    dynamo: Dynamo, source: SqlEmailQueueStore, item: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The queue row `item` with its message's parts; None when its venue is gone."""
    row = {**item, **dict.fromkeys(REPLY_COLUMNS + REPORT_COLUMNS + ALERT_COLUMNS)}
    if item["kind"] == EmailKind.REPLY and item["response_id"] is not None:
        row.update(_reply(dynamo, item))
    elif item["kind"] == EmailKind.REPORT and item["report_id"] is not None:
        row.update(_report(dynamo, str(item["report_id"])))
    elif item["kind"] == EmailKind.ALERT and item["alert_id"] is not None:
        row.update(_alert(dynamo, str(item["alert_id"])))
    elif item["kind"] == EmailKind.DIGEST:
        row["content"] = item.get("payload")  # computed when queued
    content = row["content"] if item["kind"] == EmailKind.REPORT else None
    found = source.send_context_source(
        venue_id=item["venue_id"], feedback_id=item["feedback_id"], content=content or None
    )
    if found is None:
        return None
    if item["kind"] == EmailKind.REPORT and "comments" not in found:
        found["comments"] = {}
    return {**row, **dict.fromkeys(SOURCE_COLUMNS), **found}


def _reply(dynamo: Dynamo, item: Mapping[str, Any]) -> dict[str, Any]:
    answer = dynamo.client.get_item(
        TableName=dynamo.name(AI_RESPONSES),
        Key=reply_key(item["feedback_id"]),
        ConsistentRead=True,
        ProjectionExpression="response_id, subject, body",
    )
    reply = decode(answer.get("Item", {}))
    if reply.get("response_id") != item["response_id"]:
        return {}
    return {name: reply.get(name) for name in REPLY_COLUMNS}


def _report(dynamo: Dynamo, report_id: str) -> dict[str, Any]:
    for found in index_query(dynamo, dynamo.name(REPORTS), "report_id", "report_id", report_id):
        report = decode(found)
        content = report.get("content")
        if isinstance(content, str):
            content = json.loads(content)
        return {"report_kind": report.get("kind"), "content": content}
    return {}


def _alert(dynamo: Dynamo, alert_id: str) -> dict[str, Any]:
    table = dynamo.name(VENUE_ALERTS)
    for found in index_query(dynamo, table, "alert_id", "alert_id", alert_id):
        alert = decode(found, fields=ALERT_COLUMNS, times=("detected_at",))
        return {name: alert[name] for name in ALERT_COLUMNS}
    return {}
