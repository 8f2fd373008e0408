"""Counts of replies the SQL aggregates read from `encore_ai_responses`, which lives in DynamoDB
in this profile: replies waiting per venue (the `status` index), replies sent in a venue's
window (the `venue_sent` index, Select=COUNT). Requests grow with venues and pending replies,
never with stored feedback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from encore_backend.domain.enums import PENDING_REPLY_STATUSES
from encore_backend.storage.dynamodb.codec import iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.schema import AI_RESPONSES


def by_status(dynamo: Dynamo, statuses: Iterable[str]) -> dict[str, Counter[str]]:
    """{status: {venue_id: replies}} for the given statuses (one paged Query each)."""
    counts: dict[str, Counter[str]] = {}
    for status in statuses:
        venues: Counter[str] = Counter()
        for item in dynamo.pages(
            "query",
            TableName=dynamo.name(AI_RESPONSES),
            IndexName="status",
            KeyConditionExpression="#s = :s",
            ProjectionExpression="venue_id",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": str(status)}},
        ):
            venues[item["venue_id"]["S"]] += 1
        counts[str(status)] = venues
    return counts


def pending_by_venue(dynamo: Dynamo) -> Counter[str]:
    """Replies drafted and not yet sent, rejected or failed, per venue."""
    total: Counter[str] = Counter()
    for venues in by_status(dynamo, PENDING_REPLY_STATUSES).values():
        total.update(venues)
    return total


def sent_between(dynamo: Dynamo, venue_id: str, start: datetime, end: datetime) -> int:
    """Replies of the venue sent in [start, end]."""
    total = 0
    params = {
        "TableName": dynamo.name(AI_RESPONSES),
        "IndexName": "venue_sent",
        "KeyConditionExpression": "venue_id = :v AND sent_at BETWEEN :a AND :b",
        "ExpressionAttributeValues": {
            ":v": {"S": str(venue_id)},
            ":a": {"S": iso(start)},
            ":b": {"S": iso(end)},
        },
        "Select": "COUNT",
    }
    while True:
        page = dynamo.client.query(**params)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
