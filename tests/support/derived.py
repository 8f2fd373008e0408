"""Helpers of the derived-store contract suites: documents other stores own, written or read
straight in their table's layout (as another system might), in whichever profile runs.

The email queue and the replies have their own adapters; until those are wired in the DynamoDB
profile, `store_ctx.email_queue` / `.replies` are the SQL ones, so these read and write the
DynamoDB tables by the layouts the adapters share (queue_items; DYNAMO.md rule 7).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from encore_backend.bootstrap import Container
from encore_backend.storage.dynamodb.codec import decode, encode, iso
from encore_backend.storage.dynamodb.connection import connect
from encore_backend.storage.dynamodb.queue_items import QUEUE_FIELDS, QUEUE_TIMES
from encore_backend.storage.dynamodb.schema import AI_RESPONSES, EMAIL_QUEUE
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.email_queue import SqlEmailQueueStore


def in_dynamodb(ctx: Container) -> bool:
    return ctx.settings.encore_derived_store == "dynamodb"


def queued_emails(ctx: Container, venue_id: str) -> list[dict[str, Any]]:
    """Every queue item of the venue, whichever store holds the queue."""
    if not (in_dynamodb(ctx) and isinstance(ctx.email_queue, SqlEmailQueueStore)):
        return ctx.email_queue.list_for_venue(venue_id, limit=500)
    dynamo = connect(ctx.settings)
    items = dynamo.pages(
        "query",
        TableName=dynamo.name(EMAIL_QUEUE),
        KeyConditionExpression="venue_id = :v",
        ExpressionAttributeValues={":v": {"S": venue_id}},
    )
    return [decode(i, fields=QUEUE_FIELDS, times=QUEUE_TIMES) for i in items]


def put_sent_reply(
    ctx: Container,
    *,
    feedback_id: int,
    venue_id: str,
    feedback_created_at: datetime,
    sent_at: datetime,
    response_id: str,
) -> None:
    """A reply sent at `sent_at`, stored where this profile keeps replies."""
    row = {
        "response_id": response_id,
        "feedback_id": feedback_id,
        "venue_id": venue_id,
        "subject": "Thanks",
        "body": "Thank you.",
        "status": "sent",
        "provider": "template",
        "created_at": feedback_created_at,
        "sent_at": sent_at,
    }
    if not in_dynamodb(ctx):
        with ctx.engine.begin() as conn:
            conn.execute(insert(m.ai_responses).values(**row))
        return
    dynamo = connect(ctx.settings)
    item = {
        **row,
        "created_key": f"{iso(feedback_created_at)}#{response_id}",
        "feedback_created_at": feedback_created_at,
    }
    dynamo.client.put_item(TableName=dynamo.name(AI_RESPONSES), Item=encode(item))
