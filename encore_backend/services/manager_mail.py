"""Emails to a venue's managers: its daily and weekly reports, its alerts, and daily digests.

They go through the same queue, claim, rate limit and retries as customer replies. The items are
created in the transaction that stores the report or alert, one per manager address that wants
it by its preference (domain/manager_prefs: dropped, due now, or deferred past quiet hours), and
the unique (report_id | alert_id | notice_key, recipient) keys make reruns queue nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from encore_backend.config import Settings
from encore_backend.domain.enums import EmailKind, QueueStatus
from encore_backend.domain.manager_prefs import Pref, delivery_time
from encore_backend.providers.email import (
    build_alert_message,
    build_digest_message,
    build_escalation_message,
    build_report_message,
    make_manager_unsubscribe_token,
    manager_unsubscribe_url,
)
from encore_backend.providers.email.base import sender_domain

REPORT, ALERT = EmailKind.REPORT, EmailKind.ALERT
ESCALATION, DIGEST = EmailKind.ESCALATION, EmailKind.DIGEST
# Without ENCORE_UNSUBSCRIBE_SECRET or ENCORE_ADMIN_TOKEN (a dev set-up), links use this key.
DEV_UNSUBSCRIBE_SECRET = "encore-dev-unsubscribe-secret"
Prefs = Mapping[str, Pref]  # lower-cased address → its stored preference (absent: standard)
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
    prefs: Prefs | None = None,
    level: str | None = None,
    timezone: str | None = None,
    **refs: Any,
) -> list[dict[str, Any]]:
    """One pending queue item per manager that wants it, for a report (report_id=, level= its
    period), an alert (alert_id=, feedback_id=, level=; None = critical) or a notice (notice_key=,
    payload=). Each is due when delivery_time says for that address (`prefs`; None: all
    standard) in the venue's `timezone`; the Message-ID is fixed so every attempt carries it."""
    rows = []
    for address in recipients(manager_emails):
        pref = (prefs or {}).get(address.lower())
        when = delivery_time(pref, kind=str(kind), level=level, now=now, tz=timezone)
        if when is None:
            continue
        queue_id = str(uuid.uuid4())
        rows.append(
            {
                "queue_id": queue_id,
                "kind": kind,
                "venue_id": venue_id,
                "customer_email": address,
                "scheduled_send_time": when,
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
    prefs: Mapping[str, Prefs] | None = None,
) -> list[dict[str, Any]]:
    """Queue items for these reports, to each manager of a venue that has the kind switched on
    (a venue without settings keeps the default: on) and wants it by its preference (`prefs`:
    venue_id → address → Pref). The caller picks which reports are mailed (report_service: each
    venue's newest due period only)."""
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
            prefs=(prefs or {}).get(report["venue_id"]),
            level=report["kind"],
            timezone=venue.get("timezone"),
            report_id=report["report_id"],
        )
    return items


def unsubscribe_secret(settings: Settings) -> str:
    """The key of unsubscribe links (the /unsubscribe pages verify with the same one)."""
    return (
        settings.encore_unsubscribe_secret or settings.encore_admin_token or DEV_UNSUBSCRIBE_SECRET
    )


def manager_unsubscribe_link(settings: Settings, venue_id: str, address: str) -> str:
    """The signed one-click link that sets this address's preference to `none`."""
    token = make_manager_unsubscribe_token(
        venue_id=venue_id, email=address, secret=unsubscribe_secret(settings)
    )
    return manager_unsubscribe_url(settings.encore_public_url, token)


def dashboard_url(settings: Settings, venue_id: str) -> str:
    return f"{settings.encore_public_url.rstrip('/')}/venues/{venue_id}"


def manager_message(settings: Settings, item: Mapping[str, Any], *, now: datetime) -> EmailMessage:
    """The email of a claimed report, alert or digest item (see email_queue.send_context), with
    RFC 8058 one-click unsubscribe headers and a visible link."""
    unsubscribe = manager_unsubscribe_link(settings, item["venue_id"], item["customer_email"])
    common = {
        "to": item["customer_email"],
        "from_addr": settings.email_from,
        "venue_name": item["venue_name"],
        "dashboard_url": dashboard_url(settings, item["venue_id"]),
        "date": now,
        "message_id": item["message_id"],
        "headers": {
            "X-Encore-Queue-Id": item["queue_id"],
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "unsubscribe_url": unsubscribe,
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
    if item["kind"] == DIGEST:
        return build_digest_message(**common, content=item["content"] or {})
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
