"""The tables of SPEC §6 as DynamoDB key schemas: one definition that `create-tables`, the
start-up check, the SAM template test and the adapters all read.

Keys that SPEC names by a time (`detected_at`, `scheduled_send_time`, `period_start`) are not
unique on their own, so the sort key is an `sk` string that starts with that time (or kind)
and ends with the document's id: it sorts like the named field and never collides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

S, N, B = "S", "N", "B"
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; DynamoDB only marks, cleanup still deletes


@dataclass(frozen=True)
class Index:
    """A global secondary index, projecting all attributes."""

    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table: its role (the name after the prefix), keys, indexes and TTL attribute."""

    role: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    ttl: bool = True

    def attribute_definitions(self) -> list[dict[str, str]]:
        keys = [self.hash_key, self.range_key] + [
            k for i in self.indexes for k in (i.hash_key, i.range_key)
        ]
        seen = {name: kind for name, kind in (k for k in keys if k is not None)}
        return [{"AttributeName": n, "AttributeType": t} for n, t in sorted(seen.items())]


COMPUTED_STATS = TableSpec("computed_stats", ("venue_id", S), ("computed_at", S))
VENUE_ALERTS = TableSpec(
    "venue_alerts",
    ("venue_id", S),
    ("sk", S),  # detected_at#feedback_id
    (Index("alert_id", ("alert_id", S)), Index("feedback_id", ("feedback_id", N))),
)
EMAIL_QUEUE = TableSpec(
    "email_queue",
    ("venue_id", S),
    ("sk", S),  # scheduled_send_time#queue_id
    (
        Index("status", ("status", S), ("due_key", S)),  # due_key: next due time#queue_id
        Index("queue_id", ("queue_id", S)),
        Index("response_id", ("response_id", S)),
    ),
)
EMAIL_HISTORY = TableSpec("email_history", ("queue_id", S), ("sk", S))  # attempted_at#n
AI_RESPONSES = TableSpec(
    "ai_responses",
    ("feedback_id", N),  # one reply per feedback, by key
    None,
    (
        Index("response_id", ("response_id", S)),
        Index("venue_created", ("venue_id", S), ("created_key", S)),  # created_at#response_id
        Index("venue_sent", ("venue_id", S), ("sent_at", S)),  # sparse: sent replies only
        Index("status", ("status", S), ("created_key", S)),
    ),
)
REPORTS = TableSpec(
    "reports",
    ("venue_id", S),
    ("sk", S),  # kind#period_start: one report per (venue, kind, period) by key
    (
        Index("report_id", ("report_id", S)),
        Index("kind_period", ("kind", S), ("period_start", S)),
    ),
)
SCHEDULER_JOBS = TableSpec(
    "scheduler_jobs",
    ("id", S),
    None,
    # run_key: the next run time as sortable text, "~" while paused (listed last, never due)
    (Index("next_run", ("store", S), ("run_key", S)),),
    ttl=False,
)

TABLES: tuple[TableSpec, ...] = (
    COMPUTED_STATS,
    VENUE_ALERTS,
    EMAIL_QUEUE,
    EMAIL_HISTORY,
    AI_RESPONSES,
    REPORTS,
    SCHEDULER_JOBS,
)
