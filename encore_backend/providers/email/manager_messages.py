"""The emails to a venue's managers: the daily/weekly report, the alert notification and the daily
digest.

Each carries a visible link to the manager's one-click unsubscribe (`unsubscribe_url`; the
List-Unsubscribe headers are the caller's, services/manager_mail). Everything shown comes from
stored documents (the report content, alert reasons, digest payload) and customer comments: the
HTML templates escape every value, and missing figures (an empty period) read "no data", never
"None" or "nan".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, tzinfo
from email.message import EmailMessage
from numbers import Real
from typing import Any

from encore_backend.clock import as_utc
from encore_backend.domain.excerpts import excerpt
from encore_backend.domain.stats_windows import zone_of
from encore_backend.providers.email.message import InlineImage, paragraphs, templated_message
from encore_backend.providers.email.png_chart import HEIGHT, STARS, WIDTH, rating_bars_png

CHART_CID = "ratings-chart@encore"
QUOTE_CHARS = 300  # example comments in a report are cut to this length
NO_DATA = "no data"
GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#777777"
LEVEL_COLOURS = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#607d8b"}


@dataclass(frozen=True)
class FigureSpec:
    """How one report figure reads: its label, value format, and which direction is better."""

    key: str
    label: str
    kind: str  # "count" | "hours" | "percent" | "rating"
    better: int  # +1 up is good, -1 down is good, 0 neither


FIGURES = (
    FigureSpec("total_feedback", "Feedback received", "count", 0),
    FigureSpec("responses_sent", "Replies sent", "count", +1),
    FigureSpec("avg_response_time_hours", "Average reply time", "hours", -1),
    FigureSpec("critical_alerts", "Critical alerts", "count", -1),
    FigureSpec("csat", "Satisfied (4-5 stars)", "percent", +1),
    FigureSpec("average_rating", "Average rating", "rating", +1),
)
# Change display per kind: multiply by, decimals, unit after the number.
CHANGE_FORMATS = {"count": (1, 0, ""), "hours": (1, 1, " h"), "percent": (100, 0, " pts")}
CHANGE_FORMATS["rating"] = (1, 2, "")


@dataclass(frozen=True)
class Figure:
    """One figure as the templates show it (all strings; `change` is "" when nothing to say)."""

    label: str
    value: str
    change: str
    previous: str
    colour: str


def build_report_message(
    *,
    to: str,
    from_addr: str,
    venue_name: str,
    kind: str,
    first_day: str,
    last_day: str,
    content: Mapping[str, Any],
    comments: Mapping[int, str],
    dashboard_url: str,
    date: datetime,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    unsubscribe_url: str = "",
) -> EmailMessage:
    """The daily/weekly report: figures with their change, ratings chart, issues and alerts."""
    subject = report_subject(venue_name, kind, first_day, last_day)
    context = report_context(content, comments)
    chart = _chart(content.get("rating_distribution"))
    context |= {
        "subject": subject,
        "heading": f"{kind.capitalize()} report",
        "venue_name": venue_name,
        "period": period_label(kind, first_day, last_day),
        "timezone": (content.get("period") or {}).get("timezone") or "",
        "dashboard_url": dashboard_url,
        "chart": chart is not None,
        "chart_cid": CHART_CID,
        "chart_size": (WIDTH // 2, HEIGHT // 2),
        "unsubscribe_url": unsubscribe_url,
    }
    return templated_message(
        "report",
        context,
        to=to,
        from_addr=from_addr,
        date=date,
        message_id=message_id,
        inline_image=chart,
        headers=headers,
    )


def report_subject(venue_name: str, kind: str, first_day: str, last_day: str) -> str:
    """Subjects sort and thread by venue and period; an unknown kind is a caller bug."""
    if kind == "daily":
        return f"Daily report for {venue_name}: {first_day}"
    if kind == "weekly":
        return f"Weekly report for {venue_name}: {first_day} to {last_day}"
    raise ValueError(f"unknown report kind {kind!r}")


def report_context(content: Mapping[str, Any], comments: Mapping[int, str]) -> dict[str, Any]:
    """What both report templates show, already formatted (the templates only lay it out)."""
    alerts = [a for a in content.get("critical_alert_list") or [] if isinstance(a, Mapping)]
    listed = [
        {"title": str(a.get("title") or "Critical alert"), "quote": _quote(a, comments)}
        for a in alerts
    ]
    total_alerts = _number(content.get("critical_alerts")) or 0
    timezone = (content.get("period") or {}).get("timezone")
    return {
        "unanswered": unanswered_rows(content.get("unanswered"), timezone),
        "figures": figures(content),
        "ratings": rating_rows(content.get("rating_distribution")),
        "issues": [_issue(i, comments) for i in content.get("top_issues") or []],
        "alerts": listed,
        "more_alerts": max(0, int(total_alerts) - len(listed)),
    }


def figures(content: Mapping[str, Any]) -> list[Figure]:
    """The six headline figures, each with its change from the previous period."""
    previous = content.get("previous") or {}
    changes = content.get("change") or {}
    rows = []
    for spec in FIGURES:
        now, before = _number(content.get(spec.key)), _number(previous.get(spec.key))
        delta = _number(changes.get(spec.key))
        change, colour = format_change(spec, delta)
        if delta is None and now is not None and spec.key in previous and before is None:
            change, colour = "new", NEUTRAL
        rows.append(
            Figure(
                spec.label, format_value(spec.kind, now), change, _previous(spec, before), colour
            )
        )
    return rows


def format_value(kind: str, value: float | None) -> str:
    """'12', '3.2 h' / '45 min', '67%', '3.92'; 'no data' for an empty period."""
    if value is None:
        return NO_DATA
    if kind == "count":
        return f"{round(value):,}"
    if kind == "hours":
        return f"{round(value * 60)} min" if value < 1 else f"{value:.1f} h"
    if kind == "percent":
        return f"{value * 100:.0f}%"
    return f"{value:.2f}"


def format_change(spec: FigureSpec, delta: float | None) -> tuple[str, str]:
    """'▲ +3' / '▼ -5 pts' / 'no change' and its colour; ('', ...) when there is no change."""
    if delta is None:
        return "", NEUTRAL
    scale, digits, unit = CHANGE_FORMATS[spec.kind]
    shown = round(delta * scale, digits)
    if shown == 0:
        return "no change", NEUTRAL
    arrow = "▲" if shown > 0 else "▼"
    colour = NEUTRAL if not spec.better else GOOD if shown * spec.better > 0 else BAD
    return f"{arrow} {shown:+,.{digits}f}{unit}", colour


def _previous(spec: FigureSpec, before: float | None) -> str:
    return "" if before is None else format_value(spec.kind, before)


def rating_rows(distribution: Any) -> list[dict[str, Any]]:
    """[{stars, label, count, bar}] from 1★ to 5★ (the chart's order); `bar` is '#'s for text."""
    counts = distribution if isinstance(distribution, Mapping) else {}
    numbers = [(star, int(_number(counts.get(star)) or 0)) for star in STARS]
    tallest = max(n for _, n in numbers)
    return [
        {
            "stars": star,
            "label": f"{star} star" + ("" if star == "1" else "s"),
            "count": n,
            "bar": "#" * (round(20 * n / tallest) if tallest else 0),
        }
        for star, n in numbers
    ]


def _chart(distribution: Any) -> InlineImage | None:
    """The chart image, or None when there were no ratings (nothing to draw)."""
    counts = {row["stars"]: row["count"] for row in rating_rows(distribution)}
    if not any(counts.values()):
        return None
    return InlineImage(cid=CHART_CID, data=rating_bars_png(counts))


def _issue(issue: Mapping[str, Any], comments: Mapping[int, str]) -> dict[str, Any]:
    """A top issue: its topic, how many feedback raised it, one example comment if known."""
    mentions = int(_number(issue.get("mentions")) or 0)
    return {
        "topic": str(issue.get("topic") or "other").capitalize(),
        "mentions": f"{mentions} mention" + ("" if mentions == 1 else "s"),
        "quote": _first_comment(issue.get("feedback_ids") or [], comments),
    }


def _quote(alert: Mapping[str, Any], comments: Mapping[int, str]) -> str:
    return _first_comment([alert.get("feedback_id")], comments)


def _first_comment(feedback_ids: Sequence[Any], comments: Mapping[int, str]) -> str:
    """The first of these feedback's comments we have, cut to QUOTE_CHARS; '' when none."""
    for feedback_id in feedback_ids:
        try:
            text = comments.get(int(feedback_id))
        except (TypeError, ValueError):
            continue
        if text and text.strip():
            return excerpt(text, QUOTE_CHARS)
    return ""


def period_label(kind: str, first_day: str, last_day: str) -> str:
    """'Monday 9 March 2026' or '9 March 2026 to 15 March 2026' (the ISO text if unparsable)."""
    try:
        first, last = Date.fromisoformat(first_day), Date.fromisoformat(last_day)
    except ValueError:
        return first_day if kind == "daily" else f"{first_day} to {last_day}"
    if kind == "daily":
        return f"{first:%A} {first.day} {first:%B %Y}"
    return f"{first.day} {first:%B %Y} to {last.day} {last:%B %Y}"


def _number(value: Any) -> float | None:
    """A finite number or None: bools, strings, None and NaN/inf all count as missing."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def build_alert_message(
    *,
    to: str,
    from_addr: str,
    venue_name: str,
    level: str,
    title: str,
    description: str,
    reasons: Sequence[Mapping[str, Any]],
    detected_at: datetime,
    rating: int | None,
    comment: str | None,
    customer_name: str | None,
    dashboard_url: str,
    date: datetime,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    unsubscribe_url: str = "",
) -> EmailMessage:
    """An alert for the managers: what was detected, why, when, and the customer's words."""
    level_name = (level or "").strip().lower() or "critical"
    subject = f"{level_name.capitalize()} alert at {venue_name}: {title}"
    context = {
        "subject": subject,
        "venue_name": venue_name,
        "level": level_name,
        "level_colour": LEVEL_COLOURS.get(level_name, NEUTRAL),
        "title": title,
        "description": description.strip(),
        "description_paragraphs": paragraphs(description),
        "reasons": [reason_text(r) for r in reasons],
        "detected_at": as_utc(detected_at).strftime("%Y-%m-%d %H:%M UTC"),
        "rating": f"{rating} of 5" if rating is not None else "",
        "customer_name": (customer_name or "").strip(),
        "comment": (comment or "").strip(),
        "dashboard_url": dashboard_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return templated_message(
        "alert",
        context,
        to=to,
        from_addr=from_addr,
        date=date,
        message_id=message_id,
        headers=headers,
    )


RULE_NAMES = {
    "keyword": "Keyword",
    "critical_keyword": "Critical keyword",
    "hygiene_keyword": "Hygiene concern",
    "conduct_keyword": "Staff conduct concern",
    "custom_keyword": "One of your alert keywords",
    "rating": "Low rating",
    "high_value_customer": "Unhappy high-value customer",
    "repeated_complaint": "Repeated complaint",
}


def reason_text(reason: Mapping[str, Any]) -> str:
    """A reason in plain words: 'Critical keyword: mentions "food poisoning" (critical)'."""
    rule = str(reason.get("rule") or "rule")
    name = RULE_NAMES.get(rule, rule.replace("_", " ").capitalize())
    parts = []
    keyword, matched = reason.get("keyword"), reason.get("matched")
    if keyword:
        parts.append(f'mentions "{keyword}"')
        if matched and str(matched).casefold() != str(keyword).casefold():
            parts.append(f'written as "{matched}"')
    if reason.get("detail"):
        parts.append(str(reason["detail"]))
    text = name + (": " + ", ".join(parts) if parts else "")
    return text + (f" ({reason['level']})" if reason.get("level") else "")


def iso_time(value: Any) -> datetime | None:
    """A stored time (datetime or ISO-8601 text) as aware UTC; None when absent."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return None


def unanswered_rows(
    unanswered: Sequence[Mapping[str, Any]] | None, timezone: str | None
) -> list[dict[str, str]] | None:
    """A daily report's unanswered bad feedback as the report email lists it (venue-local
    times); None when the report has no such list (weekly reports, older reports)."""
    if unanswered is None:
        return None
    zone = zone_of(timezone)
    rows = []
    for item in unanswered:
        if not isinstance(item, Mapping):
            continue
        rows.append(
            {
                "rating": f"{item.get('rating')}★",
                "created_at": _local(iso_time(item.get("created_at")), zone),
                "due_at": _local(iso_time(item.get("due_at")), zone),
                "state": "overdue" if item.get("escalated_at") else "due",
            }
        )
    return rows


def _local(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M") if moment else ""


def build_digest_message(
    *,
    to: str,
    from_addr: str,
    venue_name: str,
    content: Mapping[str, Any],
    dashboard_url: str,
    date: datetime,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    unsubscribe_url: str = "",
) -> EmailMessage:
    """A manager's daily digest (services/digest_service content): the day's alerts by level,
    the critical and high ones listed, bad feedback still unanswered, feedback and replies."""
    period = content.get("period") or {}
    subject = f"Daily digest for {venue_name}: {period.get('date', '')}".strip()
    counts = content.get("alert_counts") or {}
    context = {
        "subject": subject,
        "venue_name": venue_name,
        "day": period_label("daily", str(period.get("date", "")), ""),
        "timezone": period.get("timezone") or "",
        "alert_counts": [
            {"level": level, "count": int(_number(counts.get(level)) or 0)}
            for level in LEVEL_COLOURS
        ],
        "level_colours": LEVEL_COLOURS,
        "alerts": [
            {"level": str(a.get("level") or ""), "title": str(a.get("title") or "Alert")}
            for a in content.get("alerts") or []
            if isinstance(a, Mapping)
        ],
        "feedback": int(_number(content.get("feedback")) or 0),
        "replies": int(_number(content.get("replies")) or 0),
        "unanswered_count": int(_number(content.get("unanswered_count")) or 0),
        "unanswered": [_unanswered(f) for f in content.get("unanswered") or []],
        "dashboard_url": dashboard_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return templated_message(
        "digest",
        context,
        to=to,
        from_addr=from_addr,
        date=date,
        message_id=message_id,
        headers=headers,
    )


def _unanswered(item: Mapping[str, Any]) -> dict[str, str]:
    rating = _number(item.get("rating"))
    return {
        "rating": f"{int(rating)} of 5" if rating is not None else "",
        "customer_name": str(item.get("customer_name") or "").strip() or "A customer",
        "comment": str(item.get("comment") or "").strip(),
        "overdue": "overdue" if item.get("escalated") else "",
    }
