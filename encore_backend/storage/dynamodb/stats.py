"""Computed stats snapshots in DynamoDB (`encore_computed_stats`: PK venue_id, SK computed_at).

The aggregate reads feedback and venues, so it stays with the SQL source, as does the list of
venues. Thinning keeps the SQL store's policy (stats_thinning.bands: the same bands and buckets,
the first snapshot of each bucket kept) with two key-only Queries per venue and batched deletes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from encore_backend.domain.stats_windows import StatsWindows
from encore_backend.storage.dynamodb.batching import batch_write
from encore_backend.storage.dynamodb.codec import decode, encode, iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.reply_counts import pending_by_venue, sent_between
from encore_backend.storage.dynamodb.schema import COMPUTED_STATS
from encore_backend.storage.sql.stats import SqlStatsStore
from encore_backend.storage.sql.stats_thinning import DEFAULT_LOOKBACK, Band, bands

TIMES = ("computed_at",)


class DynamoStatsStore:
    """Snapshots as items; the aggregate and the venue list from the SQL source."""

    def __init__(self, dynamo: Dynamo, source: SqlStatsStore) -> None:
        self.dynamo = dynamo
        self.source = source
        self.table = dynamo.name(COMPUTED_STATS)

    def venue_timezones(self) -> dict[str, str]:
        return self.source.venue_timezones()

    def aggregate(self, windows: Mapping[str, StatsWindows]) -> dict[str, dict[str, int]]:
        """The feedback counts from SQL; the reply counts (waiting, sent today) from the reply
        table here, which the SQL aggregate would find empty in this profile."""
        counts = self.source.aggregate(windows)
        pending = pending_by_venue(self.dynamo)
        for venue_id, window in windows.items():
            row = counts[venue_id]
            row["pending_responses"] = pending.get(str(venue_id), 0)
            row["sent_today"] = sent_between(
                self.dynamo, str(venue_id), window.today_start, window.now
            )
        return counts

    def save_snapshots(
        self, *, computed_at: datetime, stats: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """One snapshot per venue at `computed_at`, 25 per BatchWriteItem. A rerun at the same
        instant overwrites by key, and deletes the snapshot there of a venue it no longer has."""
        puts = [
            {"PutRequest": {"Item": encode(_snapshot(venue_id, computed_at, values))}}
            for venue_id, values in stats.items()
        ]
        gone = set(self.source.venue_timezones()) - {str(v) for v in stats}
        deletes = [{"DeleteRequest": {"Key": _key(v, computed_at)}} for v in sorted(gone)]
        batch_write(self.dynamo, self.table, puts + deletes)
        return len(puts)

    def thin(self, *, now: datetime, lookback: timedelta | None = DEFAULT_LOOKBACK) -> int:
        """Thin old snapshots of every venue: bounded by `lookback`, None = a full pass."""
        doomed = self._doomed(now, lookback)
        batch_write(self.dynamo, self.table, doomed)
        return len(doomed)

    def count_thinned(self, *, now: datetime, lookback: timedelta | None = None) -> int:
        """How many snapshots `thin` would delete (weekly_cleanup's dry run)."""
        return len(self._doomed(now, lookback))

    def _doomed(self, now: datetime, lookback: timedelta | None) -> list[dict[str, Any]]:
        return [
            {"DeleteRequest": {"Key": _key(venue_id, at)}}
            for venue_id in self.source.venue_timezones()
            for band in bands(now, lookback)
            for at in self._thinned(venue_id, band)
        ]

    def latest(self, venue_id: str) -> dict[str, Any] | None:
        """The venue's newest snapshot (one Query), or None before the first run."""
        items = self.dynamo.client.query(
            **self._venue(venue_id), ScanIndexForward=False, Limit=1
        ).get("Items", [])
        return _doc(items[0]) if items else None

    def history(self, venue_id: str, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
        """Snapshots oldest first: from `since` on, or else the newest `limit` ones."""
        if limit <= 0:
            return []
        if since is not None:
            params = self._venue(venue_id, "computed_at >= :since", {":since": iso(since)})
            rows = self._take(limit, **params, ScanIndexForward=True)
        else:
            rows = self._take(limit, **self._venue(venue_id), ScanIndexForward=False)
        docs = [{"computed_at": d["computed_at"], "stats": d["stats"]} for d in map(_doc, rows)]
        return docs if since is not None else docs[::-1]

    def latest_all(self) -> list[dict[str, Any]]:
        """Every venue (SQL, in id order) with its newest snapshot: one Query per venue."""
        rows = []
        for venue_id, name in self.source.venue_names().items():
            snapshot = self.latest(venue_id) or {}
            rows.append(
                {
                    "venue_id": venue_id,
                    "name": name,
                    "computed_at": snapshot.get("computed_at"),
                    "stats": snapshot.get("stats"),
                }
            )
        return rows

    # --- helpers ------------------------------------------------------------------------------

    def _venue(
        self, venue_id: str, condition: str | None = None, values: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Query parameters of one venue's snapshots, optionally narrowed on computed_at."""
        key = "venue_id = :venue" + (f" AND {condition}" if condition else "")
        encoded = {
            ":venue": {"S": str(venue_id)},
            **{k: {"S": v} for k, v in (values or {}).items()},
        }
        return {
            "TableName": self.table,
            "KeyConditionExpression": key,
            "ExpressionAttributeValues": encoded,
        }

    def _take(self, limit: int, **params: Any) -> list[Mapping[str, Any]]:
        return list(islice(self.dynamo.pages("query", **params, Limit=limit), limit))

    def _thinned(self, venue_id: str, band: Band) -> Iterator[str]:
        """computed_at of the venue's snapshots in the band that are not first in their bucket."""
        upper = iso(band.upper)
        if band.lower is None:
            params = self._venue(venue_id, "computed_at < :upper", {":upper": upper})
        else:
            between = "computed_at BETWEEN :lower AND :upper"
            params = self._venue(venue_id, between, {":lower": iso(band.lower), ":upper": upper})
        seen: set[str] = set()
        for item in self.dynamo.pages("query", **params, ProjectionExpression="computed_at"):
            at = item["computed_at"]["S"]
            if at == upper:
                continue  # BETWEEN includes its upper end; the band does not
            bucket = at[: band.bucket.chars]  # 'YYYY-MM-DDTHH' or 'YYYY-MM-DD'
            if bucket in seen:
                yield at
            seen.add(bucket)


def _key(venue_id: str, computed_at: datetime | str) -> dict[str, Any]:
    at = computed_at if isinstance(computed_at, str) else iso(computed_at)
    return {"venue_id": {"S": str(venue_id)}, "computed_at": {"S": at}}


def _snapshot(venue_id: str, computed_at: datetime, values: Mapping[str, Any]) -> dict[str, Any]:
    return {"venue_id": str(venue_id), "computed_at": computed_at, "stats": dict(values)}


def _doc(item: Mapping[str, Any]) -> dict[str, Any]:
    doc = decode(item, fields=("venue_id", "computed_at", "stats"), times=TIMES)
    return {"venue_id": doc["venue_id"], "computed_at": doc["computed_at"], "stats": doc["stats"]}
