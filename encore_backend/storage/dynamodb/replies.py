"""AI replies (`encore_ai_responses`) on DynamoDB, keyed by feedback_id: one reply per feedback
is the table's key, so a racing generator's conditional Put fails and stores nothing.

Same contract as SqlReplyStore. Feedback, customers, venues and settings stay in SQL: the
candidate rows come from there without the reply and alert joins, then feedback that has a
reply is left out (BatchGetItem) and the alert level is read from the alerts table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from encore_backend.domain.enums import ReplyStatus
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.listing import newest_first, upper_bound
from encore_backend.storage.dynamodb.queue_items import guard_key, new_item_writes
from encore_backend.storage.dynamodb.reply_items import (
    created_key,
    reply_doc,
    reply_item,
    reply_key,
)
from encore_backend.storage.dynamodb.schema import AI_RESPONSES, EMAIL_QUEUE, VENUE_ALERTS
from encore_backend.storage.dynamodb.writes import (
    CONDITION_FAILED,
    Condition,
    batch_get,
    batch_put,
    both,
    check,
    conditional,
    count,
    delete,
    index_query,
    one_of,
    projection,
    put,
    transact,
    update,
    when,
)
from encore_backend.storage.sql.replies import SqlReplyStore

FAILED = ReplyStatus.FAILED.value
NO_REPLY = Condition("attribute_not_exists(feedback_id)")


class DynamoReplyStore:
    """The `ai_responses` table (and the queue item a reply may create)."""

    def __init__(self, dynamo: Dynamo, source: SqlReplyStore) -> None:
        self.dynamo = dynamo
        self.source = source
        self.table = dynamo.name(AI_RESPONSES)

    def get(self, response_id: str) -> dict[str, Any] | None:
        """Found through the response_id index, read by key (consistent)."""
        feedback_id = self._feedback_of(response_id)
        reply = None if feedback_id is None else self.for_feedback(feedback_id)
        return reply if reply and reply["response_id"] == response_id else None

    def for_feedback(self, feedback_id: int) -> dict[str, Any] | None:
        answer = self.dynamo.client.get_item(
            TableName=self.table, Key=reply_key(feedback_id), ConsistentRead=True
        )
        return reply_doc(answer["Item"]) if "Item" in answer else None

    def _feedback_of(self, response_id: str) -> int | None:
        """The feedback of a reply id (a key that never changes, so the index may answer)."""
        for item in index_query(self.dynamo, self.table, "response_id", "response_id", response_id):
            return int(item["feedback_id"]["N"])
        return None

    def list_for_venue(
        self,
        venue_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's replies, newest first, optionally of one status; after the
        (created_at, response_id) `after`."""
        condition, values = "venue_id = :v", {":v": {"S": str(venue_id)}}
        if after is not None:
            condition += " AND created_key <= :upper"
            values[":upper"] = {"S": upper_bound(after)}
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "venue_created",
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": max(limit, 1) + 1,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :s"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":s"] = {"S": str(status)}
        items = self.dynamo.pages("query", **query, ExpressionAttributeValues=values)
        docs = (reply_doc(i) for i in items)
        return newest_first(docs, time="created_at", ident="response_id", limit=limit, after=after)

    def candidates(
        self,
        *,
        now: datetime,
        after_id: int = 0,
        limit: int = 50,
        created_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """New feedback without a reply at venues that generate, oldest first, after `after_id`
        (as SqlReplyStore.candidates), `limit` of them unless the source runs out first.

        Feedback still `new` whose reply exists (a crash between save's DynamoDB and SQL
        commits) is moved to `pending` here, which completes that save."""
        found: list[dict[str, Any]] = []
        cursor = after_id
        while len(found) < limit:
            rows = self.source.feedback_candidates(
                now=now, after_id=cursor, limit=limit, created_since=created_since
            )
            statuses = self._reply_statuses(int(r["feedback_id"]) for r in rows)
            for row in rows:
                status = statuses.get(int(row["feedback_id"]))
                if status is None:
                    found.append(row)
                elif status != FAILED:
                    self.source.mark_drafted(int(row["feedback_id"]))
            if len(rows) < limit:
                break
            cursor = rows[-1]["feedback_id"]
        return [self._with_alert_level(row) for row in found[:limit]]

    def draft_source(self, feedback_id: int) -> dict[str, Any] | None:
        """What drafting one feedback needs (as `candidates` rows), whatever its status."""
        row = self.source.feedback_source(feedback_id)
        return self._with_alert_level(row) if row else None

    def unanswered_before(self, venue_id: str, before: datetime) -> list[dict[str, Any]]:
        """The venue's feedback created before `before` with no reply, as `candidates` rows
        (demo history, imports); alert levels from one read of the venue's alerts."""
        rows = self.source.feedback_before(venue_id, before)
        replied = self._reply_statuses(int(r["feedback_id"]) for r in rows)
        levels = self._venue_alert_levels(venue_id) if rows else {}
        return [
            {**row, "alert_level": levels.get(int(row["feedback_id"]))}
            for row in rows
            if int(row["feedback_id"]) not in replied
        ]

    def import_history(
        self, replies: Sequence[Mapping[str, Any]], feedback: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store past replies and their feedback's outcome (bulk).

        SQL first, then the replies (BatchWriteItem): after a crash between the two, the
        feedback has its outcome but no reply, so a rerun (unanswered_before) imports its
        reply again; a reply is keyed by its feedback, so nothing is ever stored twice. The
        other order would leave replies whose feedback no rerun looks at again."""
        if not replies:
            return
        ids = [int(r["feedback_id"]) for r in replies]
        created = self.source.import_outcomes(feedback, ids)
        items = [
            reply_item(r, feedback_created_at=created.get(int(r["feedback_id"]))) for r in replies
        ]
        batch_put(self.dynamo, self.table, items)

    def delete_failed(self, response_id: str) -> bool:
        """Delete a `failed` reply that has no queue item (its guard item tells); False if it
        changed meanwhile."""
        reply = self.get(response_id)
        if reply is None or reply["status"] != FAILED:
            return False
        queue = self.dynamo.name(EMAIL_QUEUE)
        no_item = Condition("attribute_not_exists(venue_id)")
        gone = both(when("response_id = :rid", rid=response_id), when("#status = :f", f=FAILED))
        writes = [
            {"ConditionCheck": check(queue, guard_key(f"response:{response_id}"), no_item)},
            {"Delete": delete(self.table, reply_key(reply["feedback_id"]), gone)},
        ]
        return transact(self.dynamo, writes) is None

    def save(
        self,
        *,
        reply: Mapping[str, Any],
        queue_item: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store a reply (+ its queue item) and, when a draft exists, move the feedback to
        `pending` and clear its draft retries; False when the feedback already has a reply (a
        racing generator won).

        The SQL transaction holds the feedback row lock around the DynamoDB transaction (reply
        and queue item, conditional on no reply for the feedback) and commits after it. A crash
        between the two commits leaves the reply stored and the feedback `new`: `candidates`
        moves such feedback to `pending` and never offers it again, so the save completes and
        no second reply can be stored (the key is the feedback)."""

        def write(feedback_created_at: datetime) -> bool:
            item = reply_item(reply, feedback_created_at=feedback_created_at)
            writes = [{"Put": put(self.table, item, NO_REPLY)}]
            if queue_item is not None:
                writes += new_item_writes(self.dynamo, [queue_item])
            reasons = transact(self.dynamo, writes)
            if reasons is None:
                return True
            if reasons[0] != CONDITION_FAILED:
                raise RuntimeError(f"queue item of reply {reply['response_id']} exists: {reasons}")
            return self._is_stored(reply)

        drafted = reply["status"] != FAILED
        return self.source.save_locked(int(reply["feedback_id"]), write, drafted=drafted)

    def save_many(
        self, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]]
    ) -> list[bool]:
        """`save` for each item: a DynamoDB transaction holds one reply and its queue item, and
        each waits on its own feedback row lock."""
        return [self.save(reply=reply, queue_item=queue) for reply, queue in items]

    def _is_stored(self, reply: Mapping[str, Any]) -> bool:
        """A refused Put was ours after all when a retried request had already stored it."""
        stored = self.for_feedback(int(reply["feedback_id"]))
        return stored is not None and stored["response_id"] == reply["response_id"]

    def update_status(
        self,
        response_id: str,
        *,
        status: ReplyStatus,
        from_statuses: tuple[ReplyStatus, ...],
        **values: Any,
    ) -> bool:
        """Move a reply to `status` if it is still in one of `from_statuses` (approval API)."""
        feedback_id = self._feedback_of(response_id)
        if feedback_id is None:
            return False
        changes = {"status": status.value, **values}
        if "created_at" in values:
            changes["created_key"] = created_key({**values, "response_id": response_id})
        allowed = one_of("status", [s.value for s in from_statuses])
        condition = both(when("response_id = :rid", rid=response_id), allowed)
        params = update(self.table, reply_key(feedback_id), changes, condition=condition)
        return conditional(self.dynamo, "update_item", params) is not None

    def replies_by_status(self) -> dict[str, int]:
        """Replies per status (SqlOpsCountStore.replies_by_status): one Select=COUNT Query of
        the status index per status."""
        counts = {}
        for status in ReplyStatus:
            counts[status.value] = count(
                self.dynamo,
                TableName=self.table,
                IndexName="status",
                KeyConditionExpression="#status = :s",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":s": {"S": status.value}},
            )
        return {status: n for status, n in counts.items() if n}

    def _reply_statuses(self, feedback_ids: Iterable[int]) -> dict[int, str]:
        """The status of the reply of each of these feedback that has one (BatchGetItem)."""
        keys = [reply_key(i) for i in dict.fromkeys(feedback_ids)]
        items = batch_get(self.dynamo, self.table, keys, **projection(["feedback_id", "status"]))
        return {int(i["feedback_id"]["N"]): i["status"]["S"] for i in items}

    def _with_alert_level(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row with its feedback's alert level (the alerts' feedback_id index), or None."""
        level = None
        table = self.dynamo.name(VENUE_ALERTS)
        fid = int(row["feedback_id"])
        for alert in index_query(self.dynamo, table, "feedback_id", "feedback_id", fid):
            level = alert.get("level", {}).get("S")
        return {**row, "alert_level": level}

    def _venue_alert_levels(self, venue_id: str) -> dict[int, str]:
        """Alert level by feedback id, for every alert of one venue (its partition)."""
        items = self.dynamo.pages(
            "query",
            TableName=self.dynamo.name(VENUE_ALERTS),
            KeyConditionExpression="venue_id = :v",
            ExpressionAttributeValues={":v": {"S": str(venue_id)}},
            **projection(["feedback_id", "level"]),
        )
        return {int(i["feedback_id"]["N"]): i["level"]["S"] for i in items if "level" in i}
