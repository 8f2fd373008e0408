"""The one place where adapters are chosen from settings and wired together.

Everything else takes its stores from the Container, typed by the ports (storage.ports), so
the typed construction below is also mypy's proof that each adapter satisfies its port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, cast

from apscheduler.jobstores.base import BaseJobStore
from sqlalchemy import Engine

from encore_backend.clock import Clock, SystemClock
from encore_backend.config import Settings
from encore_backend.storage.ports import (
    AlertStore,
    ChannelStore,
    CleanupStore,
    DigestSource,
    EmailQueueStore,
    FeedbackStore,
    JobControlStore,
    JobRunStore,
    LeaseStore,
    ManagerPrefStore,
    MonthlyStatsStore,
    OpsCountStore,
    RateLimitStore,
    ReplyStore,
    ReportStore,
    ScheduledJobsView,
    StatsStore,
    TokenStore,
    TrendStore,
    VenueStore,
    WebhookStore,
)
from encore_backend.storage.sql.alerts import SqlAlertStore
from encore_backend.storage.sql.channels import SqlChannelStore
from encore_backend.storage.sql.cleanup import SqlCleanupStore
from encore_backend.storage.sql.digests import SqlDigestSource
from encore_backend.storage.sql.email_queue import SqlEmailQueueStore
from encore_backend.storage.sql.engine import is_sqlite_url, make_engine
from encore_backend.storage.sql.feedback import SqlFeedbackStore
from encore_backend.storage.sql.job_controls import SqlJobControlStore
from encore_backend.storage.sql.job_runs import SqlJobRunStore
from encore_backend.storage.sql.job_store import SqlJobStore
from encore_backend.storage.sql.leases import SqlLeaseStore
from encore_backend.storage.sql.manager_prefs import SqlManagerPrefStore
from encore_backend.storage.sql.monthly_stats import SqlMonthlyStatsStore
from encore_backend.storage.sql.ops_counts import SqlOpsCountStore
from encore_backend.storage.sql.rate_limits import SqlRateLimitStore
from encore_backend.storage.sql.replies import SqlReplyStore
from encore_backend.storage.sql.reports import SqlReportStore
from encore_backend.storage.sql.scheduled_jobs import SqlScheduledJobsView
from encore_backend.storage.sql.stats import SqlStatsStore
from encore_backend.storage.sql.tokens import SqlTokenStore
from encore_backend.storage.sql.trends import SqlTrendStore
from encore_backend.storage.sql.venues import SqlVenueStore
from encore_backend.storage.sql.webhooks import SqlWebhookStore

JobStoreFactory = Callable[[], BaseJobStore]


@dataclass
class Container:
    """Everything a job, a route or a command needs, built once per process."""

    settings: Settings
    clock: Clock
    engine: Engine  # the SQL source of truth: for bootstrap and tests, never read by the app
    venues: VenueStore
    feedback: FeedbackStore
    alerts: AlertStore
    webhooks: WebhookStore
    channels: ChannelStore
    stats: StatsStore
    job_runs: JobRunStore
    job_controls: JobControlStore
    leases: LeaseStore
    scheduled_jobs: ScheduledJobsView
    tokens: TokenStore
    replies: ReplyStore
    email_queue: EmailQueueStore
    rate_limits: RateLimitStore
    reports: ReportStore
    monthly_stats: MonthlyStatsStore
    cleanup: CleanupStore
    ops_counts: OpsCountStore
    trends: TrendStore
    manager_prefs: ManagerPrefStore
    digests: DigestSource
    job_store: JobStoreFactory  # a new APScheduler job store for each scheduler started
    extras: dict[str, Any] = field(default_factory=dict)


class DerivedStores(TypedDict):
    """The stores of SPEC §6's derived documents, chosen by ENCORE_DERIVED_STORE, and those
    that read them together with the source of truth."""

    stats: StatsStore
    alerts: AlertStore
    email_queue: EmailQueueStore
    replies: ReplyStore
    reports: ReportStore
    scheduled_jobs: ScheduledJobsView
    job_store: JobStoreFactory
    monthly_stats: MonthlyStatsStore
    cleanup: CleanupStore
    ops_counts: OpsCountStore


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    **overrides: Any,
) -> Container:
    """Wire the engine from `settings`; tests pass a clock, an engine or any store to override."""
    engine = engine or make_engine(settings.encore_database_url)
    ctx = Container(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        **derived_stores(settings, engine),
        venues=SqlVenueStore(engine),
        feedback=SqlFeedbackStore(engine),
        webhooks=SqlWebhookStore(engine),
        channels=SqlChannelStore(engine),
        job_runs=SqlJobRunStore(engine),
        job_controls=SqlJobControlStore(engine),
        leases=SqlLeaseStore(engine),
        tokens=SqlTokenStore(engine),
        rate_limits=SqlRateLimitStore(engine),
        trends=SqlTrendStore(engine),
        manager_prefs=SqlManagerPrefStore(engine),
        digests=SqlDigestSource(engine),
    )
    return replace(ctx, **overrides) if overrides else ctx


def derived_stores(settings: Settings, engine: Engine) -> DerivedStores:
    """The stores of SPEC §6's derived documents and the scheduler's job store, from
    ENCORE_DERIVED_STORE: SQL, or DynamoDB over the SQL source of truth."""
    sql: DerivedStores = {
        "stats": SqlStatsStore(engine),
        "alerts": SqlAlertStore(engine),
        "email_queue": SqlEmailQueueStore(engine),
        "replies": SqlReplyStore(engine),
        "reports": SqlReportStore(engine),
        "scheduled_jobs": SqlScheduledJobsView(engine),
        "job_store": lambda: SqlJobStore(engine),
        "monthly_stats": SqlMonthlyStatsStore(engine),
        "cleanup": SqlCleanupStore(engine),
        "ops_counts": SqlOpsCountStore(engine),
    }
    if settings.encore_derived_store == "sql":
        return sql
    from encore_backend.storage.dynamodb.connection import connect
    from encore_backend.storage.dynamodb.stores import dynamo_stores

    return cast(DerivedStores, dynamo_stores(connect(settings), sql))


def upgrade_database(settings: Settings) -> None:
    """Bring the SQL database of ENCORE_DATABASE_URL up to date (its migrations)."""
    from encore_backend.storage.sql.migrate import upgrade

    upgrade(make_engine(settings.encore_database_url))


def single_writer(settings: Settings) -> bool:
    """True when the SQL database takes one writing process at a time (SQLite)."""
    return is_sqlite_url(settings.encore_database_url)


def close_connections(ctx: Container) -> None:
    """Close the container's pooled connections (before forking processes that build their own)."""
    ctx.engine.dispose()


def build_migrated(settings: Settings) -> Container:
    """Migrate the database, then wire the container on the same engine (commands, serve).
    In the DynamoDB profile, first check its tables: MissingTables names those missing."""
    from encore_backend.storage.sql.migrate import upgrade

    if settings.encore_derived_store == "dynamodb":
        from encore_backend.storage.dynamodb.tables import require_tables

        require_tables(settings)
    engine = make_engine(settings.encore_database_url)
    upgrade(engine)
    return build(settings, engine=engine)
