"""Counts for /metrics that no other store offers (read at scrape time, index-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only

R, Q = m.ai_responses.c, m.email_queue.c


@raises_port_errors
class SqlOpsCountStore:
    """Read-only operational counts across tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replies_by_status(self) -> dict[str, int]:
        """AI replies per status (`failed` counts provider errors that gave up)."""
        query = select(R.status, func.count()).group_by(R.status)
        with read_only(self.engine) as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def failed_emails(self, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest failed queue items of every venue (the admin console's requeue list)."""
        query = (
            select(Q.queue_id, Q.venue_id, Q.customer_email, Q.scheduled_send_time, Q.error)
            .where(Q.status == "failed")
            .order_by(Q.scheduled_send_time.desc())
            .limit(limit)
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
