"""Venue use cases: create with a generated id and secret, read, and change settings."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from typing import Any

from encore_backend.bootstrap import Container
from encore_backend.services.errors import ConflictError
from encore_backend.storage.errors import VenueExistsError

DEFAULT_SETTINGS: dict[str, Any] = {
    "ai_generation_enabled": True,
    "auto_generate_responses": True,
    "auto_send_enabled": False,
    "require_approval": False,
    "daily_report_enabled": True,
    "weekly_report_enabled": True,
    "alert_notify_min_level": "high",
    "brand_voice": None,
    "alert_keywords": {},
    "alert_rules_disabled": [],
    "response_sla_hours": 24,
    "reply_tone": "warm",
    "reply_signature": None,
    "banned_phrases": [],
}
PUBLIC_VENUE_FIELDS = (
    "venue_id",
    "name",
    "timezone",
    "manager_emails",
    "webhook_url",
    "created_at",
)


def default_settings(ctx: Container) -> dict[str, Any]:
    """A new venue's settings; the send delay comes from DEFAULT_AUTO_SEND_DELAY_MINUTES."""
    delay = ctx.settings.default_auto_send_delay_minutes
    return {**DEFAULT_SETTINGS, "auto_send_delay_minutes": delay}


def slugify(name: str) -> str:
    """A venue id candidate from a name: ascii, lower case, dashes; never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:56].strip("-")
    return slug or "venue"


def unique_venue_id(ctx: Container, name: str) -> str:
    """`slugify(name)`, with -2, -3 … appended when taken."""
    base = slugify(name)
    taken = ctx.venues.ids_with_prefix(base)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_venue(
    ctx: Container,
    *,
    name: str,
    timezone: str,
    manager_emails: list[str],
    webhook_url: str | None = None,
    venue_id: str | None = None,
) -> dict[str, Any]:
    """Venue + settings in one transaction; ConflictError when an explicit id is taken."""
    now = ctx.clock.now()
    settings = default_settings(ctx)
    for _attempt in range(5):
        chosen = venue_id or unique_venue_id(ctx, name)
        venue = {
            "venue_id": chosen,
            "name": name,
            "timezone": timezone,
            "manager_emails": manager_emails,
            "webhook_url": webhook_url,
            "webhook_secret": secrets.token_urlsafe(32),
        }
        try:
            row = ctx.venues.create(venue=venue, settings=settings, now=now)
        except VenueExistsError:
            if venue_id is not None:
                raise ConflictError(f"venue {venue_id!r} already exists") from None
            continue  # a concurrent create took the generated id: pick the next one
        return {**row, "settings": ctx.venues.get_settings(chosen)}
    raise ConflictError(f"could not find a free venue id for {name!r}")


def public_venue(row: Mapping[str, Any]) -> dict[str, Any]:
    """The venue as GET routes show it (no webhook secret)."""
    return {key: row[key] for key in PUBLIC_VENUE_FIELDS}


def list_venues(ctx: Container, *, venue_id: str | None = None) -> list[dict[str, Any]]:
    """All venues, or only `venue_id`'s (a manager's view)."""
    rows = ctx.venues.list() if venue_id is None else ctx.venues.list([venue_id])
    return [public_venue(r) for r in rows]


def update_settings(
    ctx: Container, *, venue_id: str, changes: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Apply validated changes; an empty change set just returns the current settings."""
    if not changes:
        return ctx.venues.get_settings(venue_id)
    return ctx.venues.update_settings(venue_id, changes, now=ctx.clock.now())
