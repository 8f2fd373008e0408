"""Emails to a venue's managers: its daily and weekly reports, and its critical alerts.

They go through the same queue, claim, rate limit and retries as customer replies. The items are
created in the transaction that stores the report or alert, one per manager address, and the
unique (report_id | alert_id, recipient) keys make reruns queue nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from encore_backend.config import Settings
from encore_backend.domain.enums import EmailKind, QueueStatus
from encore_backend.providers.email import (
    build_alert_message,
    build_escalation_message,
    build_report_message,
)
from encore_backend.providers.email.base import sender_domain

REPORT, ALERT, ESCALATION = EmailKind.REPORT, EmailKind.ALERT, EmailKind.ESCALATION
REPORT_SWITCHES = {"daily": "daily_report_enabled", "weekly": "weekly_report_enabled"}


def recipients(manager_emails: Iterable[str] | None) -> list[str]:
    """The venue's manager addresses, blanks dropped, each once (case-insensitively)."""
    seen: dict[str, str] = {}
    for address in manager_emails or []:
        address = (address or "").strip()
        if address and address.lower() not in seen:
            seen[address.lower()] = address
    return list(seen.values())


def manager_items(
    settings: Settings,
    *,
    kind: str,
    venue_id: str,
    manager_emails: Iterable[str] | None,
    now: datetime,
    **refs: Any,
) -> list[dict[str, Any]]:
    """One pending queue item per manager for a report (report_id=) or an alert (alert_id=,
    feedback_id=), due now; the Message-ID is fixed so every attempt carries the same one."""
    rows = []
    for address in recipients(manager_emails):
        queue_id = str(uuid.uuid4())
        rows.append(
            {
                "queue_id": queue_id,
                "kind": kind,
                "venue_id": venue_id,
                "customer_email": address,
                "scheduled_send_time": now,
                "status": QueueStatus.PENDING,
                "created_at": now,
                "attempts": 0,
                "message_id": f"<{queue_id}@{sender_domain(settings.email_from)}>",
                **refs,
            }
        )
    return rows


def report_items(
    settings: Settings,
    venues: Mapping[str, Mapping[str, Any]],
    reports: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
) -> list[dict[str, Any]]:
    """Queue items for these reports, to each manager of a venue that has the kind switched on
    (a venue without settings keeps the default: on). The caller picks which reports are mailed
    (report_service: each venue's newest due period only)."""
    items = []
    for report in sorted(reports, key=lambda r: (r["venue_id"], r["kind"], r["period_start"])):
        venue = venues[report["venue_id"]]
        if venue.get(REPORT_SWITCHES[report["kind"]]) is False:
            continue
        items += manager_items(
            settings,
            kind=REPORT,
            venue_id=report["venue_id"],
            manager_emails=venue.get("manager_emails"),
            now=now,
            report_id=report["report_id"],
        )
    return items


def dashboard_url(settings: Settings, venue_id: str) -> str:
    return f"{settings.encore_public_url.rstrip('/')}/venues/{venue_id}"


def manager_message(settings: Settings, item: Mapping[str, Any], *, now: datetime) -> EmailMessage:
    """The email of a claimed report or alert item (see email_queue.send_context)."""
    common = {
        "to": item["customer_email"],
        "from_addr": settings.email_from,
        "venue_name": item["venue_name"],
        "dashboard_url": dashboard_url(settings, item["venue_id"]),
        "date": now,
        "message_id": item["message_id"],
        "headers": {"X-Encore-Queue-Id": item["queue_id"]},
    }
    if item["kind"] == REPORT:
        content = item["content"]
        period = content.get("period", {})
        return build_report_message(
            **common,
            kind=item["report_kind"],
            first_day=period.get("first_day", ""),
            last_day=period.get("last_day", ""),
            content=content,
            comments=item.get("comments", {}),
        )
    if item["kind"] == ESCALATION:
        return build_escalation_message(**common, payload=item.get("payload") or {})
    return build_alert_message(
        **common,
        level=item["level"],
        title=item["title"],
        description=item["description"],
        reasons=item["reasons"] or [],
        detected_at=item["detected_at"],
        rating=item["rating"],
        comment=item["comment"],
        customer_name=item["customer_name"],
    )
