"""Stats use cases: compute every venue's SPEC §5 figures at `now`, store and thin snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from encore_backend.domain.stats_windows import windows_for
from encore_backend.storage.ports import StatsStore

COUNT_FIELDS = ("feedback_today", "feedback_this_week", "feedback_this_month")
SUMMED_FIELDS = (
    *COUNT_FIELDS,
    "pending_responses",
    "sent_today",
    "feedback_30d",
    "responded_30d",
    "overdue_responses",
)


@dataclass(frozen=True)
class AggregateRun:
    """What one run did, for the run record."""

    venues: int
    snapshots: int
    thinned: int


def ratio(part: float, whole: float, digits: int) -> float | None:
    """part / whole rounded, or None for an empty window (never 0 or NaN)."""
    return round(part / whole, digits) if whole else None


def stats_from_counts(counts: Mapping[str, int]) -> dict[str, Any]:
    """The snapshot document of one venue from its raw counts (SPEC §5 plus a few extras)."""
    total, responded = counts["feedback_30d"], counts["responded_30d"]
    return {
        **{name: counts[name] for name in COUNT_FIELDS},
        "pending_responses": counts["pending_responses"],
        "sent_today": counts["sent_today"],
        # Escalated by response_sla and still without a sent reply (not SPEC §5; allowed).
        "overdue_responses": counts.get("overdue_responses", 0),
        "average_rating": ratio(counts["rating_sum_30d"], total, 2),
        "response_rate": ratio(responded, total, 4),
        "avg_response_time_hours": ratio(counts["response_seconds_30d"], responded * 3600, 2),
        "csat": ratio(counts["positive_30d"], total, 4),
        "feedback_30d": total,
        "responded_30d": responded,
    }


def compute_stats(*, store: StatsStore, now: datetime) -> dict[str, dict[str, Any]]:
    """Every venue's stats at `now`, each in its own timezone, in a fixed number of queries."""
    zones = store.venue_timezones()
    by_zone = {tz: windows_for(tz, now) for tz in set(zones.values())}
    counts = store.aggregate({venue_id: by_zone[tz] for venue_id, tz in zones.items()})
    return {venue_id: stats_from_counts(c) for venue_id, c in counts.items()}


def refresh_snapshots(*, store: StatsStore, now: datetime) -> AggregateRun:
    """Compute, store one snapshot per venue at `now`, then thin old snapshots (bounded)."""
    stats = compute_stats(store=store, now=now)
    written = store.save_snapshots(computed_at=now, stats=stats)
    thinned = store.thin(now=now)
    return AggregateRun(venues=len(stats), snapshots=written, thinned=thinned)


def _weighted(snapshots: list[Mapping[str, Any]], field: str, weight: str, digits: int) -> Any:
    pairs = [(s[field], s.get(weight) or 0) for s in snapshots if s.get(field) is not None]
    total_weight = sum(w for _, w in pairs)
    return ratio(sum(v * w for v, w in pairs), total_weight, digits)


def totals(stats: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """All venues together: sums of counts, feedback-weighted averages (None when empty)."""
    snapshots = [s for s in stats if s]
    summed = {f: sum(int(s.get(f) or 0) for s in snapshots) for f in SUMMED_FIELDS}
    return {
        **summed,
        "average_rating": _weighted(snapshots, "average_rating", "feedback_30d", 2),
        "response_rate": _weighted(snapshots, "response_rate", "feedback_30d", 4),
        "avg_response_time_hours": _weighted(
            snapshots, "avg_response_time_hours", "responded_30d", 2
        ),
        "csat": _weighted(snapshots, "csat", "feedback_30d", 4),
    }
