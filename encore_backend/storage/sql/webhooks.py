"""Webhook deliveries (the outbox rows the alert scan writes) and the log of every HTTP try.

A delivery's `attempts` counts the passes that tried it (one claim each); `webhook_attempts`
holds one row per HTTP try, so a pass that retried within itself logs several.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from encore_backend.domain.enums import DeliveryStatus
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only

D = m.webhook_deliveries.c


@raises_port_errors
class SqlWebhookStore:
    """The `webhook_deliveries` and `webhook_attempts` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        query = select(m.webhook_deliveries).where(D.delivery_id == delivery_id)
        with read_only(self.engine) as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def list_for_alert(self, alert_id: str) -> list[dict[str, Any]]:
        query = select(m.webhook_deliveries).where(D.alert_id == alert_id).order_by(D.created_at)
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        """Every attempt of one delivery, oldest first."""
        t = m.webhook_attempts.c
        query = (
            select(m.webhook_attempts)
            .where(t.delivery_id == delivery_id)
            .order_by(t.attempted_at, t.attempt_id)
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def due(
        self, *, now: datetime, limit: int = 50, delivery_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Pending deliveries whose next attempt is due, with the venue's current secret and
        their channel's type (`channel_type`, None for the venue's own webhook_url); those of
        a disabled channel are skipped (disabling fails them)."""
        channels = m.notification_channels.c
        query = (
            select(
                m.webhook_deliveries,
                m.venues.c.webhook_secret,
                channels.type.label("channel_type"),
            )
            .join(m.venues, m.venues.c.venue_id == D.venue_id)
            .outerjoin(m.notification_channels, channels.channel_id == D.channel_id)
            .where(
                D.status == DeliveryStatus.PENDING.value,
                D.next_attempt_at <= now,
                channels.disabled_at.is_(None),
            )
            .order_by(D.next_attempt_at, D.delivery_id)
            .limit(limit)
        )
        if delivery_ids is not None:
            query = query.where(D.delivery_id.in_(list(delivery_ids)))
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def claim(self, delivery_id: str, *, now: datetime, lease_until: datetime) -> bool:
        """Take a due delivery for one attempt; False when another process took it first.

        The claim pushes next_attempt_at to `lease_until`, so a process that dies mid-POST
        leaves the delivery to be retried once the lease has passed.
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                update(m.webhook_deliveries)
                .where(
                    D.delivery_id == delivery_id,
                    D.status == DeliveryStatus.PENDING.value,
                    D.next_attempt_at <= now,
                )
                .values(next_attempt_at=lease_until)
            )
        return result.rowcount == 1

    def record_attempt(
        self,
        delivery_id: str,
        *,
        now: datetime,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        next_attempt_at: datetime | None,
    ) -> None:
        """Log the pass's last try and move the delivery on (delivered, retry later, failed)."""
        with self.engine.begin() as conn:
            _log_try(conn, delivery_id, now, status_code, error, duration_ms)
            conn.execute(
                update(m.webhook_deliveries)
                .where(D.delivery_id == delivery_id)
                .values(
                    attempts=D.attempts + 1,
                    status=status.value,
                    next_attempt_at=next_attempt_at,
                    last_status_code=status_code,
                    last_error=error,
                    delivered_at=now if status == DeliveryStatus.DELIVERED else None,
                )
            )

    def log_try(
        self,
        delivery_id: str,
        *,
        now: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
    ) -> None:
        """Log a failed try that the same pass retries (the delivery stays claimed)."""
        with self.engine.begin() as conn:
            _log_try(conn, delivery_id, now, status_code, error, duration_ms)

    def count_by_status(self) -> dict[str, int]:
        """Delivery counts per status (for metrics)."""
        query = select(D.status, func.count()).group_by(D.status)
        with read_only(self.engine) as conn:
            return {status: int(n) for status, n in conn.execute(query)}


def _log_try(
    conn: Connection,
    delivery_id: str,
    now: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    conn.execute(
        insert(m.webhook_attempts).values(
            delivery_id=delivery_id,
            attempted_at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
