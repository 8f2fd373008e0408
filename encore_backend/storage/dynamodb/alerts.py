"""Alerts in DynamoDB (`encore_venue_alerts`; item layout in alert_items, the scan's write in
alert_scan). The detector's reads of feedback stay with the SQL source.

Lists are Queries on the venue's partition, newest first by `sk`; a filter (read state, level,
archived) may leave a page short, so pages are followed until the limit is met. Counts per level
come from one counter item per venue (BatchGetItem), never from reading every alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from encore_backend.clock import as_utc
from encore_backend.storage.dynamodb.alert_items import (
    EXISTS,
    alert_doc,
    alert_key,
    alert_sk,
    count_update,
    counter_key,
    counts_of,
)
from encore_backend.storage.dynamodb.alert_scan import ScanWrites
from encore_backend.storage.dynamodb.batching import batch_get
from encore_backend.storage.dynamodb.codec import encode_value, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.escalations import MARK, alerts_for, write_escalation
from encore_backend.storage.dynamodb.schema import VENUE_ALERTS
from encore_backend.storage.dynamodb.transactions import transact
from encore_backend.storage.sql.alerts import SavedScan, SqlAlertStore
from encore_backend.storage.sql.retries import retry_deadlocks

FILTERED_PAGE = 200  # items a filtered list reads per request (a short page is followed)


class DynamoAlertStore:
    """Alerts as items; feedback, venues and webhook deliveries through the SQL source."""

    def __init__(self, dynamo: Dynamo, source: SqlAlertStore) -> None:
        self.dynamo = dynamo
        self.source = source
        self.table = dynamo.name(VENUE_ALERTS)

    def get(self, alert_id: str) -> dict[str, Any] | None:
        """By the alert_id index (eventually consistent: fine for a page or the API)."""
        return self._by_index("alert_id", {"S": str(alert_id)})

    def for_feedback(self, feedback_id: int) -> dict[str, Any] | None:
        """The alert a feedback raised, if any (the feedback_id index)."""
        return self._by_index("feedback_id", {"N": str(int(feedback_id))})

    def list_for_venue(
        self,
        venue_id: str,
        *,
        is_read: bool | None = None,
        level: str | None = None,
        include_archived: bool = False,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's alerts, newest first; after the (detected_at, feedback_id) `after`."""
        query = VenueQuery(self.table, venue_id)
        if after is not None:
            query.key("sk < :after", alert_sk(after[0], int(after[1])))
        if is_read is not None:
            query.where("is_read = :is_read", is_read)
        if level is not None:
            query.where("#level = :level", level, name="level")
        if not include_archived:
            query.filters.append("attribute_not_exists(archived_at)")
        page = limit if not query.filters else max(limit, FILTERED_PAGE)
        return self._take(query.params(ScanIndexForward=False), limit, page)

    def list_since(
        self, venue_id: str, *, since: datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Alerts detected at or after `since`, oldest first (the live stream polls this)."""
        query = VenueQuery(self.table, venue_id).key("sk >= :since", iso(since))
        return self._take(query.params(ScanIndexForward=True), limit, limit)

    def mark_read(self, alert_id: str) -> dict[str, Any] | None:
        return self._update(alert_id, "SET is_read = :true", {":true": True})

    def acknowledge(self, alert_id: str, by: str, now: datetime) -> dict[str, Any] | None:
        """Mark read and acknowledged; the first acknowledgement is kept (if_not_exists)."""
        expression = (
            "SET is_read = :true, acknowledged_by = if_not_exists(acknowledged_by, :by), "
            "acknowledged_at = if_not_exists(acknowledged_at, :at)"
        )
        return self._update(alert_id, expression, {":true": True, ":by": by, ":at": now})

    def count_by_level(self, *, include_archived: bool = False) -> dict[str, int]:
        """Alert counts per level over all venues: each venue's counter item (BatchGetItem,
        100 venues a request), kept in step by every write that adds or archives an alert."""
        keys = [counter_key(v) for v in self.source.venue_ids()]
        totals: dict[str, int] = {}
        for item in batch_get(self.dynamo, self.table, keys):
            for level, n in counts_of(item, include_archived=include_archived).items():
                totals[level] = totals.get(level, 0) + n
        return totals

    def archive_before(self, *, before: datetime, now: datetime) -> int:
        """Archive the alerts detected before `before` (archived_at = now), each with its
        venue's counter in one transaction; one Query per venue finds them."""
        done = 0
        for venue_id in self.source.venue_ids():
            query = VenueQuery(self.table, venue_id).key("sk < :before", iso(before))
            query.filters.append("attribute_not_exists(archived_at)")
            query.names["#level"] = "level"
            params = query.params(ProjectionExpression="venue_id, sk, #level")
            for item in self.dynamo.pages("query", **params):
                done += self._archive(item, now)
        return done

    # --- the detector's scan ---------------------------------------------------------------

    def unscanned(
        self, *, limit: int, after_id: int = 0, feedback_ids: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        return self.source.unscanned(limit=limit, after_id=after_id, feedback_ids=feedback_ids)

    def low_ratings(
        self, *, customer_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        return self.source.low_ratings(customer_ids=customer_ids, since=since, until=until)

    def save_scan(
        self,
        *,
        feedback_ids: Sequence[int],
        alerts: Sequence[Mapping[str, Any]],
        deliveries: Mapping[str, Sequence[Mapping[str, Any]]],
        now: datetime,
        emails: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> SavedScan:
        """Mark the batch scanned (SQL) and store its alerts with their emails (DynamoDB) and
        their webhook deliveries (SQL), all or nothing per alert; see alert_scan for why a
        crash or a racing scanner neither loses nor duplicates any of them."""
        writes = ScanWrites(self.dynamo, self.table, alerts, emails or {})
        marked, delivery_ids = self.source.save_scan_with(
            feedback_ids=feedback_ids, now=now, write=lambda m: writes.write(m, deliveries)
        )
        writes.confirm()
        return SavedScan(marked, writes.stored, delivery_ids)

    # --- the response deadline (feedback in SQL; see dynamodb/escalations) ------------------

    def unanswered(
        self,
        venue_id: str,
        *,
        escalated: bool | None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        return self.source.unanswered(
            venue_id,
            escalated=escalated,
            created_from=created_from,
            created_to=created_to,
            limit=limit,
        )

    def count_overdue(self, venue_id: str) -> int:
        return self.source.count_overdue(venue_id)

    def for_feedbacks(self, feedback_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The alert of each of these feedback that raised one (through its guard item)."""
        return alerts_for(self.dynamo, self.table, feedback_ids)

    def mark_escalated(self, alert_ids: Sequence[str], now: datetime) -> int:
        """Set escalated_at on these alerts (the first one is kept); how many changed."""
        changed = 0
        for alert_id in dict.fromkeys(alert_ids):
            row = self._update(str(alert_id), MARK, {":now": now})
            changed += row is not None and row.get("escalated_at") == as_utc(now)
        return changed

    @retry_deadlocks
    def escalate(
        self,
        *,
        feedback_ids: Sequence[int],
        alerts: Mapping[int, Mapping[str, Any]],
        emails: Mapping[int, Sequence[Mapping[str, Any]]],
        deliveries: Mapping[int, Sequence[Mapping[str, Any]]],
        now: datetime,
    ) -> list[int]:
        """Claim the feedback in SQL; inside the claim mark each alert and queue its emails
        here (idempotent per feedback), then the SQL commit with the webhook deliveries."""

        def write(claimed: Sequence[int]) -> None:
            for fid in claimed:
                alert, mail = alerts.get(fid), emails.get(fid, ())
                write_escalation(self.dynamo, self.table, alert=alert, emails=mail, now=now)

        return self.source.escalate_with(
            feedback_ids=feedback_ids, deliveries=deliveries, now=now, write=write
        )

    # --- helpers ----------------------------------------------------------------------------

    def _by_index(self, index: str, value: Mapping[str, Any]) -> dict[str, Any] | None:
        items = self.dynamo.client.query(
            TableName=self.table,
            IndexName=index,
            KeyConditionExpression=f"{index} = :v",
            ExpressionAttributeValues={":v": value},
        ).get("Items", [])
        return alert_doc(items[0]) if items else None

    def _take(self, params: dict[str, Any], limit: int, page: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        items = self.dynamo.pages("query", **params, Limit=page)
        return [alert_doc(item) for item in islice(items, limit)]

    def _update(
        self, alert_id: str, expression: str, values: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Update the alert by its table key and return it as written (ALL_NEW: no index
        re-read); None when there is no such alert."""
        key = self._key_of(alert_id)
        if key is None:
            return None
        try:
            answer = self.dynamo.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=EXISTS,
                ExpressionAttributeValues={k: encode_value(v) for k, v in values.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None  # removed since the index was read
        return alert_doc(answer["Attributes"])

    def _key_of(self, alert_id: str) -> dict[str, Any] | None:
        """The table key of an alert, from the alert_id index."""
        items = self.dynamo.client.query(
            TableName=self.table,
            IndexName="alert_id",
            KeyConditionExpression="alert_id = :v",
            ExpressionAttributeValues={":v": {"S": str(alert_id)}},
            ProjectionExpression="venue_id, sk",
        ).get("Items", [])
        return alert_key(items[0]["venue_id"]["S"], items[0]["sk"]["S"]) if items else None

    def _archive(self, item: Mapping[str, Any], now: datetime) -> int:
        """Archive one alert and count it archived; 0 if it was archived meanwhile."""
        venue_id, level = item["venue_id"]["S"], item["level"]["S"]
        reasons = transact(
            self.dynamo,
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": alert_key(venue_id, item["sk"]["S"]),
                        "UpdateExpression": "SET archived_at = :now",
                        "ConditionExpression": f"{EXISTS} AND attribute_not_exists(archived_at)",
                        "ExpressionAttributeValues": {":now": {"S": iso(now)}},
                    }
                },
                count_update(self.table, venue_id, "archived", level),
            ],
        )
        return 1 if reasons is None else 0


class VenueQuery:
    """A Query on one venue's alerts: key conditions on `sk` and filters, with their values."""

    def __init__(self, table: str, venue_id: str) -> None:
        self.table = table
        self.conditions = ["venue_id = :venue"]
        self.filters: list[str] = []
        self.values: dict[str, Any] = {":venue": encode_value(str(venue_id))}
        self.names: dict[str, str] = {}

    def key(self, condition: str, value: Any) -> VenueQuery:
        self.conditions.append(condition)
        self.values[condition.rsplit(" ", 1)[-1]] = encode_value(value)
        return self

    def where(self, condition: str, value: Any, *, name: str | None = None) -> VenueQuery:
        self.filters.append(condition)
        self.values[condition.rsplit(" ", 1)[-1]] = encode_value(value)
        if name is not None:
            self.names[f"#{name}"] = name
        return self

    def params(self, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": " AND ".join(self.conditions),
            "ExpressionAttributeValues": self.values,
            **extra,
        }
        if self.filters:
            params["FilterExpression"] = " AND ".join(self.filters)
        if self.names:
            params["ExpressionAttributeNames"] = self.names
        return params
