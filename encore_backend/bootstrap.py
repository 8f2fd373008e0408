"""The one place where adapters are chosen from settings and wired together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from encore_backend.clock import Clock, SystemClock
from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import connect
from encore_backend.storage.dynamodb.stores import dynamo_stores
from encore_backend.storage.sql.alerts import SqlAlertStore
from encore_backend.storage.sql.cleanup import SqlCleanupStore
from encore_backend.storage.sql.email_queue import SqlEmailQueueStore
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.feedback import SqlFeedbackStore
from encore_backend.storage.sql.job_controls import SqlJobControlStore
from encore_backend.storage.sql.job_runs import SqlJobRunStore
from encore_backend.storage.sql.leases import SqlLeaseStore
from encore_backend.storage.sql.monthly_stats import SqlMonthlyStatsStore
from encore_backend.storage.sql.rate_limits import SqlRateLimitStore
from encore_backend.storage.sql.replies import SqlReplyStore
from encore_backend.storage.sql.reports import SqlReportStore
from encore_backend.storage.sql.scheduled_jobs import SqlScheduledJobsView
from encore_backend.storage.sql.stats import SqlStatsStore
from encore_backend.storage.sql.tokens import SqlTokenStore
from encore_backend.storage.sql.venues import SqlVenueStore
from encore_backend.storage.sql.webhooks import SqlWebhookStore


@dataclass
class Container:
    """Everything a job, a route or a command needs, built once per process."""

    settings: Settings
    clock: Clock
    engine: Engine
    venues: SqlVenueStore
    feedback: SqlFeedbackStore
    alerts: SqlAlertStore
    webhooks: SqlWebhookStore
    stats: SqlStatsStore
    job_runs: SqlJobRunStore
    job_controls: SqlJobControlStore
    leases: SqlLeaseStore
    scheduled_jobs: SqlScheduledJobsView
    tokens: SqlTokenStore
    replies: SqlReplyStore
    email_queue: SqlEmailQueueStore
    rate_limits: SqlRateLimitStore
    reports: SqlReportStore
    monthly_stats: SqlMonthlyStatsStore
    cleanup: SqlCleanupStore
    extras: dict[str, Any] = field(default_factory=dict)


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    **overrides: Any,
) -> Container:
    """Wire the engine from `settings`; tests pass a clock, an engine or any store to override."""
    engine = engine or make_engine(settings.encore_database_url)
    parts: dict[str, Any] = {
        **derived_stores(settings, engine),
        "venues": SqlVenueStore(engine),
        "feedback": SqlFeedbackStore(engine),
        "webhooks": SqlWebhookStore(engine),
        "job_runs": SqlJobRunStore(engine),
        "job_controls": SqlJobControlStore(engine),
        "leases": SqlLeaseStore(engine),
        "tokens": SqlTokenStore(engine),
        "rate_limits": SqlRateLimitStore(engine),
        "monthly_stats": SqlMonthlyStatsStore(engine),
        "cleanup": SqlCleanupStore(engine),
    }
    parts.update(overrides)
    return Container(settings=settings, clock=clock or SystemClock(), engine=engine, **parts)


def derived_stores(settings: Settings, engine: Engine) -> dict[str, Any]:
    """The stores of SPEC §6's derived documents, from ENCORE_DERIVED_STORE."""
    sql = {
        "stats": SqlStatsStore(engine),
        "alerts": SqlAlertStore(engine),
        "email_queue": SqlEmailQueueStore(engine),
        "replies": SqlReplyStore(engine),
        "reports": SqlReportStore(engine),
        "scheduled_jobs": SqlScheduledJobsView(engine),  # read from the profile's job store
    }
    if settings.encore_derived_store == "sql":
        return sql
    return dynamo_stores(connect(settings), sql)
