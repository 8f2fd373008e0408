"""Housekeeping statements of weekly_cleanup, each run in short batches.

The port names a rule (storage.ports.operations.CleanupRule); here it becomes a query picking
row ids and a statement acting on a list of them. Applying a rule takes up to `batch` ids and
acts on them in one transaction, then the next batch, so a large table is never locked for long;
counting a rule (the dry run) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Executable, Select, delete, exists, func, select, update

from encore_backend.storage.ports.operations import CleanupRule
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.stats_thinning import thin_snapshots

BATCH = 1000
A, J, Q, R, F, V = (
    m.alerts.c,
    m.job_runs.c,
    m.email_queue.c,
    m.ai_responses.c,
    m.feedback.c,
    m.venues.c,
)


@dataclass(frozen=True)
class Rule:
    """Ids to act on (`pick`, ordered by id) and what to do with a batch of them."""

    name: str
    pick: Select[Any]
    act: Callable[[list[Any]], Executable]


def archive_alerts(*, before: datetime, now: datetime) -> Rule:
    """Alerts detected before `before` and not archived yet get archived_at = now."""
    pick = select(A.alert_id).where(A.archived_at.is_(None), A.detected_at < before)
    return Rule(
        "alerts_archived",
        pick.order_by(A.alert_id),
        lambda ids: (
            update(m.alerts)
            .where(A.alert_id.in_(ids), A.archived_at.is_(None))
            .values(archived_at=now)
        ),
    )


def purge_failed_emails(*, before: datetime) -> Rule:
    """Failed queue items created before `before` (their attempt history goes with them)."""
    pick = select(Q.queue_id).where(Q.status == "failed", Q.created_at < before)
    return Rule(
        "failed_emails_deleted",
        pick.order_by(Q.queue_id),
        lambda ids: delete(m.email_queue).where(Q.queue_id.in_(ids)),
    )


def trim_job_runs(*, before: datetime) -> Rule:
    """Finished runs started before `before`, keeping each job's latest run whatever its age."""
    latest = select(func.max(J.run_id)).group_by(J.job_id)
    pick = select(J.run_id).where(
        J.started_at < before, J.status != "running", J.run_id.not_in(latest)
    )
    return Rule(
        "job_runs_deleted",
        pick.order_by(J.run_id),
        lambda ids: delete(m.job_runs).where(J.run_id.in_(ids)),
    )


def _missing(column: Any, ref: Any) -> Any:
    """True where `ref` matches no row by `column` (a correlated NOT EXISTS)."""
    return ~exists().where(column == ref)


def _dangling(column: Any, ref: Any) -> Any:
    """An optional reference that is set but points at no row (a report's email has no
    feedback, a reply's no report)."""
    return ref.is_not(None) & _missing(column, ref)


def orphan_rules() -> list[Rule]:
    """Queue items, replies and alerts whose feedback, reply or venue no longer exists."""
    queue = select(Q.queue_id).where(
        _dangling(F.feedback_id, Q.feedback_id)
        | _dangling(R.response_id, Q.response_id)
        | _dangling(m.reports.c.report_id, Q.report_id)
        | _dangling(A.alert_id, Q.alert_id)
        | _missing(V.venue_id, Q.venue_id)
    )
    replies = select(R.response_id).where(
        _missing(F.feedback_id, R.feedback_id) | _missing(V.venue_id, R.venue_id)
    )
    alerts = select(A.alert_id).where(
        _missing(F.feedback_id, A.feedback_id) | _missing(V.venue_id, A.venue_id)
    )
    return [
        Rule(
            "orphan_queue_items",
            queue.order_by(Q.queue_id),
            lambda ids: delete(m.email_queue).where(Q.queue_id.in_(ids)),
        ),
        Rule(
            "orphan_replies",
            replies.order_by(R.response_id),
            lambda ids: delete(m.ai_responses).where(R.response_id.in_(ids)),
        ),
        Rule(
            "orphan_alerts",
            alerts.order_by(A.alert_id),
            lambda ids: delete(m.alerts).where(A.alert_id.in_(ids)),
        ),
    ]


def _given(value: datetime | None, rule: CleanupRule) -> datetime:
    if value is None:
        raise ValueError(f"cleanup rule {rule.name!r} needs its cut-off times")
    return value


def sql_rule(rule: CleanupRule) -> Rule:
    """The statements behind a port rule, found by its name."""
    if rule.name == "alerts_archived":
        return archive_alerts(before=_given(rule.before, rule), now=_given(rule.now, rule))
    if rule.name == "failed_emails_deleted":
        return purge_failed_emails(before=_given(rule.before, rule))
    if rule.name == "job_runs_deleted":
        return trim_job_runs(before=_given(rule.before, rule))
    for orphans in orphan_rules():
        if orphans.name == rule.name:
            return orphans
    raise ValueError(f"no cleanup rule named {rule.name!r}")


@raises_port_errors
class SqlCleanupStore:
    """Runs cleanup rules in batches, and the full stats-snapshot thinning pass."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count(self, rule: CleanupRule) -> int:
        """How many rows the rule would act on now."""
        pick = sql_rule(rule).pick
        query = select(func.count()).select_from(pick.order_by(None).subquery())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def apply(self, rule: CleanupRule, *, batch: int = BATCH) -> int:
        """Act on every row the rule picks, `batch` ids per transaction; rows changed."""
        sql, done = sql_rule(rule), 0
        while True:
            with self.engine.begin() as conn:
                ids = list(conn.execute(sql.pick.limit(batch)).scalars())
                changed = int(conn.execute(sql.act(ids)).rowcount or 0) if ids else 0
            done += changed
            if len(ids) < batch or changed == 0:
                return done

    def thin_stats(self, *, now: datetime, dry_run: bool = False) -> int:
        """A full thinning pass over old snapshots; a dry run counts it and rolls back."""
        with self.engine.connect() as conn:
            tx = conn.begin()
            deleted = thin_snapshots(conn, now=now, lookback=None)
            if dry_run:
                tx.rollback()
            else:
                tx.commit()
        return deleted
