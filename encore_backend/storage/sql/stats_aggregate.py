"""The set-based stats aggregate: a fixed number of statements whatever the number of venues.

The per-venue windows go into a temporary table (one executemany). Two grouped joins then read
each venue's trailing 30 days and its calendar windows (today, week, month) as range scans of the
covering index ix_feedback_stats (venue_id, created_at, rating, response_seconds); small queries
count pending and sent replies and the escalated feedback still unanswered (overdue). Each
aggregate column is a plain COUNT/SUM or a filtered COUNT: per-row CASE expressions cost several
times the scan itself on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from encore_backend.domain.enums import PENDING_REPLY_STATUSES
from encore_backend.domain.stats_windows import StatsWindows
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.escalations import answerable
from encore_backend.storage.sql.types import UTCDateTime

windows_table = Table(
    "tmp_stats_windows",
    MetaData(),
    Column("venue_id", String(64), primary_key=True),
    Column("calendar_start", UTCDateTime, nullable=False),
    Column("today_start", UTCDateTime, nullable=False),
    Column("week_start", UTCDateTime, nullable=False),
    Column("month_start", UTCDateTime, nullable=False),
    Column("trailing_start", UTCDateTime, nullable=False),
    Column("now", UTCDateTime, nullable=False),
    prefixes=["TEMPORARY"],
)
WINDOW_FIELDS = ("calendar_start", "today_start", "week_start", "month_start", "trailing_start")
COUNT_KEYS = (
    "feedback_today",
    "feedback_this_week",
    "feedback_this_month",
    "feedback_30d",
    "rating_sum_30d",
    "positive_30d",
    "responded_30d",
    "response_seconds_30d",
    "pending_responses",
    "sent_today",
    "overdue_responses",
)
MYSQL = ("mysql", "mariadb")


class count_if(FunctionElement[int]):
    """COUNT(*) FILTER (WHERE cond); SUM(cond) where FILTER is missing (MariaDB/MySQL)."""

    type = Integer()
    inherit_cache = True


@compiles(count_if)
def _count_if_filter(element: count_if, compiler: Any, **kw: Any) -> str:
    return f"count(*) FILTER (WHERE {compiler.process(element.clauses, **kw)})"


@compiles(count_if, "mysql")
@compiles(count_if, "mariadb")
def _count_if_sum(element: count_if, compiler: Any, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


def _trailing_columns() -> list[Any]:
    f = m.feedback.c
    return [
        func.count(f.rating).label("feedback_30d"),
        func.sum(f.rating).label("rating_sum_30d"),
        count_if(f.rating >= 4).label("positive_30d"),
        func.count(f.response_seconds).label("responded_30d"),
        func.sum(f.response_seconds).label("response_seconds_30d"),
    ]


def _calendar_columns() -> list[Any]:
    w, f = windows_table.c, m.feedback.c
    return [
        count_if(f.created_at >= w.today_start).label("feedback_today"),
        count_if(f.created_at >= w.week_start).label("feedback_this_week"),
        count_if(f.created_at >= w.month_start).label("feedback_this_month"),
    ]


def _per_venue_scan(columns: list[Any], start: str) -> Any:
    """Windows outer, feedback inner: one range scan of ix_feedback_stats per venue
    (SQLite needs the temporary table analyzed for it; PostgreSQL finds it by itself)."""
    w, f = windows_table.c, m.feedback.c
    on = (f.venue_id == w.venue_id) & (f.created_at >= w[start]) & (f.created_at <= w.now)
    return (
        select(w.venue_id, *columns)
        .select_from(windows_table.outerjoin(m.feedback, on))
        .group_by(w.venue_id)
    )


def _in_list_scan_mysql(columns: list[Any], start: str, windows: Mapping[str, Any]) -> Any:
    """MariaDB/MySQL only use the venue_id prefix of the index when joining from the windows
    (reading all history); a constant IN list with a constant created_at range is one range scan
    per venue of just the window. The trailing window is the same instant for every venue, so it
    needs no join; the calendar one joins the windows from feedback (STRAIGHT_JOIN)."""
    w, f = windows_table.c, m.feedback.c
    lowest = min(getattr(x, start) for x in windows.values())
    latest = max(x.now for x in windows.values())
    query = select(f.venue_id, *columns).where(
        f.venue_id.in_(list(windows)), f.created_at >= lowest, f.created_at <= latest
    )
    if start == "trailing_start" and len({x.now for x in windows.values()}) == 1:
        return query.group_by(f.venue_id)
    query = (
        query.select_from(m.feedback.join(windows_table, w.venue_id == f.venue_id))
        .where(f.created_at >= w[start], f.created_at <= w.now)
        .group_by(f.venue_id)
    )
    return query.prefix_with("STRAIGHT_JOIN", dialect="mysql").prefix_with(
        "STRAIGHT_JOIN", dialect="mariadb"
    )


def _pending_replies() -> Any:
    r = m.ai_responses.c
    statuses = [s.value for s in PENDING_REPLY_STATUSES]
    return (
        select(r.venue_id, func.count().label("pending_responses"))
        .where(r.status.in_(statuses))
        .group_by(r.venue_id)
    )


def _overdue() -> Any:
    """Escalated feedback still without a sent reply (and answerable), per venue
    (ix_feedback_unanswered)."""
    f = m.feedback.c
    return (
        select(f.venue_id, func.count().label("overdue_responses"))
        .where(f.responded_at.is_(None), f.escalated_at.is_not(None), answerable())
        .group_by(f.venue_id)
    )


def _sent_today(windows: Mapping[str, StatsWindows]) -> Any:
    """Replies sent in each venue's local day: one constant range of ix_ai_responses_sent_venue."""
    w, r = windows_table.c, m.ai_responses.c
    earliest = min(x.today_start for x in windows.values())
    latest = max(x.now for x in windows.values())
    return (
        select(r.venue_id, func.count().label("sent_today"))
        .select_from(m.ai_responses.join(windows_table, w.venue_id == r.venue_id))
        .where(r.sent_at >= earliest, r.sent_at <= latest)
        .where(r.sent_at >= w.today_start, r.sent_at <= w.now)
        .group_by(r.venue_id)
    )


