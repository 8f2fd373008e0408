"""What the venue dashboard shows, gathered from stores: overdue feedback first, snapshot cards,
trends, alerts, replies waiting for a manager, the email queue, the latest reports and recent
feedback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from markupsafe import Markup

from encore_backend.clock import iso_z
from encore_backend.domain.enums import AlertLevel, ReplyStatus
from encore_backend.domain.excerpts import excerpt
from encore_backend.domain.response_deadline import due_at
from encore_backend.services import report_service
from encore_backend.web import format as fmt
from encore_backend.web.charts import Point, bar_chart, line_chart
from encore_backend.web.trends import DayTrend, venue_trend

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

ACTIONABLE_REPLIES = (ReplyStatus.PENDING_APPROVAL, ReplyStatus.GENERATED)
QUEUE_PANELS = (("pending", "Scheduled"), ("sent", "Sent"), ("failed", "Failed"))
PANEL_ROWS = 8
REPLY_ROWS = 4
COUNT_LIMIT = 100
OVERDUE_ROWS = 10
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    note: str = ""


def stat_cards(stats: Mapping[str, Any]) -> list[Card]:
    """The snapshot's SPEC §5 figures as display cards."""
    return [
        Card("Feedback today", fmt.count(stats.get("feedback_today"))),
        Card("This week", fmt.count(stats.get("feedback_this_week"))),
        Card("This month", fmt.count(stats.get("feedback_this_month"))),
        Card("Average rating", fmt.rating(stats.get("average_rating")), "of 5, last 30 days"),
        Card("CSAT", fmt.percent(stats.get("csat")), "4 or 5 stars, last 30 days"),
        Card("Response rate", fmt.percent(stats.get("response_rate")), "last 30 days"),
        Card("Response time", fmt.hours(stats.get("avg_response_time_hours")), "average"),
        Card("Pending replies", fmt.count(stats.get("pending_responses"))),
        Card("Emails sent today", fmt.count(stats.get("sent_today"))),
        Card("Overdue replies", fmt.count(stats.get("overdue_responses")), "past the deadline"),
    ]


def trend_charts(days: Sequence[DayTrend]) -> dict[str, Markup]:
    """The two 30-day charts: feedback per day (bars) and average rating per day (line)."""

    def label(d: DayTrend) -> str:
        return d.day.strftime("%d %b")

    counts = [Point(label(d), d.feedback, f"{label(d)}: {d.feedback} feedback") for d in days]
    ratings = [
        Point(label(d), d.average_rating, f"{label(d)}: {fmt.rating(d.average_rating)} average")
        for d in days
    ]
    total = sum(d.feedback for d in days)
    return {
        "feedback": bar_chart(
            "chart-feedback",
            counts,
            title="Feedback per day, last 30 days",
            desc=f"{total} feedback in 30 days; busiest day {max(days, key=_n).day:%d %b}.",
        ),
        "rating": line_chart(
            "chart-rating",
            ratings,
            title="Average rating per day, last 30 days",
            desc="Daily average rating from 1 to 5; days without feedback are gaps.",
            low=1,
            high=5,
        ),
    }


def _n(d: DayTrend) -> int:
    return d.feedback


