"""The response deadline (job `response_sla`): bad feedback still unanswered past its venue's
`response_sla_hours` is escalated once, with an email to the managers and a notification.

Per venue one read of ix_feedback_unanswered over a UTC range wide enough for any DST shift
(domain/response_deadline.created_range); the exact local-clock deadline is computed per row.
The store's claim (AlertStore.escalate) makes a rerun, a racing process or a catch-up after an
outage escalate each feedback once; a dry run reads the same and writes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.clock import as_utc, iso_z
from encore_backend.config import Settings
from encore_backend.domain.enums import ReplyStatus
from encore_backend.domain.response_deadline import (
    BAD_RATING,
    DST_SLACK,
    MAX_OVERDUE,
    created_range,
    due_at,
    escalation_level,
    hours_of,
    needs_reply,
)
from encore_backend.notify.channels import channel_delivery_id, deliveries_for
from encore_backend.services.alert_service import public_alert
from encore_backend.services.manager_mail import ESCALATION, Prefs, manager_items

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

EVENT = "feedback.escalated"
PREVIEW_LIMIT = 100  # escalations a dry run lists (it counts them all)
REPORT_UNANSWERED = 50  # unanswered feedback a daily report lists, oldest first


@dataclass(frozen=True)
class Overdue:
    """One feedback past its deadline: the feedback row, its deadline and alert (if any)."""

    feedback: Mapping[str, Any]
    due_at: datetime
    alert: Mapping[str, Any] | None
    reply: Mapping[str, Any] | None = None

    @property
    def feedback_id(self) -> int:
        return int(self.feedback["feedback_id"])

    @property
    def alert_level(self) -> str | None:
        return str(self.alert["level"]) if self.alert else None

    def preview(self) -> dict[str, Any]:
        return {
            "feedback_id": self.feedback_id,
            "venue_id": self.feedback["venue_id"],
            "rating": int(self.feedback["rating"]),
            "due_at": iso_z(self.due_at),
            "level": escalation_level(self.alert_level).value,
        }


@dataclass
class SlaRun:
    """What one run did (or, dry, would do)."""

    venues: int = 0
    overdue: list[Overdue] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    emails: int = 0
    delivery_ids: list[str] = field(default_factory=list)


def delivery_id_for(feedback_id: int, url: str) -> str:
    """The id of an escalation's delivery to the venue's webhook `url`: a rerun after a crash
    stores it once (channels get theirs from notify.channels)."""
    return channel_delivery_id(EVENT, str(int(feedback_id)), f"url:{url}")


def escalate_overdue(ctx: Container, *, now: datetime, dry_run: bool = False) -> SlaRun:
    """Escalate every venue's feedback past its deadline (dry: only find it)."""
    now = as_utc(now)
    run = SlaRun()
    settings = ctx.venues.list_settings()
    for venue in ctx.venues.list():
        run.venues += 1
        venue_row = {**settings.get(venue["venue_id"], {}), **venue}
        found = overdue_for(ctx, venue_row, now=now)
        run.overdue.extend(found)
        if found and not dry_run:
            escalate(ctx, venue_row, found, now=now, run=run)
    return run


def overdue_for(ctx: Container, venue: Mapping[str, Any], *, now: datetime) -> list[Overdue]:
    """The venue's unescalated bad feedback whose deadline passed at most MAX_OVERDUE ago."""
    sla = venue.get("response_sla_hours")
    start, end = created_range(now, sla)
    rows = ctx.alerts.unanswered(
        venue["venue_id"], escalated=False, created_from=start, created_to=end
    )
    due = [(r, due_at(r["created_at"], venue["timezone"], sla)) for r in rows]
    due = [(r, d) for r, d in due if now - MAX_OVERDUE <= d <= now]
    if not due:
        return []
    alerts = ctx.alerts.for_feedbacks([int(r["feedback_id"]) for r, _ in due])
    found = [Overdue(r, d, alerts.get(int(r["feedback_id"]))) for r, d in due]
    bad = [o for o in found if needs_reply(o.feedback["rating"], o.alert_level)]
    with_replies = [
        dataclasses.replace(o, reply=ctx.replies.for_feedback(o.feedback_id)) for o in bad
    ]
    return [o for o in with_replies if not was_declined(o.reply)]


def was_declined(reply: Mapping[str, Any] | None) -> bool:
    """A manager rejected the reply: they decided how to answer, so it is not overdue."""
    return reply is not None and reply["status"] == ReplyStatus.REJECTED


def escalate(
    ctx: Container,
    venue: Mapping[str, Any],
    found: Sequence[Overdue],
    *,
    now: datetime,
    run: SlaRun,
) -> None:
    """Claim and escalate `found`; the store skips any another run escalated first."""
    alerts = {o.feedback_id: o.alert for o in found if o.alert is not None}
    prefs = ctx.manager_prefs.for_venues([venue["venue_id"]]).get(venue["venue_id"], {})
    emails = {o.feedback_id: escalation_emails(ctx, venue, o, now=now, prefs=prefs) for o in found}
    channels = ctx.channels.active_for_venues([venue["venue_id"]]).get(venue["venue_id"], [])
    deliveries = {
        o.feedback_id: escalation_deliveries(
            venue,
            document(o, now=now),
            level=escalation_level(o.alert_level),
            now=now,
            settings=ctx.settings,
            channels=channels,
        )
        for o in found
    }
    done = ctx.alerts.escalate(
        feedback_ids=[o.feedback_id for o in found],
        alerts=alerts,
        emails=emails,
        deliveries=deliveries,
        now=now,
    )
    run.escalated.extend(done)
    run.emails += sum(len(emails[i]) for i in done)
    run.delivery_ids.extend(d["delivery_id"] for i in done for d in deliveries[i])


