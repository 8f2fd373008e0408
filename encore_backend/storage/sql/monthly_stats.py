"""Monthly rollups (`encore_monthly_stats`): grouped counts per venue and local month.

Venues in the same timezone share month bounds, so a month is read with one grouped statement
per (bounds, chunk of venues): a range scan of ix_feedback_stats per venue, never a whole table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, tuple_

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.stats_aggregate import count_if

MS, F, R, V = m.monthly_stats.c, m.feedback.c, m.ai_responses.c, m.venues.c
IN_CHUNK = 500
SAVE_BATCH = 1000
COUNT_FIELDS = (
    "feedback_count",
    "rating_sum",
    "positive_count",
    "responded_count",
    "response_seconds_sum",
    "responses_sent",
)


@raises_port_errors
class SqlMonthlyStatsStore:
    """Reads the sources of monthly rollups and writes the rollups."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sources(self) -> list[dict[str, Any]]:
        """Every venue with its timezone and its first feedback time (None without feedback)."""
        first = (
            select(F.venue_id, func.min(F.created_at).label("first_at"))
            .group_by(F.venue_id)
            .subquery()
        )
        query = select(V.venue_id, V.timezone, first.c.first_at).select_from(
            m.venues.outerjoin(first, first.c.venue_id == V.venue_id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def stored_months(self) -> set[tuple[str, str]]:
        with self.engine.connect() as conn:
            return {(r.venue_id, r.month) for r in conn.execute(select(MS.venue_id, MS.month))}

    def counts(
        self, venue_ids: Sequence[str], *, start: datetime, end: datetime
    ) -> dict[str, dict[str, int]]:
        """COUNT_FIELDS per venue over [start, end): two grouped statements per chunk."""
        out = {v: dict.fromkeys(COUNT_FIELDS, 0) for v in venue_ids}
        with self.engine.connect() as conn:
            for i in range(0, len(venue_ids), IN_CHUNK):
                chunk = list(venue_ids[i : i + IN_CHUNK])
                for query in (_feedback_counts(chunk, start, end), _sent(chunk, start, end)):
                    for row in conn.execute(query):
                        values = row._mapping
                        out[values["venue_id"]].update(
                            {k: int(v or 0) for k, v in values.items() if k != "venue_id"}
                        )
        return out

    def save(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Replace the rollups of these (venue, month) keys, SAVE_BATCH rows per transaction."""
        for i in range(0, len(rows), SAVE_BATCH):
            batch = [dict(r) for r in rows[i : i + SAVE_BATCH]]
            keys = [(r["venue_id"], r["month"]) for r in batch]
            with self.engine.begin() as conn:
                conn.execute(delete(m.monthly_stats).where(tuple_(MS.venue_id, MS.month).in_(keys)))
                conn.execute(insert(m.monthly_stats), batch)
        return len(rows)

    def list_for_venue(self, venue_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The venue's newest `limit` months, oldest first."""
        query = (
            select(m.monthly_stats)
            .where(MS.venue_id == venue_id)
            .order_by(MS.month.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        return rows[::-1]


def _feedback_counts(venue_ids: list[str], start: datetime, end: datetime) -> Any:
    return (
        select(
            F.venue_id,
            func.count(F.rating).label("feedback_count"),
            func.sum(F.rating).label("rating_sum"),
            count_if(F.rating >= 4).label("positive_count"),
            func.count(F.response_seconds).label("responded_count"),
            func.sum(F.response_seconds).label("response_seconds_sum"),
        )
        .where(F.venue_id.in_(venue_ids), F.created_at >= start, F.created_at < end)
        .group_by(F.venue_id)
    )


def _sent(venue_ids: list[str], start: datetime, end: datetime) -> Any:
    return (
        select(R.venue_id, func.count().label("responses_sent"))
        .where(R.venue_id.in_(venue_ids), R.sent_at >= start, R.sent_at < end)
        .group_by(R.venue_id)
    )
