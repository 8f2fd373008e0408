"""Reports in DynamoDB (`encore_reports`: PK venue_id, SK kind#period_start), and the facts a
report run reads from the other derived tables (sent replies, critical alerts).

The key is the (venue, kind, period) uniqueness: a report goes in with a conditional Put, in one
transaction with its emails to managers, so a rerun or a racing worker adds neither twice, and a
crash leaves a report with all its emails or neither. Venues and feedback are read from SQL.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from encore_backend.domain.report_periods import KINDS
from encore_backend.storage.dynamodb.codec import decode, encode, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.queue_items import new_item_writes
from encore_backend.storage.dynamodb.schema import AI_RESPONSES, REPORTS, VENUE_ALERTS
from encore_backend.storage.dynamodb.transactions import TransactionFailed, failed, transact
from encore_backend.storage.sql.reports import LIST_MAX, Span, SqlReportStore

FIELDS = ("report_id", "venue_id", "kind", "period_start", "period_end", "generated_at", "content")
TIMES = ("period_start", "period_end", "generated_at")
NOT_EXISTS = "attribute_not_exists(sk)"
Emails = Callable[[list[dict[str, Any]]], Sequence[Mapping[str, Any]]]


def report_sk(kind: str, period_start: datetime | str) -> str:
    at = period_start if isinstance(period_start, str) else iso(period_start)
    return f"{kind}#{at}"


def report_doc(item: Mapping[str, Any]) -> dict[str, Any]:
    doc = decode(item, fields=FIELDS, times=TIMES)
    return {k: doc[k] for k in FIELDS}


class DynamoReportStore:
    """Reports as items; venues and feedback through the SQL source."""

    def __init__(self, dynamo: Dynamo, source: SqlReportStore) -> None:
        self.dynamo = dynamo
        self.source = source
        self.table = dynamo.name(REPORTS)

    def venues(self) -> list[dict[str, Any]]:
        return self.source.venues()

    def feedback_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        return self.source.feedback_in(spans)

    def existing(self, *, kind: str, since: datetime) -> set[tuple[str, datetime]]:
        """(venue_id, period_start) of the reports of `kind` from `since` (the kind_period
        index: one Query, paged)."""
        items = self.dynamo.pages(
            "query",
            TableName=self.table,
            IndexName="kind_period",
            KeyConditionExpression="#kind = :kind AND period_start >= :since",
            ExpressionAttributeNames={"#kind": "kind"},
            ExpressionAttributeValues={":kind": {"S": kind}, ":since": {"S": iso(since)}},
            ProjectionExpression="venue_id, period_start",
        )
        return {
            (d["venue_id"], d["period_start"])
            for d in (decode(i, times=("period_start",)) for i in items)
        }

    def replies_sent_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Replies sent in the spans (venue_id, sent_at, and their feedback's created_at): one
        Query of the replies' venue_sent index per venue and span."""
        rows = []
        for span, venue_id in _each_venue(spans):
            items = self.dynamo.pages(
                "query",
                TableName=self.dynamo.name(AI_RESPONSES),
                IndexName="venue_sent",
                KeyConditionExpression="venue_id = :venue AND sent_at BETWEEN :start AND :end",
                ExpressionAttributeValues=_span_values(venue_id, span),
                ProjectionExpression="venue_id, sent_at, feedback_created_at",
            )
            for item in items:
                doc = decode(item, times=("sent_at", "feedback_created_at"))
                if doc["sent_at"] < span.end:  # BETWEEN includes the end; the span does not
                    rows.append(
                        {
                            "venue_id": doc["venue_id"],
                            "sent_at": doc["sent_at"],
                            "created_at": doc["feedback_created_at"],
                        }
                    )
        return rows

    def critical_alerts_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Critical alerts on feedback created in the spans (archived ones too): one Query per
        venue and span of the alerts detected since the span began (an alert is detected after
        its feedback was created), filtered on level and the feedback's created_at."""
        rows = []
        for span, venue_id in _each_venue(spans):
            items = self.dynamo.pages(
                "query",
                TableName=self.dynamo.name(VENUE_ALERTS),
                KeyConditionExpression="venue_id = :venue AND sk >= :start",
                FilterExpression=(
                    "#level = :critical AND feedback_created_at >= :start "
                    "AND feedback_created_at < :end"
                ),
                ExpressionAttributeNames={"#level": "level"},
                ExpressionAttributeValues={
                    **_span_values(venue_id, span),
                    ":critical": {"S": "critical"},
                },
                ProjectionExpression="venue_id, feedback_created_at, alert_id, feedback_id, title",
            )
            for item in items:
                doc = decode(item, times=("feedback_created_at",))
                rows.append(
                    {
                        "venue_id": doc["venue_id"],
                        "created_at": doc["feedback_created_at"],
                        "alert_id": doc["alert_id"],
                        "feedback_id": doc["feedback_id"],
                        "title": doc["title"],
                    }
                )
        return rows

    def insert(
        self, rows: Sequence[Mapping[str, Any]], *, emails: Emails | None = None
    ) -> list[dict[str, Any]]:
        """Insert reports, skipping any whose (venue, kind, period) exists; the ones inserted.

        `emails` is asked once for the queue items of every candidate; a report's items are
        written in its own transaction, so only the reports inserted have them.
        """
        if not rows:
            return []
        mail: dict[str, list[Mapping[str, Any]]] = {}
        for item in emails([dict(r) for r in rows]) if emails is not None else []:
            mail.setdefault(str(item["report_id"]), []).append(item)
        return [
            dict(row)
            for row in rows
            if self._put(row, new_item_writes(self.dynamo, mail.get(row["report_id"], [])))
        ]

    def get(self, report_id: str) -> dict[str, Any] | None:
        """By the report_id index."""
        items = self.dynamo.client.query(
            TableName=self.table,
            IndexName="report_id",
            KeyConditionExpression="report_id = :id",
            ExpressionAttributeValues={":id": {"S": str(report_id)}},
        ).get("Items", [])
        return report_doc(items[0]) if items else None

    def list_for_venue(
        self,
        venue_id: str,
        *,
        kind: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's reports, newest period first (kind breaks ties); after the
        (period_start, kind) `after`. One Query per kind, merged."""
        limit = min(limit, LIST_MAX + 1)
        if limit <= 0:
            return []
        kinds = [kind] if kind is not None else list(KINDS)
        streams = [self._newest_first(venue_id, k, after, limit) for k in kinds]
        merged = heapq.merge(*streams, key=lambda r: (-r["period_start"].timestamp(), r["kind"]))
        return list(islice(merged, limit))

    # --- helpers ----------------------------------------------------------------------------

    def _put(self, row: Mapping[str, Any], mail: list[dict[str, Any]]) -> bool:
        """Write one report (with its emails, in one transaction); False if it exists."""
        put = {
            "TableName": self.table,
            "Item": _report_item(row),
            "ConditionExpression": NOT_EXISTS,
        }
        if not mail:
            try:
                self.dynamo.client.put_item(**put)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                return False
            return True
        reasons = transact(self.dynamo, [{"Put": put}, *mail])
        if reasons is not None and not failed(reasons, 0):
            raise TransactionFailed(reasons)
        return reasons is None

    def _newest_first(
        self, venue_id: str, kind: str, after: Sequence[Any] | None, limit: int
    ) -> Iterator[dict[str, Any]]:
        """One kind's reports newest first, those after `after` in the list's order only."""
        low, high = report_sk(kind, ""), report_sk(kind, "~")  # '~' sorts after any time
        if after is not None:
            high = report_sk(kind, after[0])
        items = self.dynamo.pages(
            "query",
            TableName=self.table,
            KeyConditionExpression="venue_id = :venue AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":venue": {"S": str(venue_id)},
                ":low": {"S": low},
                ":high": {"S": high},
            },
            ScanIndexForward=False,
            Limit=limit,
        )
        # At the cursor's own period only kinds after the cursor's kind follow it.
        skip = high if after is not None and kind <= str(after[1]) else None
        docs = (report_doc(i) for i in items if i["sk"]["S"] != skip)
        return islice(docs, limit)


def _report_item(row: Mapping[str, Any]) -> dict[str, Any]:
    doc = {k: row.get(k) for k in FIELDS}
    doc["venue_id"] = str(doc["venue_id"])
    doc["sk"] = report_sk(str(row["kind"]), row["period_start"])
    return encode(doc)


def _each_venue(spans: Sequence[Span]) -> Iterator[tuple[Span, str]]:
    for span in spans:
        for venue_id in span.venue_ids:
            yield span, str(venue_id)


def _span_values(venue_id: str, span: Span) -> dict[str, Any]:
    return {
        ":venue": {"S": venue_id},
        ":start": {"S": iso(span.start)},
        ":end": {"S": iso(span.end)},
    }
