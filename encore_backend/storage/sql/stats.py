"""Computed stats: the aggregate (stats_aggregate), the snapshot table and its thinning."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, func, insert, select

from encore_backend.domain.stats_windows import StatsWindows
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.stats_aggregate import aggregate_counts
from encore_backend.storage.sql.stats_thinning import DEFAULT_LOOKBACK, thin_snapshots

# Built once: the dashboard's hot read pays only for the index seek, not for query building.
LATEST_SNAPSHOT = (
    select(m.computed_stats.c.venue_id, m.computed_stats.c.computed_at, m.computed_stats.c.stats)
    .where(m.computed_stats.c.venue_id == bindparam("venue_id"))
    .order_by(m.computed_stats.c.computed_at.desc())
    .limit(1)
)


@raises_port_errors
class SqlStatsStore:
    """The stats aggregate and the `encore_computed_stats` snapshots."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def venue_timezones(self) -> dict[str, str]:
        """Every venue's id and timezone name."""
        v = m.venues.c
        with read_only(self.engine) as conn:
            return {r.venue_id: r.timezone for r in conn.execute(select(v.venue_id, v.timezone))}

    def venue_names(self) -> dict[str, str]:
        """Every venue's id and name, in id order (the DynamoDB store lists venues from here)."""
        v = m.venues.c
        query = select(v.venue_id, v.name).order_by(v.venue_id)
        with read_only(self.engine) as conn:
            return {r.venue_id: r.name for r in conn.execute(query)}

    def aggregate(self, windows: Mapping[str, StatsWindows]) -> dict[str, dict[str, int]]:
        """Raw counts per venue for the given windows, in a fixed number of statements."""
        with self.engine.begin() as conn:
            return aggregate_counts(conn, windows)

    def save_snapshots(
        self, *, computed_at: datetime, stats: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """Store one snapshot per venue at `computed_at`; a rerun at the same instant replaces."""
        c = m.computed_stats.c
        rows = [
            {"venue_id": venue_id, "computed_at": computed_at, "stats": dict(values)}
            for venue_id, values in stats.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(delete(m.computed_stats).where(c.computed_at == computed_at))
            if rows:
                conn.execute(insert(m.computed_stats), rows)
        return len(rows)

    def thin(self, *, now: datetime, lookback: timedelta | None = DEFAULT_LOOKBACK) -> int:
        """Thin old snapshots (see stats_thinning): bounded by `lookback`, None = a full pass."""
        with self.engine.begin() as conn:
            return thin_snapshots(conn, now=now, lookback=lookback)

    def latest(self, venue_id: str) -> dict[str, Any] | None:
        """The venue's newest snapshot, or None before the first run."""
        with read_only(self.engine) as conn:
            row = conn.execute(LATEST_SNAPSHOT, {"venue_id": venue_id}).first()
        return dict(row._mapping) if row else None

    def history(self, venue_id: str, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
        """Snapshots oldest first: from `since` on, or else the newest `limit` ones."""
        c = m.computed_stats.c
        query = select(c.computed_at, c.stats).where(c.venue_id == venue_id)
        if since is not None:
            query = query.where(c.computed_at >= since).order_by(c.computed_at.asc())
        else:
            query = query.order_by(c.computed_at.desc())
        with read_only(self.engine) as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.limit(limit))]
        return rows if since is not None else rows[::-1]

    def latest_all(self) -> list[dict[str, Any]]:
        """Every venue with its newest snapshot (None before its first): one index seek each."""
        v, c = m.venues.c, m.computed_stats.c
        newer = m.computed_stats.alias("newer")
        newest_at = (
            select(func.max(newer.c.computed_at))
            .where(newer.c.venue_id == v.venue_id)
            .scalar_subquery()
        )
        join = m.venues.outerjoin(
            m.computed_stats, and_(c.venue_id == v.venue_id, c.computed_at == newest_at)
        )
        query = (
            select(v.venue_id, v.name, c.computed_at, c.stats)
            .select_from(join)
            .order_by(v.venue_id)
        )
        keys = ("venue_id", "name", "computed_at", "stats")
        with read_only(self.engine) as conn:  # tuples: a Row mapping per venue cost a third
            return [dict(zip(keys, row, strict=True)) for row in conn.execute(query).tuples()]
