"""Report use cases: produce every due daily or weekly report, read reports for the API.

A run at `now` works out each venue's due periods in its own timezone (report_periods), drops the
ones already stored, gathers the facts of the rest and of the periods before them in three
set-based reads, and inserts the reports. The unique (venue, kind, period_start) key makes a
rerun, a retry or a second process add nothing.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.clock import as_utc, iso_z
from encore_backend.domain.report_content import FeedbackFact, PeriodFacts, compose
from encore_backend.domain.report_periods import Kind, Period, due_periods, previous
from encore_backend.domain.stats_windows import zone_of
from encore_backend.services.manager_mail import report_items
from encore_backend.services.sla_service import unanswered_for_report
from encore_backend.storage.ports import ReportStore, spans_for

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class Due:
    """One report to produce: the venue, its timezone and the period."""

    venue_id: str
    timezone: str
    period: Period


@dataclass
class ReportRun:
    """What one run did, for the run record."""

    venues: int = 0
    missing: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DuePlan:
    """Every venue, the periods due now, and those of them not stored yet."""

    venues: list[dict[str, Any]]
    due: list[Due]
    missing: list[Due]

    def newest_starts(self) -> dict[str, datetime]:
        """Each venue's newest due period (stored or not): the only one whose report is mailed."""
        newest: dict[str, datetime] = {}
        for d in self.due:
            newest[d.venue_id] = max(d.period.start, newest.get(d.venue_id, d.period.start))
        return newest


def missing_reports(
    store: ReportStore, *, kind: Kind, now: datetime, hour: int, lookback: int | None = None
) -> DuePlan:
    """The venues, the due periods and the due reports not stored yet, in two queries."""
    venues = store.venues()
    due = [
        Due(v["venue_id"], v["timezone"], p)
        for v in venues
        for p in due_periods(
            kind, v["timezone"], now, hour=hour, lookback=lookback, not_before=v["created_at"]
        )
    ]
    if not due:
        return DuePlan(venues, due, [])
    have = store.existing(kind=kind, since=min(d.period.start for d in due))
    return DuePlan(venues, due, [d for d in due if (d.venue_id, d.period.start) not in have])


