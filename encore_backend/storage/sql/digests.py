"""The SQL facts of a manager's daily digest: feedback received and answered in its 24 hours, and
the bad feedback still without a sent reply (feedback.responded_at is set in every profile)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only

F = m.feedback.c


@raises_port_errors
class SqlDigestSource:
    """Counts of `feedback` for one venue's digest (its unanswered list is the response
    deadline's: services/sla_service.still_unanswered)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def feedback_facts(self, venue_id: str, *, since: datetime, until: datetime) -> dict[str, int]:
        venue = F.venue_id == str(venue_id)
        received = select(func.count()).where(venue, F.created_at >= since, F.created_at < until)
        answered = select(func.count()).where(
            venue, F.responded_at >= since, F.responded_at < until
        )
        with read_only(self.engine) as conn:
            return {
                "feedback": int(conn.execute(received).scalar_one()),
                "replies": int(conn.execute(answered).scalar_one()),
            }