def escalation_emails(
    ctx: Container,
    venue: Mapping[str, Any],
    overdue: Overdue,
    *,
    now: datetime,
    prefs: Prefs | None = None,
) -> list[dict[str, Any]]:
    """The escalation email to each manager that wants it (preferences: standard and
    immediate at once or after their quiet hours; digest readers see it in the digest), with
    what it shows stored as its payload."""
    fid = overdue.feedback_id
    reply = overdue.reply
    payload = {
        "feedback_id": fid,
        "rating": int(overdue.feedback["rating"]),
        "comment": overdue.feedback["comment"] or "",
        "created_at": iso_z(overdue.feedback["created_at"]),
        "due_at": iso_z(overdue.due_at),
        "escalated_at": iso_z(now),
        "sla_hours": hours_of(venue.get("response_sla_hours")),
        "level": escalation_level(overdue.alert_level).value,
        "alert_title": overdue.alert["title"] if overdue.alert else None,
        "reply_status": reply["status"] if reply else None,
    }
    return manager_items(
        ctx.settings,
        kind=ESCALATION,
        venue_id=venue["venue_id"],
        manager_emails=venue.get("manager_emails"),
        now=now,
        prefs=prefs,
        level=escalation_level(overdue.alert_level).value,
        timezone=venue.get("timezone"),
        notice_key=f"escalation:{fid}",
        payload=payload,
        feedback_id=fid,
    )


def document(overdue: Overdue, *, now: datetime) -> dict[str, Any]:
    """The `feedback.escalated` event body, as receivers get it."""
    feedback = overdue.feedback
    alert = {**overdue.alert, "escalated_at": now} if overdue.alert else None
    return {
        "event": EVENT,
        "feedback": {
            "feedback_id": overdue.feedback_id,
            "venue_id": feedback["venue_id"],
            "rating": int(feedback["rating"]),
            "comment": feedback["comment"],
            "created_at": iso_z(feedback["created_at"]),
            "due_at": iso_z(overdue.due_at),
            "escalated_at": iso_z(now),
        },
        "alert": public_alert(alert) if alert else None,
    }


def escalation_deliveries(
    venue_row: Mapping[str, Any],
    document: Mapping[str, Any],
    *,
    level: str,
    now: datetime,
    settings: Settings,
    channels: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The escalation's outbox rows: the venue's webhook_url when the level reaches its
    alert_notify_min_level, and each of its channels that wants the level, each in its own
    format (the body is fixed now; every retry sends the same)."""
    alert = document.get("alert")
    return deliveries_for(
        venue_row,
        channels,
        event=EVENT,
        level=level,
        document=document,
        alert_id=alert["alert_id"] if alert else None,
        feedback_id=int(document["feedback"]["feedback_id"]),
        now=now,
        settings=settings,
        feedback=document["feedback"],
    )


def preview(run: SlaRun) -> dict[str, Any]:
    """A dry run's report: how many would be escalated, and the first of them."""
    return {
        "dry_run": True,
        "venues": run.venues,
        "would_escalate": len(run.overdue),
        "items": [o.preview() for o in run.overdue[:PREVIEW_LIMIT]],
    }


def still_unanswered(
    ctx: Container,
    venue: Mapping[str, Any],
    *,
    until: datetime,
    now: datetime,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The venue's bad feedback created before `until` still without a sent reply at `now` (not
    more than MAX_OVERDUE past due; answerable, its reply not rejected), oldest first, each with
    its `due_at`: what the daily report and the manager's digest list."""
    sla = venue.get("response_sla_hours")
    start = now - MAX_OVERDUE - timedelta(hours=hours_of(sla)) - DST_SLACK
    rows = ctx.alerts.unanswered(
        venue["venue_id"], escalated=None, created_from=start, created_to=until
    )
    rows = [r for r in rows if as_utc(r["created_at"]) < until]
    dues = {int(r["feedback_id"]): due_at(r["created_at"], venue["timezone"], sla) for r in rows}
    rows = [r for r in rows if dues[int(r["feedback_id"])] >= now - MAX_OVERDUE]
    maybe = [int(r["feedback_id"]) for r in rows if int(r["rating"]) > BAD_RATING]
    alerts = ctx.alerts.for_feedbacks(maybe) if maybe else {}
    listed = []
    for row in rows:
        alert = alerts.get(int(row["feedback_id"]))
        if not needs_reply(row["rating"], str(alert["level"]) if alert else None):
            continue
        if was_declined(ctx.replies.for_feedback(int(row["feedback_id"]))):
            continue
        listed.append({**row, "due_at": dues[int(row["feedback_id"])]})
        if len(listed) == limit:
            break
    return listed


def unanswered_for_report(
    ctx: Container, venue: Mapping[str, Any], *, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    """A daily report's `unanswered` (still_unanswered, the first REPORT_UNANSWERED)."""
    return [
        {
            "feedback_id": int(row["feedback_id"]),
            "rating": int(row["rating"]),
            "created_at": iso_z(row["created_at"]),
            "escalated_at": iso_z(row["escalated_at"]),
            "due_at": iso_z(row["due_at"]),
        }
        for row in still_unanswered(ctx, venue, until=until, now=now, limit=REPORT_UNANSWERED)
    ]