def ordered_alerts(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Unread first; then newest first, the most severe first among alerts of one scan."""
    return sorted(
        rows,
        key=lambda r: (bool(r["is_read"]), -r["detected_at"].timestamp(), -level_rank(r["level"])),
    )


def level_rank(level: str) -> int:
    try:
        return AlertLevel(level).rank
    except ValueError:
        return -1


def pending_replies(ctx: Container, venue_id: str) -> tuple[list[dict[str, Any]], int]:
    """The replies a manager can act on, those held for approval first, each with its
    feedback; and how many wait in all (up to COUNT_LIMIT per status)."""
    rows = [
        row
        for status in ACTIONABLE_REPLIES
        for row in ctx.replies.list_for_venue(venue_id, status=status.value, limit=COUNT_LIMIT)
    ]
    shown = [{**r, "feedback": ctx.feedback.get(int(r["feedback_id"]))} for r in rows[:REPLY_ROWS]]
    return shown, len(rows)


def overdue_feedback(
    ctx: Container, venue: Mapping[str, Any], *, now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Escalated feedback still without a sent reply, oldest first, each with its deadline,
    how long it is overdue and its reply (if drafted); and how many there are."""
    venue_id = venue["venue_id"]
    rows = ctx.alerts.unanswered(venue_id, escalated=True, limit=OVERDUE_ROWS)
    if not rows:
        return [], 0
    sla = (ctx.venues.get_settings(venue_id) or {}).get("response_sla_hours")
    shown = []
    for row in rows:
        due = due_at(row["created_at"], venue["timezone"], sla)
        shown.append(
            {
                **row,
                "due_at": due,
                "overdue": fmt.overdue(due, now),
                "excerpt": excerpt(row["comment"], EXCERPT_CHARS),
                "reply": ctx.replies.for_feedback(int(row["feedback_id"])),
            }
        )
    total = len(rows) if len(rows) < OVERDUE_ROWS else ctx.alerts.count_overdue(venue_id)
    return shown, total


def queue_panels(ctx: Container, venue_id: str) -> list[dict[str, Any]]:
    return [
        {
            "status": status,
            "title": title,
            "items": ctx.email_queue.list_for_venue(venue_id, status=status, limit=PANEL_ROWS),
        }
        for status, title in QUEUE_PANELS
    ]


def latest_reports(ctx: Container, venue_id: str, zone: str) -> dict[str, dict[str, Any] | None]:
    """The newest daily and weekly report, each with its period in the venue's local days."""
    found: dict[str, dict[str, Any] | None] = {}
    for kind in ("daily", "weekly"):
        rows = ctx.reports.list_for_venue(venue_id, kind=kind, limit=1)
        found[kind] = None
        if rows:
            label = period_label(rows[0]["period_start"], rows[0]["period_end"], zone)
            found[kind] = {**report_service.public_report(rows[0]), "period": label}
    return found


def period_label(start: datetime, end: datetime, zone: str) -> str:
    """'Fri 27 Nov 2026' for a day, 'Mon 16 Nov to Sun 22 Nov 2026' for a week ([start, end))."""
    tz = ZoneInfo(zone)
    first = start.astimezone(tz).date()
    last = (end.astimezone(tz) - timedelta(microseconds=1)).date()
    if first == last:
        return f"{first:%a %d %b %Y}"
    return f"{first:%a %d %b} to {last:%a %d %b %Y}"


def stream_url(venue_id: str, since: datetime) -> str:
    """The live alert stream from the moment the page was rendered (a reconnect replays from
    there; the page skips alerts it already shows)."""
    return f"/api/venues/{quote(venue_id)}/alerts/stream?since={quote(iso_z(since) or '')}"


def venue_dashboard(ctx: Container, venue: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """Everything the venue page renders, read from stored data only."""
    venue_id, zone = venue["venue_id"], venue["timezone"]
    snapshot = ctx.stats.latest(venue_id)
    alerts = ordered_alerts(ctx.alerts.list_for_venue(venue_id, limit=50))
    trend = venue_trend(ctx, venue_id=venue_id, timezone=zone, now=now)
    replies, waiting = pending_replies(ctx, venue_id)
    overdue, overdue_total = overdue_feedback(ctx, venue, now=now)
    return {
        "overdue": overdue,
        "overdue_total": overdue_total,
        "venue": venue,
        "now": now,
        "snapshot": snapshot,
        "cards": stat_cards(snapshot["stats"]) if snapshot else [],
        "trend": trend,
        "charts": trend_charts(trend),
        "alerts": alerts,
        "unread": sum(1 for a in alerts if not a["is_read"]),
        "replies": replies,
        "replies_waiting": waiting,
        "queue": queue_panels(ctx, venue_id),
        "reports": latest_reports(ctx, venue_id, zone),
        "feedback": ctx.trends.recent_feedback(venue_id, limit=8),
        "stream_url": stream_url(venue_id, now),
    }
