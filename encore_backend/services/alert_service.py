"""Alert use cases: the detector's batched scan, and reads / read / acknowledge for the API.

The scan cursor is feedback.alert_scanned_at (NULL = not scanned), so every row is looked at once,
whoever wrote it. A batch costs a fixed number of queries: load (feedback joined with customer and
venue settings), the customers' recent low ratings, and one write transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.clock import as_utc, iso_z
from encore_backend.domain.alert_rules import (
    LOW_RATING,
    REPEAT_WINDOW,
    AlertDraft,
    FeedbackFacts,
    assess,
    venue_rules,
)
from encore_backend.domain.enums import AlertLevel
from encore_backend.notify.channels import ALERT_CREATED, ID_NAMESPACE, deliveries_for
from encore_backend.notify.channels import delivery_id_for as delivery_id_for
from encore_backend.services.manager_mail import ALERT, Prefs, manager_items
from encore_backend.storage.ports import SavedScan

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.alerts")

BATCH_SIZE = 500
ALERT_EMAIL_MAX_AGE = timedelta(days=1)  # older feedback raises its alert but mails no manager
MAILED_LEVELS = (AlertLevel.CRITICAL, AlertLevel.HIGH)  # high: to `immediate` managers only
PUBLIC_FIELDS = ("alert_id", "venue_id", "feedback_id", "level", "title", "description", "reasons")
History = dict[tuple[int, str], list[tuple[datetime, int]]]
# Alert and delivery ids derive from the feedback (ID_NAMESPACE, notify/channels.py): a scan
# rerun after a crash between its DynamoDB and SQL commits (ENCORE_DERIVED_STORE=dynamodb) finds
# its own alert, and its deliveries are stored once.


def alert_id_for(feedback_id: int) -> str:
    """The id of the one alert a feedback may raise."""
    return str(uuid.uuid5(ID_NAMESPACE, f"alert:{feedback_id}"))


@dataclass
class ScanReport:
    """What one detector pass did."""

    scanned: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    delivery_ids: list[str] = field(default_factory=list)

    def add(self, saved: SavedScan) -> None:
        self.scanned += saved.marked
        self.alerts.extend(saved.alerts)
        self.delivery_ids.extend(saved.delivery_ids)


def public_alert(row: Mapping[str, Any]) -> dict[str, Any]:
    """The alert document of SPEC §6, times as ISO-8601 with Z."""
    doc = {k: row[k] for k in PUBLIC_FIELDS}
    doc["feedback_id"] = int(row["feedback_id"])
    doc["detected_at"] = iso_z(row["detected_at"])
    doc["is_read"] = bool(row["is_read"])
    doc["acknowledged_by"] = row["acknowledged_by"]
    doc["acknowledged_at"] = iso_z(row["acknowledged_at"])
    doc["archived_at"] = iso_z(row.get("archived_at"))
    doc["escalated_at"] = iso_z(row.get("escalated_at"))
    return doc


def detect(
    ctx: Container,
    *,
    now: datetime,
    feedback_ids: Sequence[int] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ScanReport:
    """Scan unscanned feedback (all, or only `feedback_ids`) in batches; create alerts."""
    report = ScanReport()
    after_id = 0
    while True:
        rows = ctx.alerts.unscanned(limit=batch_size, after_id=after_id, feedback_ids=feedback_ids)
        if not rows:
            break
        report.add(scan_batch(ctx, rows, now=now))
        after_id = int(rows[-1]["feedback_id"])
        if len(rows) < batch_size:
            break
    return report


def scan_batch(ctx: Container, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> SavedScan:
    """Evaluate one loaded batch and write its alerts, deliveries and scan marks."""
    history = low_rating_history(ctx, rows)
    prefs = PrefsOnce(ctx)
    found: list[tuple[Mapping[str, Any], dict[str, Any]]] = []
    emails: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        draft = assess(facts_of(row, history), rules_of(ctx, row))
        if draft is None:
            continue
        alert = alert_row(row, draft, now=now)
        found.append((row, alert))
        if draft.level in MAILED_LEVELS and is_recent(row, now):
            prefs.load(rows)
            mail = alert_emails(ctx, row, alert, now=now, prefs=prefs.of(row["venue_id"]))
            if mail:
                emails[alert["alert_id"]] = mail
    deliveries = alert_deliveries(ctx, found, now=now)
    ids = [int(r["feedback_id"]) for r in rows]
    return ctx.alerts.save_scan(
        feedback_ids=ids,
        alerts=[alert for _, alert in found],
        deliveries=deliveries,
        now=now,
        emails=emails,
    )


def alert_deliveries(
    ctx: Container, found: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], *, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Each new alert's outbox rows (venue webhook and channels); the channels of the batch's
    venues are read once, and only when the batch raised an alert."""
    if not found:
        return {}
    channels = ctx.channels.active_for_venues([row["venue_id"] for row, _ in found])
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for row, alert in found:
        rows = delivery_rows(ctx, row, alert, channels.get(row["venue_id"], []), now=now)
        if rows:
            deliveries[alert["alert_id"]] = rows
    return deliveries


