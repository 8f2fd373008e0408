"""Venue dashboard reads: feedback count and rating sum per UTC hour, and the newest feedback.

Small per-venue queries on the index ix_feedback_stats (venue_id, created_at, …), not the heavy
all-venue stats aggregate; callers fold the hours into the venue's local days.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.stats_thinning import hour_bucket

F = m.feedback.c


@raises_port_errors
class SqlTrendStore:
    """Hourly feedback counts per venue, read for dashboard charts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def hourly_feedback(
        self, venue_id: str, *, since: datetime, until: datetime
    ) -> list[tuple[datetime, int, int]]:
        """(UTC hour start, feedback count, rating sum) for feedback created in [since, until)."""
        hour = hour_bucket(F.created_at)
        query = (
            select(hour, func.count(), func.sum(F.rating))
            .where(F.venue_id == venue_id, F.created_at >= since, F.created_at < until)
            .group_by(hour)
        )
        with read_only(self.engine) as conn:
            rows = conn.execute(query).all()
        return [(_hour_start(text), int(n), int(total or 0)) for text, n, total in rows]

    def recent_feedback(self, venue_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The venue's newest feedback by creation time (ids follow ingestion, not creation)."""
        query = (
            select(F.feedback_id, F.rating, F.comment, F.status, F.created_at)
            .where(F.venue_id == venue_id)
            .order_by(F.created_at.desc(), F.feedback_id.desc())
            .limit(limit)
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _hour_start(text: str) -> datetime:
    """'YYYY-MM-DD HH' (any backend's bucket text) as an aware UTC datetime."""
    return datetime.strptime(text[:13], "%Y-%m-%d %H").replace(tzinfo=UTC)
