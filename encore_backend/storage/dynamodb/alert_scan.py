"""The alert detector's batch write in the DynamoDB profile: SQL marks, DynamoDB holds alerts.

The SQL transaction is the lock (SqlAlertStore.save_scan_with): it locks and marks the batch's
unscanned feedback, calls `ScanWrites.write` for the rows it marked, inserts the webhook
deliveries returned, and commits. Inside, each alert is one TransactWriteItems: the alert
(condition: new), its feedback's guard (condition: new; one alert per feedback), +1 on the
venue's level counter, and its emails to managers (queue_items.new_item_writes). After the SQL
commit the guards are marked `committed`.

A guard that already exists for a row this call marked, so nobody committed its scan:
- not committed: a scan died between its DynamoDB and its SQL commit (or its SQL transaction
  was rolled back: a deadlock victim runs `write` again). Its alert and emails were written
  together, so this call adopts the alert: reports it, and its webhook deliveries (deterministic
  ids: alert_service.alert_id_for, notify/channels.py) are inserted with this commit. Nothing is
  lost and nothing is queued twice.
- committed: the row's scan mark was reset by an operator; as in SQL, the rescan skips it.
A crash between the SQL commit and the `committed` marks leaves guards unmarked: only a later
rescan of those rows would adopt them again, and their deliveries exist (skipped by id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from encore_backend.storage.dynamodb.alert_items import (
    NOT_EXISTS,
    alert_doc,
    alert_item,
    alert_key,
    alert_sk,
    count_update,
    guard_item,
    guard_key,
)
from encore_backend.storage.dynamodb.batching import batch_write
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.queue_items import new_item_writes
from encore_backend.storage.dynamodb.transactions import TransactionFailed, failed, transact

GUARD = 1  # the guard's place in an alert's transaction


class ScanWrites:
    """The DynamoDB side of one save_scan: `write` inside the SQL transaction (it may run again
    if that transaction is retried), `confirm` after its commit."""

    def __init__(
        self,
        dynamo: Dynamo,
        table: str,
        alerts: Sequence[Mapping[str, Any]],
        emails: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> None:
        self.dynamo = dynamo
        self.table = table
        self.alerts = alerts
        self.emails = emails
        self.stored: list[dict[str, Any]] = []
        self.guards: list[dict[str, Any]] = []

    def write(
        self,
        marked: Mapping[int, datetime],
        deliveries: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> list[dict[str, Any]]:
        """Store the alerts of the rows this call marked; the deliveries of those stored."""
        rows: list[dict[str, Any]] = []
        self.stored, self.guards = [], []
        for alert in self.alerts:
            fid = int(alert["feedback_id"])
            if fid not in marked:
                continue  # another scan marked it: its alert is that scan's to write
            stored = self._put(alert, marked[fid])
            if stored is not None:
                self.stored.append(stored)
                rows.extend(dict(d) for d in deliveries.get(alert["alert_id"], ()))
        return rows

    def confirm(self) -> None:
        """Mark the guards of the stored alerts committed (after the SQL commit)."""
        puts = [{"PutRequest": {"Item": {**g, "committed": {"BOOL": True}}}} for g in self.guards]
        batch_write(self.dynamo, self.table, puts)

    def _put(self, alert: Mapping[str, Any], created_at: datetime) -> dict[str, Any] | None:
        """Write one alert; the alert stored (this one, or the adopted one), or None to skip."""
        fid, venue_id = int(alert["feedback_id"]), str(alert["venue_id"])
        sk = alert_sk(alert["detected_at"], fid)
        guard = guard_item(fid, venue_id, sk, committed=False)
        reasons = transact(self.dynamo, self._writes(alert, created_at, guard))
        if reasons is None:
            self.guards.append(guard)
            return dict(alert)
        if not failed(reasons, GUARD):
            raise TransactionFailed(reasons)
        return self._adopt(reasons[GUARD].get("Item") or self._get(guard_key(fid)))

    def _writes(
        self, alert: Mapping[str, Any], created_at: datetime, guard: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        new = {"TableName": self.table, "ConditionExpression": NOT_EXISTS}
        return [
            {"Put": {**new, "Item": alert_item(alert, created_at)}},
            {"Put": {**new, "Item": guard, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            count_update(self.table, str(alert["venue_id"]), "total", str(alert["level"])),
            *new_item_writes(self.dynamo, self.emails.get(alert["alert_id"], ())),
        ]

    def _adopt(self, guard: Mapping[str, Any]) -> dict[str, Any] | None:
        """The alert an uncommitted scan left for this feedback, or None if its scan committed."""
        if guard.get("committed", {}).get("BOOL"):
            return None
        item = self._get(alert_key(guard["alert_venue_id"]["S"], guard["alert_sk"]["S"]))
        self.guards.append(dict(guard))
        return alert_doc(item)

    def _get(self, key: Mapping[str, Any]) -> Mapping[str, Any]:
        """An item that must exist (read consistently: it was just written)."""
        answer = self.dynamo.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        if "Item" not in answer:
            raise RuntimeError(f"{self.table}: no item {key}")
        item: Mapping[str, Any] = answer["Item"]
        return item
