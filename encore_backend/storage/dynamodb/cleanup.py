"""weekly_cleanup's DynamoDB steps: count old alerts to archive, delete old failed emails.

Both walk keys and indexes only: alerts per venue (the venues come from SQL) by the sort key's
leading `detected_at`, failed emails through the `status` index. Each change is conditional, so
a rerun or a racing run changes nothing twice; a dry run counts the same items.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from encore_backend.storage.dynamodb.codec import decode, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.queue_items import guard_key, unique_keys
from encore_backend.storage.dynamodb.schema import EMAIL_HISTORY, EMAIL_QUEUE, VENUE_ALERTS


def _unarchived_before(
    dynamo: Dynamo, venue_id: str, before: datetime
) -> Iterator[Mapping[str, Any]]:
    yield from dynamo.pages(
        "query",
        TableName=dynamo.name(VENUE_ALERTS),
        KeyConditionExpression="venue_id = :v AND sk < :before",
        FilterExpression="attribute_not_exists(archived_at)",
        ProjectionExpression="venue_id, sk",
        ExpressionAttributeValues={":v": {"S": venue_id}, ":before": {"S": iso(before)}},
    )


def count_unarchived(dynamo: Dynamo, venue_ids: Iterable[str], *, before: datetime) -> int:
    """How many alerts detected before `before` are not archived (the dry run's count; the
    alert store archives them, with its level counters)."""
    return sum(1 for v in venue_ids for _ in _unarchived_before(dynamo, str(v), before))


def _failed_before(dynamo: Dynamo, before: datetime) -> Iterator[dict[str, Any]]:
    for item in dynamo.pages(
        "query",
        TableName=dynamo.name(EMAIL_QUEUE),
        IndexName="status",
        KeyConditionExpression="#s = :failed",
        FilterExpression="created_at < :before",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": "failed"}, ":before": {"S": iso(before)}},
    ):
        yield decode(item)


def purge_failed_emails(dynamo: Dynamo, *, before: datetime, dry_run: bool) -> int:
    """Failed queue items created before `before`, with their guards and attempt history."""
    done = 0
    for doc in _failed_before(dynamo, before):
        if not dry_run and not _delete_item(dynamo, doc):
            continue
        done += 1
    return done


def _delete_item(dynamo: Dynamo, doc: Mapping[str, Any]) -> bool:
    """Delete a failed item (still failed: an operator may have requeued it meanwhile) and its
    guard items in one transaction, then its history."""
    table = dynamo.name(EMAIL_QUEUE)
    key = {"venue_id": {"S": str(doc["venue_id"])}, "sk": {"S": doc["sk"]}}
    writes: list[dict[str, Any]] = [
        {
            "Delete": {
                "TableName": table,
                "Key": key,
                "ConditionExpression": "#s = :failed",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":failed": {"S": "failed"}},
            }
        }
    ]
    writes += [{"Delete": {"TableName": table, "Key": guard_key(k)}} for k in unique_keys(doc)]
    try:
        dynamo.client.transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise
    _delete_history(dynamo, str(doc["queue_id"]))
    return True


def _delete_history(dynamo: Dynamo, queue_id: str) -> None:
    table = dynamo.name(EMAIL_HISTORY)
    keys = [
        {"DeleteRequest": {"Key": {"queue_id": item["queue_id"], "sk": item["sk"]}}}
        for item in dynamo.pages(
            "query",
            TableName=table,
            KeyConditionExpression="queue_id = :q",
            ProjectionExpression="queue_id, sk",
            ExpressionAttributeValues={":q": {"S": queue_id}},
        )
    ]
    for start in range(0, len(keys), 25):
        batch: dict[str, Any] = {table: keys[start : start + 25]}
        while batch:
            batch = dynamo.client.batch_write_item(RequestItems=batch).get("UnprocessedItems")
