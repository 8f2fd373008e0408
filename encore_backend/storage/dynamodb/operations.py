"""The ports that read derived documents together with the source of truth, in the DynamoDB
profile: operational counts, weekly_cleanup's steps, monthly rollups. Each takes what lives in
DynamoDB from the tables here and the rest from its SQL store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from encore_backend.storage.dynamodb import cleanup
from encore_backend.storage.dynamodb.alerts import DynamoAlertStore
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.email_queue import DynamoEmailQueueStore
from encore_backend.storage.dynamodb.replies import DynamoReplyStore
from encore_backend.storage.dynamodb.reply_counts import sent_between
from encore_backend.storage.dynamodb.stats import DynamoStatsStore
from encore_backend.storage.ports.operations import CleanupRule
from encore_backend.storage.sql.cleanup import SqlCleanupStore
from encore_backend.storage.sql.monthly_stats import SqlMonthlyStatsStore

JUST_BEFORE = timedelta(microseconds=1)  # [start, end) as DynamoDB's inclusive BETWEEN


class DynamoOpsCountStore:
    """Replies per status and the newest failed emails, from their DynamoDB stores."""

    def __init__(self, replies: DynamoReplyStore, email_queue: DynamoEmailQueueStore) -> None:
        self.replies = replies
        self.email_queue = email_queue

    def replies_by_status(self) -> dict[str, int]:
        return self.replies.replies_by_status()

    def failed_emails(self, *, limit: int = 10) -> list[dict[str, Any]]:
        return self.email_queue.failed_emails(limit=limit)


class DynamoCleanupStore:
    """weekly_cleanup's steps: alerts, failed emails and snapshots here; job runs in SQL. The
    orphan steps run in SQL too, where they find nothing in this profile: no path of the engine
    deletes feedback or venues, and finding DynamoDB documents whose feedback a person deleted
    by hand would take a Scan (SPEC §6 tables are read by key and index only)."""

    def __init__(
        self,
        dynamo: Dynamo,
        *,
        source: SqlCleanupStore,
        stats: DynamoStatsStore,
        alerts: DynamoAlertStore,
    ) -> None:
        self.dynamo = dynamo
        self.source = source
        self.stats = stats
        self.alerts = alerts

    def count(self, rule: CleanupRule) -> int:
        return self._run(rule, dry_run=True)

    def apply(self, rule: CleanupRule, *, batch: int = 1000) -> int:
        return self._run(rule, dry_run=False, batch=batch)

    def _run(self, rule: CleanupRule, *, dry_run: bool, batch: int = 1000) -> int:
        if rule.name == "alerts_archived" and rule.before and rule.now:
            if not dry_run:  # the alert store keeps the venues' level counters right
                return self.alerts.archive_before(before=rule.before, now=rule.now)
            venues = self.stats.source.venue_timezones()
            return cleanup.count_unarchived(self.dynamo, venues, before=rule.before)
        if rule.name == "failed_emails_deleted" and rule.before:
            return cleanup.purge_failed_emails(self.dynamo, before=rule.before, dry_run=dry_run)
        if dry_run:
            return self.source.count(rule)
        return self.source.apply(rule, batch=batch)

    def thin_stats(self, *, now: datetime, dry_run: bool = False) -> int:
        if dry_run:
            return self.stats.count_thinned(now=now, lookback=None)
        return self.stats.thin(now=now, lookback=None)


class DynamoMonthlyStatsStore:
    """Monthly rollups stay in SQL; only `responses_sent` counts replies, which live here."""

    def __init__(self, dynamo: Dynamo, *, source: SqlMonthlyStatsStore) -> None:
        self.dynamo = dynamo
        self.source = source

    def sources(self) -> list[dict[str, Any]]:
        return self.source.sources()

    def stored_months(self) -> set[tuple[str, str]]:
        return self.source.stored_months()

    def counts(
        self, venue_ids: Sequence[str], *, start: datetime, end: datetime
    ) -> dict[str, dict[str, int]]:
        """The feedback counts from SQL, replies sent in [start, end) from DynamoDB (one
        COUNT Query per venue)."""
        out = self.source.counts(venue_ids, start=start, end=end)
        for venue_id in venue_ids:
            out[venue_id]["responses_sent"] = sent_between(
                self.dynamo, str(venue_id), start, end - JUST_BEFORE
            )
        return out

    def save(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return self.source.save(rows)

    def list_for_venue(self, venue_id: str, *, limit: int) -> list[dict[str, Any]]:
        return self.source.list_for_venue(venue_id, limit=limit)
