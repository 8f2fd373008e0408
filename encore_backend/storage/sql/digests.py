"""The SQL facts of a manager's daily digest: feedback received and answered in its 24 hours, and
the bad feedback still without a sent reply (feedback.responded_at is set in every profile)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from encore_backend.domain.response_deadline import BAD_RATING
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.escalations import answerable

F, C = m.feedback.c, m.customers.c

UNANSWERED_LISTED = 20


@raises_port_errors
class SqlDigestSource:
    """Reads of `feedback` (with the customer's name) for one venue's digest."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def feedback_facts(
        self, venue_id: str, *, since: datetime, until: datetime, backlog_since: datetime
    ) -> dict[str, Any]:
        venue = F.venue_id == str(venue_id)
        received = select(func.count()).where(venue, F.created_at >= since, F.created_at < until)
        answered = select(func.count()).where(
            venue, F.responded_at >= since, F.responded_at < until
        )
        bad = and_(
            venue,
            F.rating <= BAD_RATING,
            F.responded_at.is_(None),
            answerable(),
            F.created_at >= backlog_since,
            F.created_at < until,
        )
        unanswered = (
            select(
                F.feedback_id,
                F.rating,
                F.comment,
                F.created_at,
                F.escalated_at,
                C.name.label("customer_name"),
            )
            .select_from(m.feedback.outerjoin(m.customers, C.customer_id == F.customer_id))
            .where(bad)
            .order_by(F.created_at, F.feedback_id)
            .limit(UNANSWERED_LISTED)
        )
        with read_only(self.engine) as conn:
            return {
                "feedback": int(conn.execute(received).scalar_one()),
                "replies": int(conn.execute(answered).scalar_one()),
                "unanswered_count": int(conn.execute(select(func.count()).where(bad)).scalar_one()),
                "unanswered": [dict(r._mapping) for r in conn.execute(unanswered)],
            }
