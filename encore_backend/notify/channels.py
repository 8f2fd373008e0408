"""What a notification channel receives, and which deliveries an event makes.

One module owns the three formats so an event reads the same everywhere:
- `slack`: an incoming-webhook body, `text` (the fallback Slack requires for notifications)
  plus Block Kit `blocks` (header, section, context, a button to the venue dashboard), within
  Block Kit's length limits;
- `teams`: a Teams incoming-webhook / Workflows message carrying one Adaptive Card 1.4;
- `webhook`: today's signed JSON event (signed at send time by notify/webhook.py).

`deliveries_for` turns one event into webhook_deliveries outbox rows: the venue's own
webhook_url (when the level reaches its alert_notify_min_level) and each enabled channel that
wants the level. Bodies are fixed when the row is written, so every retry sends the same bytes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.clock import iso_z
from encore_backend.domain.enums import AlertLevel, DeliveryStatus
from encore_backend.domain.excerpts import excerpt
from encore_backend.services.manager_mail import dashboard_url

if TYPE_CHECKING:
    from encore_backend.config import Settings

CHANNEL_TYPES = ("slack", "teams", "webhook")
SIGNED_TYPES = ("webhook",)  # and the venue's own webhook_url (no channel)
ALERT_CREATED = "alert.created"
FEEDBACK_ESCALATED = "feedback.escalated"
TEST = "test"
DEFAULT_LEVELS = ("critical", "high")
DEFAULT_NOTIFY_LEVEL = AlertLevel.HIGH
# Ids derived from what they are about: a scan rerun after a crash (ENCORE_DERIVED_STORE=dynamodb)
# finds its own alert, and each delivery is stored once.
ID_NAMESPACE = uuid.UUID("6f1c2b0e-3d4a-4e8b-9a57-2c1d0e9f8a61")

# Block Kit limits (api.slack.com/reference/block-kit): header text 150, section text 3000,
# context element 2000 (kept shorter), button text 75.
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_CONTEXT_MAX = 300
SLACK_BUTTON_MAX = 75
EXCERPT_MAX = 500  # characters of the customer's comment shown in a chat message
LEVEL_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}


def delivery_id_for(alert_id: str, url: str) -> str:
    """The id of an alert's webhook delivery to the venue's own `url` (as before channels)."""
    return str(uuid.uuid5(ID_NAMESPACE, f"delivery:{alert_id}:{url}"))


def channel_delivery_id(event: str, subject: str, channel_id: str) -> str:
    """The id of `event` about `subject` (an alert id, or a feedback id) sent to a channel."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{event}:{subject}:{channel_id}"))


@dataclass(frozen=True)
class Message:
    """What a chat message says, whatever the format."""

    event: str
    level: str
    title: str
    venue_name: str
    rating: int | None
    comment: str
    detail: str
    link: str
    feedback_id: int | None


def message_of(
    venue: Mapping[str, Any],
    *,
    event: str,
    level: str,
    document: Mapping[str, Any],
    settings: Settings,
    feedback: Mapping[str, Any] | None = None,
) -> Message:
    """The readable facts of an event: `document` is the webhook body's document."""
    alert = document.get("alert") if event == FEEDBACK_ESCALATED else document
    fb = feedback or document.get("feedback") or {}
    venue_id = str(venue["venue_id"])
    if event == TEST:
        title, detail = "Test message from Encore", "This channel is connected."
    elif event == FEEDBACK_ESCALATED:
        title = "Feedback still unanswered"
        detail = f"Past its response deadline ({fb.get('due_at') or 'due'})."
        if alert:
            detail += f" Alert: {alert.get('title')}"
    else:
        title = str((alert or {}).get("title") or "Alert")
        detail = excerpt(str((alert or {}).get("description") or ""), EXCERPT_MAX)
    rating = fb.get("rating")
    return Message(
        event=event,
        level=level,
        title=title,
        venue_name=str(venue.get("name") or venue.get("venue_name") or venue_id),
        rating=int(rating) if rating is not None else None,
        comment=excerpt(str(fb.get("comment") or ""), EXCERPT_MAX),
        detail=detail,
        link=dashboard_url(settings, venue_id),
        feedback_id=_feedback_id(fb, alert),
    )


def _feedback_id(fb: Mapping[str, Any], alert: Mapping[str, Any] | None) -> int | None:
    value = fb.get("feedback_id") or (alert or {}).get("feedback_id")
    return int(value) if value is not None else None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) as entities: customer text stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stars(rating: int | None) -> str:
    return f"{rating}/5" if rating is not None else "n/a"