def delivery_rows(
    ctx: Container,
    row: Mapping[str, Any],
    alert: Mapping[str, Any],
    channels: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
) -> list[dict[str, Any]]:
    """Pending outbox rows of one alert: bodies are fixed now, so retries send the same bytes."""
    return deliveries_for(
        row,
        channels,
        event=ALERT_CREATED,
        level=str(alert["level"]),
        document=public_alert(alert),
        alert_id=alert["alert_id"],
        feedback_id=int(alert["feedback_id"]),
        now=now,
        settings=ctx.settings,
        feedback={"rating": row.get("rating"), "comment": row.get("comment")},
    )


def is_recent(row: Mapping[str, Any], now: datetime) -> bool:
    """Feedback new enough for a manager to act on today: imported history is not mailed."""
    return as_utc(row["created_at"]) >= now - ALERT_EMAIL_MAX_AGE


class PrefsOnce:
    """The manager preferences of a batch's venues, read once and only when an alert mails."""

    def __init__(self, ctx: Container) -> None:
        self.ctx = ctx
        self.loaded: Mapping[str, Prefs] | None = None

    def load(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if self.loaded is None:
            self.loaded = self.ctx.manager_prefs.for_venues({r["venue_id"] for r in rows})

    def of(self, venue_id: str) -> Prefs:
        return (self.loaded or {}).get(venue_id, {})


def alert_emails(
    ctx: Container,
    row: Mapping[str, Any],
    alert: Mapping[str, Any],
    *,
    now: datetime,
    prefs: Prefs | None = None,
) -> list[dict[str, Any]]:
    """A critical or high alert's email to each of the venue's managers that wants it (SPEC §7,
    manager preferences: critical to all but weekly/none, high to `immediate` only), at once or
    at the end of the address's quiet hours."""
    return manager_items(
        ctx.settings,
        kind=ALERT,
        venue_id=alert["venue_id"],
        manager_emails=row["manager_emails"],
        now=now,
        prefs=prefs,
        level=alert["level"],
        timezone=row.get("timezone"),
        alert_id=alert["alert_id"],
        feedback_id=alert["feedback_id"],
    )


def low_rating_history(ctx: Container, rows: Sequence[Mapping[str, Any]]) -> History:
    """(customer, venue) → [(created_at, feedback_id)] of ratings ≤ 2 the batch may repeat."""
    low = [r for r in rows if r["customer_id"] is not None and r["rating"] <= LOW_RATING]
    if not low:
        return {}
    found = ctx.alerts.low_ratings(
        customer_ids=[int(r["customer_id"]) for r in low],
        since=min(r["created_at"] for r in low) - REPEAT_WINDOW,
        until=max(r["created_at"] for r in low),
    )
    history: History = defaultdict(list)
    for h in found:
        history[(int(h["customer_id"]), h["venue_id"])].append(
            (h["created_at"], int(h["feedback_id"]))
        )
    return history


def facts_of(row: Mapping[str, Any], history: History) -> FeedbackFacts:
    """The rule inputs of one loaded row; "earlier" orders by (created_at, feedback_id)."""
    me = (row["created_at"], int(row["feedback_id"]))
    earlier: tuple[datetime, ...] = ()
    if row["customer_id"] is not None:
        key = (int(row["customer_id"]), row["venue_id"])
        earlier = tuple(t for t, fid in history.get(key, ()) if (t, fid) < me)
    return FeedbackFacts(
        rating=int(row["rating"]),
        comment=row["comment"] or "",
        created_at=row["created_at"],
        lifetime_value=row["lifetime_value"],
        tier=row["tier"],
        earlier_low_ratings=earlier,
    )


def rules_of(ctx: Container, row: Mapping[str, Any]) -> Any:
    return venue_rules(
        min_spend=ctx.settings.high_value_customer_min_spend,
        alert_keywords=row["alert_keywords"],
        alert_rules_disabled=row["alert_rules_disabled"],
    )


def alert_row(row: Mapping[str, Any], draft: AlertDraft, *, now: datetime) -> dict[str, Any]:
    return {
        "alert_id": alert_id_for(int(row["feedback_id"])),
        "venue_id": row["venue_id"],
        "feedback_id": int(row["feedback_id"]),
        "level": draft.level,
        "title": draft.title,
        "description": draft.description,
        "reasons": draft.reasons,
        "detected_at": now,
        "is_read": False,
        "acknowledged_by": None,
        "acknowledged_at": None,
    }


# --- reads and acknowledgement (API) ------------------------------------------------------


def list_alerts(
    ctx: Container,
    *,
    venue_id: str,
    is_read: bool | None = None,
    level: str | None = None,
    limit: int = 100,
    include_archived: bool = False,
) -> list[dict[str, Any]]:
    rows = ctx.alerts.list_for_venue(
        venue_id, is_read=is_read, level=level, limit=limit, include_archived=include_archived
    )
    return [public_alert(r) for r in rows]


def mark_read(ctx: Container, *, alert_id: str) -> dict[str, Any] | None:
    row = ctx.alerts.mark_read(alert_id)
    return public_alert(row) if row else None


def acknowledge(ctx: Container, *, alert_id: str, by: str) -> dict[str, Any] | None:
    """Acknowledge now (the first acknowledgement is kept); also marks the alert read."""
    row = ctx.alerts.acknowledge(alert_id, by, ctx.clock.now())
    return public_alert(row) if row else None