def create_windows(conn: Connection, windows: Mapping[str, StatsWindows]) -> None:
    """Fill the temporary table, first dropping a leftover on this pooled connection."""
    dialect = conn.dialect.name
    if dialect in MYSQL:
        conn.exec_driver_sql("DROP TEMPORARY TABLE IF EXISTS tmp_stats_windows")
    else:
        schema = "pg_temp" if dialect == "postgresql" else "temp"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.tmp_stats_windows")
    windows_table.create(conn)
    rows = [
        {"venue_id": v, "now": w.now, **{k: getattr(w, k) for k in WINDOW_FIELDS}}
        for v, w in windows.items()
    ]
    conn.execute(insert(windows_table), rows)
    if dialect == "sqlite":
        # With sqlite_stat1 for feedback but none for this fresh table, SQLite builds an
        # automatic index over all of feedback instead of range-scanning ix_feedback_stats.
        conn.exec_driver_sql("ANALYZE temp.tmp_stats_windows")


def feedback_queries(dialect: str, windows: Mapping[str, StatsWindows]) -> list[Any]:
    """The trailing-30-days and the calendar aggregate over feedback, for this dialect."""
    parts = ((_trailing_columns(), "trailing_start"), (_calendar_columns(), "calendar_start"))
    if dialect in MYSQL:
        return [_in_list_scan_mysql(columns, start, windows) for columns, start in parts]
    return [_per_venue_scan(columns, start) for columns, start in parts]


@contextmanager
def _long_in_lists_kept(conn: Connection) -> Iterator[None]:
    """MariaDB turns an IN list of 1,000+ values into a join with a derived table, losing the
    per-venue index ranges (4x slower at 1,000 venues); switch that off for these queries."""
    if not getattr(conn.dialect, "is_mariadb", False):
        yield
        return
    conn.exec_driver_sql("SET SESSION in_predicate_conversion_threshold = 0")
    try:
        yield
    finally:
        conn.exec_driver_sql("SET SESSION in_predicate_conversion_threshold = DEFAULT")


def _merge(into: dict[str, dict[str, int]], rows: Iterable[Any]) -> None:
    """Add a grouped result's columns to the per-venue counts (SUM may come back as Decimal)."""
    for row in rows:
        values = row._mapping
        target = into.get(values["venue_id"])
        if target is not None:
            target.update({k: int(v or 0) for k, v in values.items() if k != "venue_id"})


def aggregate_counts(
    conn: Connection, windows: Mapping[str, StatsWindows]
) -> dict[str, dict[str, int]]:
    """Raw counts (COUNT_KEYS) per venue: at most eleven statements whatever the venue count."""
    counts = {venue_id: dict.fromkeys(COUNT_KEYS, 0) for venue_id in windows}
    if not windows:
        return counts
    create_windows(conn, windows)
    with _long_in_lists_kept(conn):
        for query in feedback_queries(conn.dialect.name, windows):
            _merge(counts, conn.execute(query))
    _merge(counts, conn.execute(_pending_replies()))
    _merge(counts, conn.execute(_sent_today(windows)))
    _merge(counts, conn.execute(_overdue()))
    windows_table.drop(conn)
    return counts
