"""The storage ports: one small protocol per store, named for its role, and the values that
cross them. Adapters live in storage/sql (and storage/dynamodb); bootstrap chooses them."""

from encore_backend.storage.errors import StorageError, StorageUnavailable, VenueExistsError
from encore_backend.storage.ports.derived import (
    AlertStore,
    EmailQueueStore,
    ReplyStore,
    ReportStore,
    SavedScan,
    Span,
    StatsStore,
    spans_for,
)
from encore_backend.storage.ports.operations import (
    Acquired,
    AcquiredMany,
    Claim,
    CleanupRule,
    CleanupStore,
    JobControlStore,
    JobRunStore,
    LeaseStore,
    OpsCountStore,
    Permit,
    RateLimitStore,
    ScheduledJobsView,
)
from encore_backend.storage.ports.source import (
    FeedbackStore,
    MonthlyStatsStore,
    TokenStore,
    TrendStore,
    VenueStore,
    WebhookStore,
)

__all__ = [
    "Acquired",
    "AcquiredMany",
    "AlertStore",
    "Claim",
    "CleanupRule",
    "CleanupStore",
    "EmailQueueStore",
    "FeedbackStore",
    "JobControlStore",
    "JobRunStore",
    "LeaseStore",
    "MonthlyStatsStore",
    "OpsCountStore",
    "Permit",
    "RateLimitStore",
    "ReplyStore",
    "ReportStore",
    "SavedScan",
    "ScheduledJobsView",
    "Span",
    "StatsStore",
    "StorageError",
    "StorageUnavailable",
    "TokenStore",
    "TrendStore",
    "VenueExistsError",
    "VenueStore",
    "WebhookStore",
    "spans_for",
]
