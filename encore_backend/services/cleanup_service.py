"""weekly_cleanup's use case: archive, purge, trim, thin, roll up by month, remove orphans.

Every step reports a count in the run record; a dry run counts the same rows and changes
nothing. Cut-offs are taken from one `now`, so a rerun at the same instant finds nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.clock import as_utc, iso_z
from encore_backend.domain.report_content import ratio
from encore_backend.domain.report_periods import month_bounds, months_between
from encore_backend.domain.stats_windows import zone_of
from encore_backend.storage.ports import MonthlyStatsStore
from encore_backend.storage.ports.operations import (
    archive_alerts,
    orphan_rules,
    purge_failed_emails,
    trim_job_runs,
)

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

JOB_RUN_RETENTION = timedelta(days=30)
# Months that ended this recently are recomputed every week (late replies, backfilled feedback);
# older months are computed once, when missing.
RECENT_MONTHS = timedelta(days=62)


@dataclass(frozen=True)
class MonthTask:
    """One rollup to compute: venues sharing a timezone, a month and its UTC bounds."""

    month: str
    venue_ids: tuple[str, ...]
    start: datetime
    end: datetime


def run_cleanup(ctx: Container, *, now: datetime, dry_run: bool = False) -> dict[str, int]:
    """Every cleanup step in order; {step: rows changed, or that would change on a dry run}."""
    now = as_utc(now)
    s = ctx.settings
    rules = [
        archive_alerts(before=now - timedelta(days=s.alert_archive_days), now=now),
        purge_failed_emails(before=now - timedelta(days=s.email_failed_retention_days)),
        trim_job_runs(before=now - JOB_RUN_RETENTION),
        *orphan_rules(),
    ]
    apply = ctx.cleanup.count if dry_run else ctx.cleanup.apply
    done = {rule.name: apply(rule) for rule in rules}
    done["stats_snapshots_thinned"] = ctx.cleanup.thin_stats(now=now, dry_run=dry_run)
    done["monthly_rollups"] = roll_up_months(ctx.monthly_stats, now=now, dry_run=dry_run)
    return done


def month_tasks(store: MonthlyStatsStore, *, now: datetime) -> list[MonthTask]:
    """The (timezone, month) groups to recompute: recent months, and any month never stored."""
    stored = store.stored_months()
    groups: dict[tuple[str, str], list[str]] = {}
    for source in store.sources():
        if source["first_at"] is None:
            continue
        zone = zone_of(source["timezone"])
        first, last = as_utc(source["first_at"]).astimezone(zone).date(), now.astimezone(zone)
        for month in months_between(first, last.date()):
            recent = month_bounds(month, zone)[1] > now - RECENT_MONTHS
            if recent or (source["venue_id"], month) not in stored:
                groups.setdefault((str(zone), month), []).append(source["venue_id"])
    return [
        MonthTask(month, tuple(ids), *month_bounds(month, zone_of(tz)))
        for (tz, month), ids in sorted(groups.items())
    ]


def roll_up_months(store: MonthlyStatsStore, *, now: datetime, dry_run: bool = False) -> int:
    """Recompute the monthly rollups that are due; the number of (venue, month) rows."""
    tasks = month_tasks(store, now=now)
    if dry_run:
        return sum(len(t.venue_ids) for t in tasks)
    rows: list[dict[str, Any]] = []
    for task in tasks:
        counts = store.counts(task.venue_ids, start=task.start, end=task.end)
        rows += [
            {"venue_id": v, "month": task.month, "period_start": task.start,
             "period_end": task.end, "computed_at": now, **c}
            for v, c in counts.items()
        ]  # fmt: skip
    return store.save(rows)


def public_month(row: dict[str, Any]) -> dict[str, Any]:
    """A rollup as the API shows it: counts, and averages derived from them (None when empty)."""
    total, responded = row["feedback_count"], row["responded_count"]
    return {
        "month": row["month"],
        "period_start": iso_z(row["period_start"]),
        "period_end": iso_z(row["period_end"]),
        "feedback_count": total,
        "average_rating": ratio(row["rating_sum"], total, 2),
        "csat": ratio(row["positive_count"], total, 4),
        "responses_sent": row["responses_sent"],
        "response_rate": ratio(responded, total, 4),
        "avg_response_time_hours": ratio(row["response_seconds_sum"], responded * 3600, 2),
        "computed_at": iso_z(row["computed_at"]),
    }
