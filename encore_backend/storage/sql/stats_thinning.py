"""Thinning of old stats snapshots: all from the last day, one an hour to a week, one a day beyond.

Buckets are UTC hours and days; the kept snapshot of a bucket is its earliest one, so thinning
again (or with a wider band) never removes a snapshot an earlier pass kept. Each band starts on a
bucket boundary, which is what makes a bounded pass agree with a full one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, and_, delete, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from encore_backend.storage.sql import models as m

KEEP_ALL = timedelta(hours=24)
KEEP_HOURLY = timedelta(days=7)
# A scheduled run only revisits snapshots that aged into a band recently; weekly_cleanup passes
# lookback=None for a full pass.
DEFAULT_LOOKBACK = timedelta(hours=6)
HOUR_CHARS = len("YYYY-MM-DD HH")
DAY_CHARS = len("YYYY-MM-DD")


class hour_bucket(FunctionElement[str]):
    """The UTC hour of a timestamp as text ('YYYY-MM-DD HH')."""

    type = String()
    inherit_cache = True  # the class itself is the cache key: one class per bucket size
    chars = HOUR_CHARS


class day_bucket(hour_bucket):
    """The UTC day of a timestamp as text ('YYYY-MM-DD')."""

    inherit_cache = True
    chars = DAY_CHARS


@compiles(hour_bucket)
def _bucket_sqlite(element: hour_bucket, compiler: Any, **kw: Any) -> str:
    # SQLite stores UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' text.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.chars})"


@compiles(hour_bucket, "mysql")
@compiles(hour_bucket, "mariadb")
def _bucket_mysql(element: hour_bucket, compiler: Any, **kw: Any) -> str:
    return f"LEFT(CAST({compiler.process(element.clauses, **kw)} AS CHAR), {element.chars})"


@compiles(hour_bucket, "postgresql")
def _bucket_postgresql(element: hour_bucket, compiler: Any, **kw: Any) -> str:
    pattern = "YYYY-MM-DD HH24" if element.chars == HOUR_CHARS else "YYYY-MM-DD"
    return f"to_char({compiler.process(element.clauses, **kw)}, '{pattern}')"


def _floor(value: datetime, bucket: type[hour_bucket]) -> datetime:
    if bucket is hour_bucket:
        return value.replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


DELETE_BATCH = 1000


def _thin_band(
    conn: Connection, lower: datetime | None, upper: datetime, bucket: type[hour_bucket]
) -> int:
    """Delete every snapshot in [lower, upper) that is not the first of its venue and bucket.

    The doomed ids are found by one grouped join, then deleted by primary key in batches: a
    correlated NOT EXISTS over the grouped subquery is quadratic on MariaDB.
    """
    s = m.computed_stats
    band = [s.c.computed_at < upper]
    if lower is not None:
        band.append(s.c.computed_at >= lower)
    kept = (
        select(
            s.c.venue_id,
            bucket(s.c.computed_at).label("bucket"),
            func.min(s.c.computed_at).label("first_at"),
        )
        .where(*band)
        .group_by(s.c.venue_id, bucket(s.c.computed_at))
        .subquery("kept")
    )
    doomed = (
        select(s.c.snapshot_id)
        .join(
            kept,
            and_(
                kept.c.venue_id == s.c.venue_id,
                kept.c.bucket == bucket(s.c.computed_at),
                s.c.computed_at > kept.c.first_at,
            ),
        )
        .where(*band)
    )
    ids = list(conn.execute(doomed).scalars())
    for start in range(0, len(ids), DELETE_BATCH):
        chunk = ids[start : start + DELETE_BATCH]
        conn.execute(delete(s).where(s.c.snapshot_id.in_(chunk)))
    return len(ids)


class Band(NamedTuple):
    """Snapshots in [lower, upper) keep the first of each venue and bucket (None: no lower)."""

    lower: datetime | None
    upper: datetime
    bucket: type[hour_bucket]


def bands(now: datetime, lookback: timedelta | None = DEFAULT_LOOKBACK) -> tuple[Band, Band]:
    """The hourly and the daily band of a pass at `now` (the policy, for every store)."""
    hourly_upper, daily_upper = now - KEEP_ALL, now - KEEP_HOURLY
    hourly_lower: datetime = daily_upper
    daily_lower: datetime | None = None
    if lookback is not None:
        hourly_lower = max(_floor(hourly_upper - lookback, hour_bucket), daily_upper)
        daily_lower = _floor(daily_upper - lookback, day_bucket)
    return Band(hourly_lower, hourly_upper, hour_bucket), Band(daily_lower, daily_upper, day_bucket)


def thin_snapshots(
    conn: Connection, *, now: datetime, lookback: timedelta | None = DEFAULT_LOOKBACK
) -> int:
    """Two set-based deletes (hourly band, daily band); bounded by `lookback`, None = everything."""
    return sum(_thin_band(conn, *band) for band in bands(now, lookback))