def slack_body(msg: Message) -> dict[str, Any]:
    """A Slack incoming-webhook body: `text` fallback and Block Kit blocks."""
    level = msg.level.upper()
    fallback = f"[{level}] {msg.title} at {msg.venue_name}"
    lines = [
        f"*{slack_escape(msg.title)}*",
        f"*Level:* {level}  ·  *Venue:* "
        f"{slack_escape(msg.venue_name)}  ·  *Rating:* {stars(msg.rating)}",
    ]
    if msg.detail:
        lines.append(slack_escape(msg.detail))
    if msg.comment:
        lines.append("> " + slack_escape(msg.comment))
    context = f"Encore · {msg.event}" + (
        f" · feedback #{msg.feedback_id}" if msg.feedback_id else ""
    )
    header = f"{LEVEL_MARK.get(msg.level, '')} {level}: {msg.title}".strip()
    return {
        "text": clip(fallback, SLACK_SECTION_MAX),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": clip(header, SLACK_HEADER_MAX)},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": clip("\n".join(lines), SLACK_SECTION_MAX)},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": clip(context, SLACK_CONTEXT_MAX)}],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": clip("Open dashboard", SLACK_BUTTON_MAX),
                        },
                        "url": msg.link,
                    }
                ],
            },
        ],
    }


def teams_body(msg: Message) -> dict[str, Any]:
    """A Teams incoming-webhook / Workflows message with one Adaptive Card (version 1.4)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{msg.level.upper()}: {msg.title}",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Attention" if msg.level in ("critical", "high") else "Default",
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Venue", "value": msg.venue_name},
                {"title": "Level", "value": msg.level},
                {"title": "Rating", "value": stars(msg.rating)},
                {"title": "Event", "value": msg.event},
            ],
        },
    ]
    for text in (msg.detail, msg.comment):
        if text:
            body.append({"type": "TextBlock", "text": text, "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open dashboard", "url": msg.link}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook_body(event: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """The signed JSON event: `{"event": "alert.created", "alert": {...}}` as always; other
    events are their document, which names its event."""
    if event == ALERT_CREATED:
        return {"event": ALERT_CREATED, "alert": dict(document)}
    return {"event": event, **{k: v for k, v in document.items() if k != "event"}}


def payload_for(
    channel_type: str | None,
    venue: Mapping[str, Any],
    *,
    event: str,
    level: str,
    document: Mapping[str, Any],
    settings: Settings,
    feedback: Mapping[str, Any] | None = None,
) -> str:
    """The stored body for a channel type (None: the venue's own webhook_url)."""
    if channel_type is None or channel_type == "webhook":
        body = webhook_body(event, document)
    else:
        msg = message_of(
            venue,
            event=event,
            level=level,
            document=document,
            settings=settings,
            feedback=feedback,
        )
        body = slack_body(msg) if channel_type == "slack" else teams_body(msg)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def reaches_min_level(venue: Mapping[str, Any], level: str) -> bool:
    """The venue's webhook_url gets events at or above its alert_notify_min_level."""
    try:
        minimum = AlertLevel(venue.get("alert_notify_min_level") or DEFAULT_NOTIFY_LEVEL)
    except ValueError:
        minimum = DEFAULT_NOTIFY_LEVEL
    try:
        return AlertLevel(level).rank >= minimum.rank
    except ValueError:
        return False


def deliveries_for(
    venue: Mapping[str, Any],
    channels: Sequence[Mapping[str, Any]],
    *,
    event: str,
    level: str,
    document: Mapping[str, Any],
    alert_id: str | None,
    feedback_id: int,
    now: datetime,
    settings: Settings,
    feedback: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of one event: the venue's webhook_url (level ≥ its minimum) and every
    enabled channel whose `levels` include `level`. `feedback` ({rating, comment}) adds the
    customer's words to chat messages of an alert."""
    # An alert's event is about the alert; others (an escalation) about the feedback.
    subject = alert_id if event == ALERT_CREATED and alert_id else str(feedback_id)
    rows: list[dict[str, Any]] = []
    url = venue.get("webhook_url")
    if url and reaches_min_level(venue, level):
        ident = (
            delivery_id_for(alert_id, url)
            if event == ALERT_CREATED and alert_id
            else channel_delivery_id(event, subject, f"url:{url}")
        )
        body = payload_for(
            None, venue, event=event, level=level, document=document, settings=settings
        )
        rows.append(_row(ident, venue, url, body, event, alert_id, feedback_id, None, now))
    for channel in channels:
        if channel.get("disabled_at") is not None or level not in (channel.get("levels") or ()):
            continue
        body = payload_for(
            channel["type"],
            venue,
            event=event,
            level=level,
            document=document,
            settings=settings,
            feedback=feedback,
        )
        ident = channel_delivery_id(event, subject, channel["channel_id"])
        rows.append(
            _row(
                ident,
                venue,
                channel["url"],
                body,
                event,
                alert_id,
                feedback_id,
                channel["channel_id"],
                now,
            )
        )
    return rows


def _row(
    delivery_id: str,
    venue: Mapping[str, Any],
    url: str,
    payload: str,
    event: str,
    alert_id: str | None,
    feedback_id: int,
    channel_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "alert_id": alert_id,
        "venue_id": venue["venue_id"],
        "event": event,
        "feedback_id": int(feedback_id),
        "channel_id": channel_id,
        "url": url,
        "payload": payload,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def ping_document(venue_id: str, channel_id: str, now: datetime) -> dict[str, Any]:
    """The document of a test message (the signed webhook's body names the event `test`)."""
    return {"event": TEST, "venue_id": venue_id, "channel_id": channel_id, "sent_at": iso_z(now)}
