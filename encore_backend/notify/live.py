"""Live alert events for open dashboards: server-sent events fed by polling the database.

Polling (each second) rather than an in-process bus, so alerts created by any process — another
API node, a worker, the periodic scan — reach every dashboard. Alerts are found by detected_at
with a look-back, so one committed a little late by a slower scanner is still sent, once.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from encore_backend.notify.webhook import EVENT
from encore_backend.services.alert_service import public_alert

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

LOOKBACK = timedelta(minutes=10)
KEEPALIVE_SECONDS = 15.0


def sse_event(alert: Mapping[str, Any]) -> str:
    """One `alert.created` event: id, event name and the alert document as data."""
    data = json.dumps(alert, separators=(",", ":"))
    return f"id: {alert['alert_id']}\nevent: {EVENT}\ndata: {data}\n\n"


class AlertFeed:
    """The poll state of one subscriber: a cursor and the ids already sent."""

    def __init__(self, ctx: Container, venue_id: str, since: datetime | None) -> None:
        self.ctx = ctx
        self.venue_id = venue_id
        self.floor = since
        self.cursor = since or ctx.clock.now()
        self.sent: dict[str, datetime] = {}

    def skip_existing(self) -> None:
        """Without `since`, alerts already there count as seen: only new ones stream."""
        for row in self.ctx.alerts.list_for_venue(self.venue_id, include_archived=True, limit=500):
            self.sent[row["alert_id"]] = row["detected_at"]
            self.cursor = max(self.cursor, row["detected_at"])

    def poll(self) -> list[dict[str, Any]]:
        """Alerts not sent yet, oldest first."""
        start = self.cursor - LOOKBACK
        if self.floor is not None:
            start = max(start, self.floor)
        fresh = []
        for row in self.ctx.alerts.list_since(self.venue_id, since=start, limit=200):
            if row["alert_id"] not in self.sent:
                self.sent[row["alert_id"]] = row["detected_at"]
                self.cursor = max(self.cursor, row["detected_at"])
                fresh.append(public_alert(row))
        horizon = self.cursor - LOOKBACK
        self.sent = {k: t for k, t in self.sent.items() if t >= horizon}
        return fresh


async def alert_events(
    ctx: Container,
    venue_id: str,
    *,
    since: datetime | None = None,
    max_seconds: float = 300.0,
    poll_seconds: float = 1.0,
) -> AsyncIterator[str]:
    """SSE text for one venue until `max_seconds` pass (the browser's EventSource reconnects)."""
    feed = AlertFeed(ctx, venue_id, since)
    if since is None:
        await anyio.to_thread.run_sync(feed.skip_existing)
    yield f"retry: {int(poll_seconds * 1000) + 1000}\n: connected\n\n"
    deadline = time.monotonic() + max_seconds
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        for alert in await anyio.to_thread.run_sync(feed.poll):
            quiet_since = time.monotonic()
            yield sse_event(alert)
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await anyio.sleep(poll_seconds)
