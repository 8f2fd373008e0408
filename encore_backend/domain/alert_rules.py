"""The alert rules of SPEC §7 as pure functions: feedback facts in, reasons and one alert out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from encore_backend.domain.alert_vocabulary import DEFAULT_TERMS
from encore_backend.domain.enums import AlertLevel
from encore_backend.domain.text_match import (
    Match,
    Term,
    TermIndex,
    inflections,
    normalise,
    tokenize,
)

# Rule ids a venue may switch off (venue_settings.alert_rules_disabled).
ALERT_RULE_IDS = (
    "critical_keyword",
    "hygiene_keyword",
    "conduct_keyword",
    "rating",
    "high_value_customer",
    "repeated_complaint",
    "custom_keyword",
)
HIGH_VALUE_TIERS = frozenset({"gold", "platinum", "vip"})
REPEAT_WINDOW = timedelta(days=30)
LOW_RATING = 2
SNIPPET_CHARS = 60
_DEFAULT_INDEX = TermIndex(DEFAULT_TERMS)


@dataclass(frozen=True)
class FeedbackFacts:
    """What the rules look at; `earlier_low_ratings` are the creation times of the same
    customer's earlier ratings ≤ 2 at the same venue (the detector looks them up)."""

    rating: int
    comment: str
    created_at: datetime | None = None
    lifetime_value: Decimal | float | str | None = None
    tier: str | None = None
    earlier_low_ratings: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class VenueRules:
    """One venue's rule configuration: thresholds, extra keywords, switched-off rules."""

    high_value_min_spend: Decimal = Decimal("1000")
    extra_keywords: tuple[tuple[str, tuple[str, ...]], ...] = ()
    disabled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reason:
    rule: str
    level: str
    keyword: str | None = None
    matched: str | None = None
    detail: str | None = None
    span: tuple[int, int] | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The stored form `{rule, level, keyword?, matched?, detail?}`."""
        keys = ("rule", "level", "keyword", "matched", "detail")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


@dataclass(frozen=True)
class AlertDraft:
    """The one alert a feedback raises: the highest reason's level, all reasons."""

    level: str
    title: str
    description: str
    reasons: list[dict[str, Any]]


def venue_rules(
    *,
    min_spend: Decimal | float | int,
    alert_keywords: Mapping[str, Any] | None = None,
    alert_rules_disabled: Iterable[Any] | None = None,
) -> VenueRules:
    """VenueRules from settings columns, skipping malformed entries written by other systems."""
    levels = {level.value for level in AlertLevel}
    extra = []
    keywords = alert_keywords if isinstance(alert_keywords, Mapping) else {}
    for level, words in keywords.items():
        if level in levels and isinstance(words, list | tuple):
            kept = tuple(sorted({w for w in words if isinstance(w, str) and w.strip()}))
            extra.append((str(level), kept))
    switched_off = alert_rules_disabled if isinstance(alert_rules_disabled, list | tuple) else ()
    disabled = frozenset(r for r in switched_off if r in ALERT_RULE_IDS)
    return VenueRules(Decimal(str(min_spend)), tuple(sorted(extra)), disabled)


def evaluate(facts: FeedbackFacts, rules: VenueRules) -> list[Reason]:
    """Every reason this feedback gives for an alert, most severe first."""
    reasons = [*keyword_reasons(facts.comment, rules), *rating_reasons(facts, rules)]
    reasons = [r for r in reasons if r.rule not in rules.disabled]
    order = {rule: n for n, rule in enumerate(ALERT_RULE_IDS)}
    return sorted(reasons, key=lambda r: (-AlertLevel(r.level).rank, order[r.rule]))


def keyword_reasons(comment: str, rules: VenueRules) -> list[Reason]:
    """One reason per (rule, keyword) found un-negated in the comment, first occurrence kept."""
    tokens = tokenize(normalise(comment or ""))
    matches = _DEFAULT_INDEX.find(tokens) + custom_index(rules.extra_keywords).find(tokens)
    seen: dict[tuple[str, str], Reason] = {}
    for m in matches:
        key = (m.term.rule, m.term.keyword)
        if key not in seen:
            seen[key] = _keyword_reason(m)
    return list(seen.values())


