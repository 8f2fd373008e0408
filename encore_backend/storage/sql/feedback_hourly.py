"""Keep `feedback_hourly` (count and rating sum per venue and UTC hour) up to date.

Each run recounts only the buckets of feedback past the stored cursor (a feedback_id): a fresh
aggregate of those venue-hours, upserted, so a retried or repeated run writes the same figures.
Auto-increment ids can commit out of order, so the cursor only moves past feedback ingested
SETTLE ago or earlier; newer rows are looked at again by the next run. The first run (no cursor)
counts every bucket in one grouped INSERT … SELECT.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, func, select, true, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.types import UTCDateTime

F, C = m.feedback.c, m.count_cursors.c
CURSOR = "feedback_hourly"
# Longer than any ingest transaction takes from reading the clock to committing.
SETTLE = timedelta(minutes=10)
VENUES_PER_STATEMENT = 500


class hour_start(FunctionElement[datetime]):
    """A timestamp floored to its UTC hour, as a timestamp (the bucket's key)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(hour_start)
def _hour_sqlite(element: hour_start, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' text.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 13) || ':00:00.000000'"


@compiles(hour_start, "mysql")
@compiles(hour_start, "mariadb")
def _hour_mysql(element: hour_start, compiler: Any, **kw: Any) -> str:
    text = f"LEFT(CAST({compiler.process(element.clauses, **kw)} AS CHAR), 13)"
    return f"CAST(CONCAT({text}, ':00:00') AS DATETIME(6))"


@compiles(hour_start, "postgresql")
def _hour_postgresql(element: hour_start, compiler: Any, **kw: Any) -> str:
    return f"date_trunc('hour', {compiler.process(element.clauses, **kw)})"


def _upsert(conn: Connection) -> Insert:
    """INSERT into feedback_hourly that overwrites an existing bucket's figures."""
    name, key = conn.dialect.name, ["venue_id", "hour_start"]
    if name in ("mysql", "mariadb"):
        ins = mysql.insert(m.feedback_hourly)
        return ins.on_duplicate_key_update(
            feedback_count=ins.inserted.feedback_count, rating_sum=ins.inserted.rating_sum
        )
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"no upsert for {name}")
    dialect = postgresql if name == "postgresql" else sqlite
    ins = dialect.insert(m.feedback_hourly)
    return ins.on_conflict_do_update(
        index_elements=key,
        set_={"feedback_count": ins.excluded.feedback_count, "rating_sum": ins.excluded.rating_sum},
    )


def recount(conn: Connection, *conditions: ColumnElement[bool]) -> None:
    """Write the fresh aggregate of every bucket with feedback matching `conditions`."""
    hour = hour_start(F.created_at)
    counts = (
        select(F.venue_id, hour, func.count(), func.coalesce(func.sum(F.rating), 0))
        .where(true(), *conditions)  # a WHERE keeps SQLite's INSERT … SELECT … ON CONFLICT apart
        .group_by(F.venue_id, hour)
    )
    columns = ["venue_id", "hour_start", "feedback_count", "rating_sum"]
    conn.execute(_upsert(conn).from_select(columns, counts))


def backfill(conn: Connection) -> int:
    """Count every bucket (the first run); how many there are (drivers' row counts of an
    INSERT … SELECT differ)."""
    recount(conn)
    return int(conn.execute(select(func.count()).select_from(m.feedback_hourly)).scalar_one())


def touched_buckets(conn: Connection, after_id: int) -> dict[datetime, list[str]]:
    """The venues of each hour that feedback past `after_id` falls in."""
    query = select(F.venue_id, hour_start(F.created_at)).where(F.feedback_id > after_id).distinct()
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for venue_id, hour in conn.execute(query):
        by_hour[hour].append(venue_id)
    return by_hour


def recount_touched(conn: Connection, after_id: int) -> int:
    """Recount the buckets of feedback past `after_id`, one statement per hour (and venue chunk),
    each a range on ix_feedback_stats."""
    touched = touched_buckets(conn, after_id)
    for hour, venues in touched.items():
        span = (F.created_at >= hour, F.created_at < hour + timedelta(hours=1))
        for i in range(0, len(venues), VENUES_PER_STATEMENT):
            recount(conn, F.venue_id.in_(venues[i : i + VENUES_PER_STATEMENT]), *span)
    return sum(len(venues) for venues in touched.values())


def settled_id(conn: Connection, after_id: int | None, *, now: datetime) -> int | None:
    """The highest feedback_id past `after_id` ingested SETTLE before `now` or earlier: every
    lower id has committed by now (None when there is none)."""
    query = select(func.max(F.feedback_id)).where(F.ingested_at < now - SETTLE)
    if after_id is not None:
        query = query.where(F.feedback_id > after_id)
    value = conn.execute(query).scalar()
    return None if value is None else int(value)


def save_cursor(conn: Connection, old: int | None, new: int | None, *, now: datetime) -> None:
    if new is None:
        return
    if old is None:
        conn.execute(m.count_cursors.insert().values(name=CURSOR, feedback_id=new, updated_at=now))
        return
    conn.execute(
        update(m.count_cursors)
        .where(C.name == CURSOR, C.feedback_id < new)
        .values(feedback_id=new, updated_at=now)
    )


def refresh_hourly(conn: Connection, *, now: datetime) -> int:
    """Bring the buckets up to date with the feedback committed by now; how many buckets were
    recounted (the first run: all of them)."""
    cursor = conn.execute(select(C.feedback_id).where(C.name == CURSOR)).scalar()
    old = None if cursor is None else int(cursor)
    new = settled_id(conn, old, now=now)  # before counting: a row it covers is counted below
    written = backfill(conn) if old is None else recount_touched(conn, old)
    save_cursor(conn, old, new, now=now)
    return written
