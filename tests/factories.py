"""Test data written straight into the tables (as another system might), independent of services."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from encore_backend.storage.sql import models as m

DEFAULT_SETTINGS: dict[str, Any] = {
    "ai_generation_enabled": True,
    "auto_generate_responses": True,
    "auto_send_enabled": False,
    "auto_send_delay_minutes": 30,
    "require_approval": False,
    "daily_report_enabled": True,
    "weekly_report_enabled": True,
    "alert_notify_min_level": "high",
    "brand_voice": None,
    "alert_keywords": {},
    "alert_rules_disabled": [],
}


def make_venue(
    engine: Engine,
    venue_id: str,
    *,
    now: datetime,
    timezone: str = "UTC",
    webhook_url: str | None = None,
    webhook_secret: str = "test-secret",
    manager_emails: list[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    with engine.begin() as conn:
        conn.execute(
            insert(m.venues).values(
                venue_id=venue_id,
                name=f"Venue {venue_id}",
                timezone=timezone,
                manager_emails=manager_emails or [f"manager@{venue_id}.example"],
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                created_at=now,
            )
        )
        values = {**DEFAULT_SETTINGS, **(settings or {})}
        conn.execute(insert(m.venue_settings).values(venue_id=venue_id, updated_at=now, **values))
    return venue_id


def make_customer(
    engine: Engine,
    *,
    now: datetime,
    email: str | None = None,
    name: str | None = "Alex",
    lifetime_value: Decimal | float | None = None,
    tier: str | None = None,
) -> int:
    email = email or f"c{secrets.token_hex(4)}@example.com"
    with engine.begin() as conn:
        result = conn.execute(
            insert(m.customers).values(
                email=email,
                name=name,
                lifetime_value=lifetime_value,
                tier=tier,
                created_at=now,
                updated_at=now,
            )
        )
        return int(result.inserted_primary_key[0])


def make_feedback(
    engine: Engine,
    venue_id: str,
    *,
    created_at: datetime,
    rating: int = 5,
    comment: str = "Lovely evening.",
    customer_id: int | None = None,
    **extra: Any,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(m.feedback).values(
                venue_id=venue_id,
                customer_id=customer_id,
                rating=rating,
                comment=comment,
                status=extra.pop("status", "new"),
                created_at=created_at,
                ingested_at=extra.pop("ingested_at", created_at),
                **extra,
            )
        )
        return int(result.inserted_primary_key[0])