def _keyword_reason(m: Match) -> Reason:
    t = m.term
    return Reason(t.rule, t.level, keyword=t.keyword, matched=m.matched, span=(m.start, m.end))


@lru_cache(maxsize=256)
def custom_index(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> TermIndex:
    """The matcher for a venue's own keywords (cached: venues share few distinct lists)."""
    terms = [
        Term("custom_keyword", level, word.strip().casefold(), inflections(word))
        for level, words in extra
        for word in words
    ]
    return TermIndex(terms)


def rating_reasons(facts: FeedbackFacts, rules: VenueRules) -> list[Reason]:
    """The rating, high-value-customer and repeated-complaint rules."""
    reasons = []
    if facts.rating <= 1:
        reasons.append(Reason("rating", "high", detail=f"rating {facts.rating} of 5"))
    elif facts.rating == LOW_RATING:
        reasons.append(Reason("rating", "medium", detail="rating 2 of 5"))
    value = high_value(facts, rules)
    if value and facts.rating <= 3:
        reasons.append(
            Reason("high_value_customer", "high", detail=f"{value}, rating {facts.rating}")
        )
    repeats = earlier_in_window(facts)
    if facts.rating <= LOW_RATING and repeats:
        detail = f"rating {facts.rating} after {repeats} earlier rating(s) ≤ 2 within 30 days"
        reasons.append(Reason("repeated_complaint", "high", detail=detail))
    return reasons


def high_value(facts: FeedbackFacts, rules: VenueRules) -> str | None:
    """Why the customer counts as high-value ("gold tier", "lifetime value 1200"), or None."""
    tier = (facts.tier or "").strip().casefold()
    if tier in HIGH_VALUE_TIERS:
        return f"{tier} tier customer"
    try:
        spend = Decimal(str(facts.lifetime_value)) if facts.lifetime_value is not None else None
    except (InvalidOperation, ValueError):
        return None
    if spend is not None and spend.is_finite() and spend >= rules.high_value_min_spend:
        return f"customer lifetime value {spend}"
    return None


def earlier_in_window(facts: FeedbackFacts) -> int:
    """How many of the earlier low ratings fall in the 30 days before this feedback."""
    if facts.created_at is None:
        return len(facts.earlier_low_ratings)
    start = facts.created_at - REPEAT_WINDOW
    return sum(1 for t in facts.earlier_low_ratings if start <= t <= facts.created_at)


def assess(facts: FeedbackFacts, rules: VenueRules) -> AlertDraft | None:
    """The alert this feedback raises, or None."""
    return compose_alert(facts, evaluate(facts, rules))


def compose_alert(facts: FeedbackFacts, reasons: Sequence[Reason]) -> AlertDraft | None:
    """One alert at the highest reason's level carrying every reason; None without reasons."""
    if not reasons:
        return None
    top = max(reasons, key=lambda r: AlertLevel(r.level).rank)
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    title = f"{top.level.capitalize()}: {label(top, facts)}{more}"[:300]
    listed = "; ".join(f"{label(r, facts)} ({r.level})" for r in reasons)
    quote = snippet(facts.comment or "", next((r.span for r in reasons if r.span), None))
    parts = [f"Rating {facts.rating}/5.", f"“{quote}”" if quote else "", f"Reasons: {listed}."]
    return AlertDraft(
        top.level, title, " ".join(p for p in parts if p)[:2000], [r.as_dict() for r in reasons]
    )


def label(reason: Reason, facts: FeedbackFacts) -> str:
    """A short human name for a reason: "food poisoning mention", "1-star rating"."""
    if reason.keyword is not None:
        return f"{reason.keyword} mention"
    return {
        "rating": f"{facts.rating}-star rating",
        "high_value_customer": "unhappy high-value customer",
        "repeated_complaint": "repeated complaint",
    }.get(reason.rule, reason.rule)


def snippet(comment: str, span: tuple[int, int] | None) -> str:
    """About 120 characters of the comment around the match (or from the start), one line."""
    text = normalise(comment)
    start, end = span or (0, 0)
    lo, hi = max(0, start - SNIPPET_CHARS), min(len(text), end + SNIPPET_CHARS)
    if span is None:
        hi = min(len(text), 2 * SNIPPET_CHARS)
    body = re.sub(r"\s+", " ", text[lo:hi]).strip()
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "") if body else ""