def produce_reports(
    ctx: Container, *, kind: Kind, now: datetime, lookback: int | None = None
) -> ReportRun:
    """Insert every due `kind` report that is not stored yet, with the email of each venue's
    newest one to its managers queued in the same transaction; rerunning adds none."""
    now = as_utc(now)
    hour = ctx.settings.scheduler_daily_report_hour
    plan = missing_reports(ctx.reports, kind=kind, now=now, hour=hour, lookback=lookback)
    if not plan.missing:
        return ReportRun(venues=len(plan.venues))
    rows = build_reports(ctx.reports, plan.missing, now=now)
    by_id = {v["venue_id"]: v for v in plan.venues}
    for row in rows:
        if row["kind"] == "daily":
            row["content"]["unanswered"] = unanswered_for_report(
                ctx, by_id[row["venue_id"]], until=row["period_end"], now=now
            )
    # Only the newest due period is mailed, judged over everything due (stored or not): a run
    # that catches up older periods, or loses a race for some, never mails an older one.
    newest = plan.newest_starts()
    prefs = ctx.manager_prefs.for_venues({d.venue_id for d in plan.missing})

    def emails(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
        mailed = [r for r in stored if r["period_start"] == newest[r["venue_id"]]]
        return report_items(ctx.settings, by_id, mailed, now=now, prefs=prefs)

    created = ctx.reports.insert(rows, emails=emails)
    return ReportRun(venues=len(plan.venues), missing=len(plan.missing), created=created)


def build_reports(
    store: ReportStore, missing: Sequence[Due], *, now: datetime
) -> list[dict[str, Any]]:
    """The report rows for `missing`, each compared with the period before it."""
    before = {d: previous(d.period, zone_of(d.timezone)) for d in missing}
    windows = {(d.venue_id, p.start): p.end for d in missing for p in (d.period, before[d])}
    facts = gather(store, windows)
    return [
        {
            "report_id": str(uuid.uuid4()),
            "venue_id": d.venue_id,
            "kind": d.period.kind,
            "period_start": d.period.start,
            "period_end": d.period.end,
            "generated_at": now,
            "content": {
                **compose(
                    facts[(d.venue_id, d.period.start)], facts[(d.venue_id, before[d].start)]
                ),
                "period": period_label(d),
            },
        }
        for d in missing
    ]


def period_label(due: Due) -> dict[str, Any]:
    """The local dates of the period, for people (the UTC bounds are the row's own fields)."""
    return {
        "timezone": due.timezone,
        "first_day": due.period.first_day.isoformat(),
        "last_day": due.period.last_day.isoformat(),
    }


class WindowIndex:
    """Finds the window of a (venue, instant); a venue's windows never overlap."""

    def __init__(self, windows: Mapping[tuple[str, datetime], datetime]) -> None:
        self._starts: dict[str, list[datetime]] = {}
        self._ends: dict[str, list[datetime]] = {}
        for (venue_id, start), end in sorted(windows.items()):
            self._starts.setdefault(venue_id, []).append(start)
            self._ends.setdefault(venue_id, []).append(end)

    def find(self, venue_id: str, when: datetime) -> tuple[str, datetime] | None:
        starts = self._starts.get(venue_id, [])
        i = bisect.bisect_right(starts, when) - 1
        if i >= 0 and when < self._ends[venue_id][i]:
            return venue_id, starts[i]
        return None


def gather(
    store: ReportStore, windows: Mapping[tuple[str, datetime], datetime]
) -> dict[tuple[str, datetime], PeriodFacts]:
    """Facts of every window in three reads over the windows' covering spans."""
    spans = spans_for((v, start, end) for (v, start), end in windows.items())
    index = WindowIndex(windows)
    facts = {key: PeriodFacts() for key in windows}
    for row, key in _placed(store.feedback_in(spans), index, "created_at"):
        facts[key].feedback.append(
            FeedbackFact(int(row["feedback_id"]), row["rating"], row["comment"])
        )
    for row, key in _placed(store.replies_sent_in(spans), index, "sent_at"):
        hours = (as_utc(row["sent_at"]) - as_utc(row["created_at"])).total_seconds()
        facts[key].reply_hours.append(hours / SECONDS_PER_HOUR)
    for row, key in _placed(store.critical_alerts_in(spans), index, "created_at"):
        alert = {"alert_id": row["alert_id"], "feedback_id": int(row["feedback_id"])}
        facts[key].critical_alerts.append({**alert, "title": row["title"]})
    return facts


def _placed(
    rows: Iterable[Mapping[str, Any]], index: WindowIndex, time_key: str
) -> Iterable[tuple[Mapping[str, Any], tuple[str, datetime]]]:
    """Rows with the window they fall in (rows between a venue's windows are dropped)."""
    for row in rows:
        key = index.find(row["venue_id"], as_utc(row[time_key]))
        if key is not None:
            yield row, key


def public_report(row: Mapping[str, Any]) -> dict[str, Any]:
    """The report document of SPEC §6, times as ISO-8601 with Z."""
    return {
        "report_id": row["report_id"],
        "venue_id": row["venue_id"],
        "kind": row["kind"],
        "period_start": iso_z(row["period_start"]),
        "period_end": iso_z(row["period_end"]),
        "generated_at": iso_z(row["generated_at"]),
        "content": row["content"],
    }


def list_reports(
    ctx: Container, *, venue_id: str, kind: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    rows = ctx.reports.list_for_venue(venue_id, kind=kind, limit=limit)
    return [public_report(r) for r in rows]


def get_report(ctx: Container, *, report_id: str) -> dict[str, Any] | None:
    row = ctx.reports.get(report_id)
    return public_report(row) if row else None
