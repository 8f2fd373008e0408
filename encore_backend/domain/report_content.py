"""The figures of a report (SPEC §6) from one period's facts, and the change from the period before.

Pure: the store gathers the facts (feedback, sent replies, critical alerts) of many periods in a
few set-based queries; this module turns one period's facts into its content document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from encore_backend.domain.topics import OTHER, issue_topics

EXAMPLES_PER_TOPIC = 3
ALERTS_LISTED = 20
# Figures compared with the previous period, and the decimals each is rounded to.
COMPARED = {
    "total_feedback": 0,
    "responses_sent": 0,
    "avg_response_time_hours": 2,
    "critical_alerts": 0,
    "csat": 4,
    "average_rating": 2,
}


@dataclass(frozen=True)
class FeedbackFact:
    feedback_id: int
    rating: int
    comment: str | None = None


@dataclass
class PeriodFacts:
    """What happened in one period of one venue."""

    feedback: list[FeedbackFact] = field(default_factory=list)
    reply_hours: list[float] = field(default_factory=list)  # feedback created -> reply sent
    critical_alerts: list[dict[str, Any]] = field(default_factory=list)


def ratio(part: float, whole: float, digits: int) -> float | None:
    """part / whole rounded, None for an empty period (never 0 or NaN)."""
    return round(part / whole, digits) if whole else None


def figures(facts: PeriodFacts) -> dict[str, Any]:
    """The numeric figures of one period."""
    ratings = [f.rating for f in facts.feedback]
    total = len(ratings)
    return {
        "total_feedback": total,
        "responses_sent": len(facts.reply_hours),
        "avg_response_time_hours": ratio(sum(facts.reply_hours), len(facts.reply_hours), 2),
        "critical_alerts": len(facts.critical_alerts),
        "csat": ratio(sum(1 for r in ratings if r >= 4), total, 4),
        "average_rating": ratio(sum(ratings), total, 2),
    }


def rating_distribution(feedback: Iterable[FeedbackFact]) -> dict[str, int]:
    counts = Counter(f.rating for f in feedback)
    return {str(star): counts.get(star, 0) for star in range(1, 6)}


def top_issues(feedback: Iterable[FeedbackFact]) -> list[dict[str, Any]]:
    """Topics by the number of feedback raising them, "other" last; a few example ids each."""
    found: dict[str, list[FeedbackFact]] = {}
    for fact in feedback:
        for topic in issue_topics(fact.comment, fact.rating):
            found.setdefault(topic, []).append(fact)
    ranked = sorted(found, key=lambda t: (t == OTHER, -len(found[t]), t))
    return [
        {
            "topic": topic,
            "mentions": len(found[topic]),
            "feedback_ids": [
                f.feedback_id for f in sorted(found[topic], key=lambda f: (f.rating, f.feedback_id))
            ][:EXAMPLES_PER_TOPIC],
        }
        for topic in ranked
    ]


def change(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """Current minus previous for each compared figure; None when either side is None."""
    deltas: dict[str, Any] = {}
    for name, digits in COMPARED.items():
        now, before = current[name], previous[name]
        deltas[name] = None if now is None or before is None else round(now - before, digits)
    return deltas


def compose(current: PeriodFacts, previous: PeriodFacts) -> dict[str, Any]:
    """The content document of a report: figures, distribution, issues, alerts and change."""
    now, before = figures(current), figures(previous)
    alerts = sorted(current.critical_alerts, key=lambda a: (a["feedback_id"], a["alert_id"]))
    return {
        **now,
        "critical_alert_list": alerts[:ALERTS_LISTED],
        "rating_distribution": rating_distribution(current.feedback),
        "top_issues": top_issues(current.feedback),
        "previous": before,
        "change": change(now, before),
    }
