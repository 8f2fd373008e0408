"""The relational schema (SQLAlchemy Core). Alembic migrations are written against this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from encore_backend.storage.sql.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids that still autoincrement on SQLite (which only does so for INTEGER keys).
BigId = BigInteger().with_variant(Integer, "sqlite")

venues = Table(
    "venues",
    metadata,
    Column("venue_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("manager_emails", JSON, nullable=False),
    Column("webhook_url", String(500)),
    Column("webhook_secret", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

venue_settings = Table(
    "venue_settings",
    metadata,
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("ai_generation_enabled", Boolean, nullable=False, default=True),
    Column("auto_generate_responses", Boolean, nullable=False, default=True),
    Column("auto_send_enabled", Boolean, nullable=False, default=False),
    Column("auto_send_delay_minutes", Integer, nullable=False, default=30),
    Column("require_approval", Boolean, nullable=False, default=False),
    Column("daily_report_enabled", Boolean, nullable=False, default=True),
    Column("weekly_report_enabled", Boolean, nullable=False, default=True),
    Column("alert_notify_min_level", String(16), nullable=False, default="high"),
    Column("brand_voice", Text),
    # {"critical": ["salmonella"], "high": [...]}: extra keywords per level.
    Column("alert_keywords", JSON, nullable=False),
    # Rule ids switched off for this venue, e.g. ["rating", "repeated_complaint"].
    Column("alert_rules_disabled", JSON, nullable=False),
    # Bad feedback without a sent reply this many venue-local clock hours later is escalated.
    Column("response_sla_hours", Integer, nullable=False, default=24, server_default="24"),
    # Brand voice: warm | formal | playful, a signature, and phrases no draft may send unseen.
    Column("reply_tone", String(16), nullable=False, default="warm", server_default="warm"),
    Column("reply_signature", Text),
    Column("banned_phrases", JSON, nullable=False, server_default="[]"),
    Column("updated_at", UTCDateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(320), unique=True),
    Column("name", String(200)),
    Column("lifetime_value", Numeric(12, 2)),
    Column("tier", String(32)),
    Column("unsubscribed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", BigId, primary_key=True, autoincrement=True),
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), nullable=False
    ),
    Column("customer_id", BigId, ForeignKey("customers.customer_id", ondelete="SET NULL")),
    Column("rating", SmallInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("status", String(16), nullable=False, default="new"),
    Column("external_id", String(128)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    # Set once the alert detector has looked at this row: the persistent scan cursor.
    Column("alert_scanned_at", UTCDateTime),
    # Set when a reply is sent; response_seconds = responded_at - created_at (stats read it).
    Column("responded_at", UTCDateTime),
    Column("response_seconds", Integer),
    # Drafting retries across runs after transient provider failures (ai_generator).
    Column("draft_attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("draft_retry_at", UTCDateTime),
    Column("draft_error", Text),
    # Set once by response_sla when the feedback is still unanswered past the venue's deadline.
    Column("escalated_at", UTCDateTime),
    UniqueConstraint("venue_id", "external_id"),
    # Covering index of the stats aggregate: per-venue range scan over created_at.
    Index("ix_feedback_stats", "venue_id", "created_at", "rating", "response_seconds"),
    Index("ix_feedback_created_at", "created_at"),
    Index("ix_feedback_unscanned", "alert_scanned_at", "feedback_id"),
    Index("ix_feedback_customer", "customer_id", "venue_id", "created_at"),
    # response_sla's candidates and the overdue count: a venue's unanswered feedback by age.
    Index("ix_feedback_unanswered", "venue_id", "responded_at", "escalated_at", "created_at"),
)

alerts = Table(
    "encore_venue_alerts",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "feedback_id",
        BigId,
        ForeignKey("feedback.feedback_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,  # at most one alert per feedback, enforced by the database
    ),
    Column("level", String(16), nullable=False),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("is_read", Boolean, nullable=False, default=False),
    Column("acknowledged_by", String(200)),
    Column("acknowledged_at", UTCDateTime),
    Column("archived_at", UTCDateTime),
    Column("escalated_at", UTCDateTime),  # its feedback went unanswered past the deadline
    Index("ix_alerts_venue_detected", "venue_id", "detected_at"),
)

# A venue's notification channels: where its alerts and escalations are posted, in the
# channel's format (slack: Block Kit, teams: Adaptive Card, webhook: the signed JSON event).
# A channel that keeps failing is marked (failing_since) and then disabled (disabled_at).
notification_channels = Table(
    "notification_channels",
    metadata,
    Column("channel_id", String(36), primary_key=True),
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), nullable=False
    ),
    Column("type", String(16), nullable=False),
    Column("url", String(500), nullable=False),
    Column("name", String(200)),
    Column("levels", JSON, nullable=False),  # alert levels it wants, e.g. ["critical", "high"]
    Column("created_at", UTCDateTime, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, default=0, server_default="0"),
    Column("failing_since", UTCDateTime),
    Column("disabled_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_delivered_at", UTCDateTime),
    Index("ix_notification_channels_venue", "venue_id"),
)

# What each manager address of a venue wants by email. No row: the default (critical alerts at
# once, the venue's daily and weekly reports). mode: immediate | digest | weekly | none.
manager_preferences = Table(
    "manager_preferences",
    metadata,
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("email", String(320), primary_key=True),  # lower-cased
    Column("mode", String(16), nullable=False),
    Column("digest_hour", SmallInteger),  # venue-local hour of the daily digest (mode digest)
    Column("quiet_start_hour", SmallInteger),  # venue-local [start, end) hours; may wrap midnight
    Column("quiet_end_hour", SmallInteger),
    Column("updated_at", UTCDateTime, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    # No foreign key: with ENCORE_DERIVED_STORE=dynamodb the alert lives in DynamoDB and this
    # SQL table of alerts stays empty (migration 0003). NULL for an escalation of feedback that
    # raised no alert.
    Column("alert_id", String(36)),
    Column("venue_id", String(64), nullable=False),
    # What happened (`alert.created`, `feedback.escalated`), the feedback it is about, and the
    # venue notification channel it goes to (NULL: the venue's own webhook_url).
    Column(
        "event", String(32), nullable=False, default="alert.created", server_default="alert.created"
    ),
    Column("feedback_id", BigInteger),
    Column(
        "channel_id",
        String(36),
        ForeignKey("notification_channels.channel_id", ondelete="CASCADE"),
    ),
    Column("url", String(500), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_alert", "alert_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("attempt_id", BigId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        String(36),
        ForeignKey("webhook_deliveries.delivery_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)

computed_stats = Table(
    "encore_computed_stats",
    metadata,
    Column("snapshot_id", BigId, primary_key=True, autoincrement=True),
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), nullable=False
    ),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("stats", JSON, nullable=False),
    UniqueConstraint("venue_id", "computed_at"),
    Index("ix_computed_stats_computed_at", "computed_at"),
)

ai_responses = Table(
    "encore_ai_responses",
    metadata,
    Column("response_id", String(36), primary_key=True),
    Column(
        "feedback_id",
        BigId,
        ForeignKey("feedback.feedback_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("venue_id", String(64), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(24), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("model", String(128)),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("approved_by", String(200)),
    Column("approved_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    # Why the draft waits for a manager whatever the settings (compensation, critical alert).
    Column("hold_reason", Text),
    Index("ix_ai_responses_status_venue", "status", "venue_id"),
    # The dashboard's replies of one venue and status, newest first.
    Index("ix_ai_responses_venue_status", "venue_id", "status", "created_at"),
    Index("ix_ai_responses_sent_venue", "sent_at", "venue_id"),
    # Unique: exactly one reply per feedback, even when two generators race.
    Index("ix_ai_responses_feedback", "feedback_id", unique=True),
)

# One queue for every email we send (same claim, limits and retries): `kind` says what it carries.
# reply: a customer's reply (feedback_id, response_id); report: a daily/weekly report to one
# manager (report_id); alert: a critical alert to one manager (alert_id, feedback_id).
# `customer_email` is the recipient: the customer for replies, the manager otherwise.
email_queue = Table(
    "encore_email_queue",
    metadata,
    Column("queue_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False, default="reply", server_default="reply"),
    Column(
        "feedback_id",
        BigId,
        ForeignKey("feedback.feedback_id", ondelete="CASCADE"),
    ),
    Column(
        "response_id",
        String(36),
        ForeignKey("encore_ai_responses.response_id", ondelete="CASCADE"),
        unique=True,  # one queue item per reply: approving twice never queues twice
    ),
    Column("report_id", String(36), ForeignKey("encore_reports.report_id", ondelete="CASCADE")),
    Column("alert_id", String(36), ForeignKey("encore_venue_alerts.alert_id", ondelete="CASCADE")),
    Column("venue_id", String(64), nullable=False),
    Column("customer_email", String(320)),
    Column("scheduled_send_time", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    # The claim of a worker sending it: who, and until when (then "outcome unknown").
    Column("claimed_by", String(128)),
    Column("lease_expires_at", UTCDateTime),
    Column("next_attempt_at", UTCDateTime),
    Column("message_id", String(255), nullable=False),
    # Manager notices without a report or alert of their own (an escalation, a digest): the key
    # (`escalation:<feedback_id>`, `digest:<venue_id>:<local date>`) and what the email shows.
    Column("notice_key", String(120)),
    Column("payload", JSON),
    Index("ix_email_queue_due", "status", "scheduled_send_time"),
    Index("ix_email_queue_venue", "venue_id", "scheduled_send_time"),
    # One email per report or alert and recipient, however often the job reruns.
    UniqueConstraint("report_id", "customer_email", name="uq_email_queue_report_recipient"),
    UniqueConstraint("alert_id", "customer_email", name="uq_email_queue_alert_recipient"),
    UniqueConstraint("notice_key", "customer_email", name="uq_email_queue_notice_recipient"),
)

email_history = Table(
    "email_history",
    metadata,
    Column("history_id", BigId, primary_key=True, autoincrement=True),
    Column(
        "queue_id",
        String(36),
        ForeignKey("encore_email_queue.queue_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("error", Text),
    Column("backend", String(16)),
    Column("provider_message_id", String(255)),
    Index("ix_email_history_queue", "queue_id", "attempted_at"),
)

# Cross-process rate limits: `limit` slot rows per name; a use takes a slot last used ≥ 60 s ago.
rate_limit_slots = Table(
    "rate_limit_slots",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("used_at", UTCDateTime, nullable=False),
    Column("uses", BigInteger, nullable=False, default=0),
    Index("ix_rate_limit_slots_used", "name", "used_at"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("run_id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False),
    # The claim: schedule runs use the tick's ISO fire time, other runs a unique token.
    Column("tick_key", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("fire_time", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime),
    Column("lease_expires_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("duration_ms", Integer),
    Column("items_processed", Integer, nullable=False, default=0),
    Column("details", JSON),
    Column("error", Text),
    # A dry run reports what the job would do and changes nothing.
    Column("dry_run", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("job_id", "tick_key"),
    Index("ix_job_runs_job_started", "job_id", "started_at"),
    Index("ix_job_runs_job_status", "job_id", "status"),
)

# Named leases: the process holding `scheduler` fires every tick (the others stand by).
scheduler_leases = Table(
    "scheduler_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("renewed_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# One row per job: its pause state (written by any process, applied by the leader), and the
# row an exclusive run claim locks so overlap is decided in one place.
job_controls = Table(
    "job_controls",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(128)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE")),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

# APScheduler's SQLAlchemyJobStore layout, created by our migrations so one upgrade sets up all.
scheduler_jobs = Table(
    "encore_scheduler_jobs",
    metadata,
    Column("id", String(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column(
        "job_state",
        LargeBinary().with_variant(LargeBinary(2**24), "mysql", "mariadb"),
        nullable=False,
    ),
)

# One report per venue, kind and period: the unique key is what makes reruns add nothing.
reports = Table(
    "encore_reports",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), nullable=False
    ),
    Column("kind", String(16), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("generated_at", UTCDateTime, nullable=False),
    Column("content", JSON, nullable=False),
    UniqueConstraint("venue_id", "kind", "period_start"),
)

# Long-term statistics: one row per venue and local calendar month, recomputed by weekly_cleanup.
# Sums and counts (exact on every database); averages are derived when read.
monthly_stats = Table(
    "encore_monthly_stats",
    metadata,
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("month", String(7), primary_key=True),  # 'YYYY-MM', venue-local
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("feedback_count", Integer, nullable=False),
    Column("rating_sum", Integer, nullable=False),
    Column("positive_count", Integer, nullable=False),
    Column("responded_count", Integer, nullable=False),
    Column("response_seconds_sum", BigInteger, nullable=False),
    Column("responses_sent", Integer, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)

# The dashboard's trend chart: feedback count and rating sum per venue and UTC hour, recounted
# by stats_aggregator for the hours its new feedback falls in (SPEC §8: dashboards read stored
# figures, never live aggregates). Feedback is only deleted with its venue, and so are these.
feedback_hourly = Table(
    "feedback_hourly",
    metadata,
    Column(
        "venue_id", String(64), ForeignKey("venues.venue_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("hour_start", UTCDateTime, primary_key=True),
    Column("feedback_count", Integer, nullable=False),
    Column("rating_sum", Integer, nullable=False),
)

# How far feedback_hourly has counted: every feedback_id up to `feedback_id` is in the buckets.
# One row per counter (`name`); absent before the first run, which backfills every bucket.
count_cursors = Table(
    "count_cursors",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("feedback_id", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
