"""A venue's notification channels (Slack, Teams, signed webhook) and how their deliveries went.

Channels live in SQL in every profile (ENCORE_DERIVED_STORE=dynamodb included): they are
configuration, read with the venue, and their deliveries are SQL outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from encore_backend.domain.enums import DeliveryStatus
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only

C = m.notification_channels.c
D = m.webhook_deliveries.c
DISABLED_ERROR = "channel disabled after repeated failures"


@raises_port_errors
class SqlChannelStore:
    """The `notification_channels` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list_for_venue(self, venue_id: str) -> list[dict[str, Any]]:
        """The venue's channels, oldest first."""
        query = (
            select(m.notification_channels)
            .where(C.venue_id == venue_id)
            .order_by(C.created_at, C.channel_id)
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def active_for_venues(self, venue_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The channels not disabled of these venues, by venue (one query per scan batch)."""
        if not venue_ids:
            return {}
        query = (
            select(m.notification_channels)
            .where(C.venue_id.in_(sorted(set(venue_ids))), C.disabled_at.is_(None))
            .order_by(C.created_at, C.channel_id)
        )
        found: dict[str, list[dict[str, Any]]] = {}
        with read_only(self.engine) as conn:
            for r in conn.execute(query):
                found.setdefault(r.venue_id, []).append(dict(r._mapping))
        return found

    def failing(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """Channels failing or disabled, with their venue's name, longest failing first."""
        query = (
            select(m.notification_channels, m.venues.c.name.label("venue_name"))
            .join(m.venues, m.venues.c.venue_id == C.venue_id)
            .where((C.consecutive_failures > 0) | C.disabled_at.is_not(None))
            .order_by(C.failing_since, C.channel_id)
            .limit(limit)
        )
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def get(self, channel_id: str) -> dict[str, Any] | None:
        query = select(m.notification_channels).where(C.channel_id == channel_id)
        with read_only(self.engine) as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def create(self, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a channel (channel_id, venue_id, type, url, name, levels, created_at)."""
        with self.engine.begin() as conn:
            conn.execute(insert(m.notification_channels).values(**values))
        created = self.get(values["channel_id"])
        assert created is not None
        return created

    def delete(self, channel_id: str) -> bool:
        """Remove a channel and its deliveries (pending ones included: nothing more is sent)."""
        with self.engine.begin() as conn:
            conn.execute(delete(m.webhook_deliveries).where(D.channel_id == channel_id))
            result = conn.execute(delete(m.notification_channels).where(C.channel_id == channel_id))
        return int(result.rowcount) == 1

    def record_success(self, channel_id: str, *, now: datetime) -> None:
        """A delivered pass (or a test message): the channel is healthy and enabled again."""
        with self.engine.begin() as conn:
            conn.execute(
                update(m.notification_channels)
                .where(C.channel_id == channel_id)
                .values(
                    consecutive_failures=0,
                    failing_since=None,
                    disabled_at=None,
                    last_error=None,
                    last_delivered_at=now,
                )
            )

    def record_failure(
        self,
        channel_id: str,
        *,
        now: datetime,
        error: str,
        max_failures: int,
        max_failing: timedelta,
    ) -> bool:
        """Count a failed pass; disable the channel after `max_failures` passes in a row or
        `max_failing` of failure, failing its pending deliveries. True when this disabled it."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(C.consecutive_failures, C.failing_since, C.disabled_at)
                .where(C.channel_id == channel_id)
                .with_for_update()
            ).first()
            if row is None:
                return False
            failures = int(row.consecutive_failures) + 1
            since = row.failing_since or now
            disable = row.disabled_at is None and (
                failures >= max_failures or now - since >= max_failing
            )
            values: dict[str, Any] = {
                "consecutive_failures": failures,
                "failing_since": since,
                "last_error": error[:1000],
            }
            if disable:
                values["disabled_at"] = now
            conn.execute(
                update(m.notification_channels).where(C.channel_id == channel_id).values(**values)
            )
            if disable:
                conn.execute(
                    update(m.webhook_deliveries)
                    .where(
                        D.channel_id == channel_id,
                        D.status == DeliveryStatus.PENDING.value,
                    )
                    .values(
                        status=DeliveryStatus.FAILED.value,
                        next_attempt_at=None,
                        last_error=DISABLED_ERROR,
                    )
                )
        return disable
