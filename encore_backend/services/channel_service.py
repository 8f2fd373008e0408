"""Notification channel use cases: list, add, remove, and send a test message now.

A test message is one synchronous POST with a short timeout, outside the outbox (nothing to
retry: the person who pressed the button sees the answer). A successful one re-enables a
channel that was disabled after repeated failures.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from encore_backend.clock import iso_z
from encore_backend.notify.channels import TEST, payload_for, ping_document
from encore_backend.notify.webhook import HTTP_CLIENT_KEY, post_at

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

TEST_TIMEOUT_SECONDS = 5.0


def status_of(channel: Mapping[str, Any]) -> str:
    """active | failing (its last pass failed) | disabled (after repeated failures)."""
    if channel.get("disabled_at") is not None:
        return "disabled"
    return "failing" if int(channel.get("consecutive_failures") or 0) > 0 else "active"


def public_channel(row: Mapping[str, Any]) -> dict[str, Any]:
    """A channel as the API shows it (times ISO-8601 with Z)."""
    return {
        "channel_id": row["channel_id"],
        "venue_id": row["venue_id"],
        "type": row["type"],
        "url": row["url"],
        "name": row["name"],
        "levels": list(row["levels"] or []),
        "status": status_of(row),
        "consecutive_failures": int(row.get("consecutive_failures") or 0),
        "failing_since": iso_z(row.get("failing_since")),
        "disabled_at": iso_z(row.get("disabled_at")),
        "last_error": row.get("last_error"),
        "last_delivered_at": iso_z(row.get("last_delivered_at")),
        "created_at": iso_z(row["created_at"]),
    }


def list_channels(ctx: Container, venue_id: str) -> list[dict[str, Any]]:
    return [public_channel(r) for r in ctx.channels.list_for_venue(venue_id)]


def create_channel(
    ctx: Container,
    *,
    venue_id: str,
    channel_type: str,
    url: str,
    levels: Sequence[str],
    name: str | None = None,
) -> dict[str, Any]:
    """Add a channel (inputs already checked: type, URL, levels)."""
    row = ctx.channels.create(
        {
            "channel_id": str(uuid.uuid4()),
            "venue_id": venue_id,
            "type": channel_type,
            "url": url,
            "name": name,
            "levels": list(dict.fromkeys(levels)),
            "created_at": ctx.clock.now(),
        }
    )
    return public_channel(row)


def channel_of(ctx: Container, venue_id: str, channel_id: str) -> dict[str, Any] | None:
    """The channel when it belongs to this venue (another venue's is None, like none)."""
    row = ctx.channels.get(channel_id)
    return row if row is not None and row["venue_id"] == venue_id else None


@dataclass(frozen=True)
class PingResult:
    ok: bool
    status_code: int | None
    error: str | None


def send_test(ctx: Container, venue: Mapping[str, Any], channel: Mapping[str, Any]) -> PingResult:
    """POST a test message to the channel once, now; a success marks it healthy again."""
    now = ctx.clock.now()
    document = ping_document(str(venue["venue_id"]), channel["channel_id"], now)
    delivery = {
        "delivery_id": str(uuid.uuid4()),
        "event": TEST,
        "channel_type": channel["type"],
        "webhook_secret": venue["webhook_secret"],
        "url": channel["url"],
        "payload": payload_for(
            channel["type"],
            venue,
            event=TEST,
            level="info",
            document=document,
            settings=ctx.settings,
        ),
    }
    injected = ctx.extras.get(HTTP_CLIENT_KEY)
    client = injected or httpx.Client(timeout=TEST_TIMEOUT_SECONDS, follow_redirects=False)
    try:
        done = post_at(client, delivery, at=now)
    finally:
        if injected is None:
            client.close()
    if done.error is None:
        ctx.channels.record_success(channel["channel_id"], now=now)
    return PingResult(done.error is None, done.status_code, done.error)
