"""The escalation email to a venue's managers: bad feedback still unanswered past its deadline.

Built from the snapshot stored with the queue item (its `payload`), so the email says what was
true when the deadline passed, whoever sends it and however late.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from encore_backend.clock import as_utc
from encore_backend.providers.email.manager_messages import LEVEL_COLOURS, NEUTRAL, iso_time
from encore_backend.providers.email.message import templated_message


def overdue_text(hours: float) -> str:
    """'45 min', '3 h', '2 days 4 h': how long past the deadline, for people."""
    minutes = max(0, round(hours * 60))
    if minutes < 60:
        return f"{minutes} min"
    whole = minutes // 60
    days, rest = divmod(whole, 24)
    if not days:
        return f"{whole} h"
    return f"{days} day{'s' if days != 1 else ''}" + (f" {rest} h" if rest else "")


def escalation_subject(venue_name: str, rating: int | None, sla_hours: int) -> str:
    stars = f"{rating}★ review" if rating is not None else "review"
    return f"Overdue: a {stars} at {venue_name} has no reply after {sla_hours} h"


def build_escalation_message(
    *,
    to: str,
    from_addr: str,
    venue_name: str,
    payload: Mapping[str, Any],
    dashboard_url: str,
    date: datetime,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    unsubscribe_url: str = "",
) -> EmailMessage:
    """The escalation: the rating, the customer's words, the deadline and how overdue it is
    now (at sending), and a link to the dashboard where the reply waits."""
    rating = payload.get("rating")
    sla_hours = int(payload.get("sla_hours") or 24)
    due_at = iso_time(payload.get("due_at"))
    level = str(payload.get("level") or "high")
    subject = escalation_subject(venue_name, rating, sla_hours)
    overdue = (as_utc(date) - due_at).total_seconds() / 3600 if due_at else 0.0
    context = {
        "subject": subject,
        "venue_name": venue_name,
        "level": level,
        "level_colour": LEVEL_COLOURS.get(level, NEUTRAL),
        "rating": f"{rating} of 5" if rating is not None else "",
        "comment": str(payload.get("comment") or "").strip(),
        "customer_name": str(payload.get("customer_name") or "").strip(),
        "created_at": _shown(iso_time(payload.get("created_at"))),
        "due_at": _shown(due_at),
        "overdue": overdue_text(overdue),
        "sla_hours": sla_hours,
        "alert_title": str(payload.get("alert_title") or ""),
        "reply_status": str(payload.get("reply_status") or ""),
        "dashboard_url": dashboard_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return templated_message(
        "escalation",
        context,
        to=to,
        from_addr=from_addr,
        date=date,
        message_id=message_id,
        headers=headers,
    )


def _shown(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""
