"""Fast synthetic data for the stats benchmark: generated inside the database, one statement each.

Rows are produced by the database itself (SQLite recursive CTE, MariaDB's sequence engine,
PostgreSQL generate_series) from a deterministic hash of the row number, so nothing crosses the
wire. The feedback table's secondary indexes are dropped for the load and rebuilt by sorting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, text

from encore_backend.storage.sql import models as m

BENCH_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
]


@dataclass(frozen=True)
class Segment:
    """`rows` feedback rows evenly spread over [start, end)."""

    rows: int
    start: datetime
    end: datetime


def venue_id(i: int) -> str:
    return f"v{i:05d}"


def load_venues(engine: Engine, count: int) -> None:
    rows = [
        {
            "venue_id": venue_id(i),
            "name": f"Bench venue {i}",
            "timezone": ZONES[i % len(ZONES)],
            "manager_emails": [],
            "webhook_secret": "bench",
            "created_at": BENCH_NOW - timedelta(days=800),
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(insert(m.venues), rows)


def _epoch(value: datetime) -> int:
    return int((value - EPOCH).total_seconds())


# Column expressions shared by every dialect; {ts} turns epoch seconds into the stored form.
_SELECT = """
SELECT {venue} AS venue_id,
       CASE WHEN rb = 0 THEN 1 WHEN rb = 1 THEN 2 WHEN rb = 2 THEN 3 WHEN rb < 6 THEN 4 ELSE 5 END,
       'Bench feedback.',
       CASE WHEN rs IS NULL THEN 'new' ELSE 'responded' END,
       {ts_t}, {ts_t}, {ts_t},
       CASE WHEN rs IS NULL THEN NULL ELSE {ts_r} END,
       rs
FROM (
  SELECT h, t, (h / :venues) % 10 AS rb,
         CASE WHEN (h / (:venues * 10)) % 10 < 6 AND t + 300 + (i * 40503) % 172800 <= :now
              THEN 300 + (i * 40503) % 172800 END AS rs
  FROM (SELECT i, (i * 2654435761) % 4294967296 AS h, :t0 + (i * :span) / :n AS t
        FROM {source}) AS hashed
) AS shaped
"""
_COLUMNS = (
    "venue_id, rating, comment, status, created_at, ingested_at, alert_scanned_at,"
    " responded_at, response_seconds"
)


def _feedback_sql(dialect: str, rows: int) -> str:
    if dialect == "sqlite":
        ts = "strftime('%Y-%m-%d %H:%M:%S', {x}, 'unixepoch') || '.000000'"
        parts = {
            "venue": "printf('v%05d', h % :venues)",
            "source": "seq",
        }
        prefix = "WITH RECURSIVE seq(i) AS "
        prefix += "(SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < :n - 1) "
    elif dialect in ("mysql", "mariadb"):
        ts = "TIMESTAMPADD(SECOND, {x}, '1970-01-01 00:00:00')"
        parts = {
            "venue": "CONCAT('v', LPAD(h % :venues, 5, '0'))",
            "source": f"(SELECT seq AS i FROM seq_0_to_{rows - 1}) AS s",
        }
        prefix = ""
    else:
        ts = "(TIMESTAMP '1970-01-01' + make_interval(secs => {x}))"
        parts = {
            "venue": "'v' || lpad((h % :venues)::text, 5, '0')",
            "source": "generate_series(0::bigint, :n - 1) AS s(i)",
        }
        prefix = ""
    body = _SELECT.format(ts_t=ts.format(x="t"), ts_r=ts.format(x="t + rs"), **parts)
    if dialect in ("mysql", "mariadb"):
        body = body.replace(" / ", " DIV ")
    return f"{prefix}INSERT INTO feedback ({_COLUMNS}) {body}"


def load_feedback(conn: Connection, venues: int, segment: Segment) -> None:
    """One INSERT … SELECT generating `segment.rows` rows in created_at order."""
    start, end = _epoch(segment.start), _epoch(segment.end)
    params = {
        "venues": venues,
        "n": segment.rows,
        "t0": start,
        "span": end - start,
        "now": _epoch(BENCH_NOW),
    }
    conn.execute(text(_feedback_sql(conn.dialect.name, segment.rows)), params)


def load_replies(conn: Connection) -> None:
    """Sent replies for the last two days' replies, drafts waiting for the last three days."""
    concat = "CONCAT('r', feedback_id)" if conn.dialect.name != "sqlite" else "'r' || feedback_id"
    if conn.dialect.name == "postgresql":
        concat = "'r' || feedback_id::text"
    base = (
        f"INSERT INTO encore_ai_responses (response_id, feedback_id, venue_id, subject, body,"
        f" status, provider, created_at, sent_at) SELECT {concat}, feedback_id, venue_id, 'Re',"
        f" 'Thank you.', {{status}}, 'template', created_at, {{sent}} FROM feedback"
        f" WHERE created_at >= :since AND {{where}}"
    )
    statuses = "CASE feedback_id % 5 WHEN 0 THEN 'generated' WHEN 1 THEN 'pending_approval'"
    statuses += " WHEN 2 THEN 'approved' WHEN 3 THEN 'auto_approved' ELSE 'rejected' END"
    sent = base.format(status="'sent'", sent="responded_at", where="responded_at >= :sent_since")
    drafts = base.format(status=statuses, sent="NULL", where="response_seconds IS NULL")
    conn.execute(
        text(sent),
        {"since": BENCH_NOW - timedelta(days=4), "sent_since": BENCH_NOW - timedelta(days=2)},
    )
    conn.execute(text(drafts), {"since": BENCH_NOW - timedelta(days=3)})


# Rebuilt after the load by sorting; ix_feedback_customer stays (MariaDB's foreign key needs it).
LOAD_DROPPED = ("ix_feedback_stats", "ix_feedback_created_at", "ix_feedback_unscanned")


def _dropped() -> list[Any]:
    return [ix for ix in m.feedback.indexes if ix.name in LOAD_DROPPED]


def drop_feedback_indexes(conn: Connection) -> None:
    for index in _dropped():
        index.drop(conn)


def create_feedback_indexes(conn: Connection) -> None:
    for index in _dropped():
        index.create(conn)
