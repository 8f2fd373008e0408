"""stats_aggregator on every backend: a plain-Python oracle, nulls, fixed query count, thinning."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from factories import make_venue
from sqlalchemy import Connection, Engine, event, insert, select
from support.databases import backend_of

from encore_backend.bootstrap import Container
from encore_backend.domain.stats_windows import windows_for
from encore_backend.scheduler.jobs import stats_aggregator
from encore_backend.services.stats_service import compute_stats, refresh_snapshots
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.stats_aggregate import create_windows, feedback_queries

ZONES = {
    "v-utc": "UTC",
    "v-ny": "America/New_York",
    "v-kol": "Asia/Kolkata",
    "v-syd": "Australia/Sydney",
}
START = datetime(2026, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
NOWS = [
    datetime(2026, 2, 28, 18, 30, 5, tzinfo=UTC),  # Kolkata, just after midnight on 1 March
    datetime(2026, 3, 8, 12, 0, tzinfo=UTC),  # New York's 23-hour day
    datetime(2026, 3, 9, 4, 0, 30, tzinfo=UTC),  # New York, just after Monday midnight (EDT)
    datetime(2026, 3, 9, 13, 0, 1, tzinfo=UTC),  # Sydney, just after midnight on 10 March
    datetime(2026, 3, 12, 23, 59, 59, tzinfo=UTC),
]
REPLY_STATUSES = ["generated", "pending_approval", "approved", "auto_approved", "sent", "rejected"]


def _feedback_row(venue_id: str, created: datetime, rng: random.Random) -> dict[str, Any]:
    rating = rng.choice([1, 2, 3, 4, 4, 5, 5, 5])
    seconds = rng.randint(60, 3 * 86400) if rng.random() < 0.6 else None
    return {
        "venue_id": venue_id,
        "rating": rating,
        "comment": "oracle",
        "status": "responded" if seconds else "new",
        "created_at": created,
        "ingested_at": created,
        "responded_at": created + timedelta(seconds=seconds) if seconds else None,
        "response_seconds": seconds,
    }


def _instants(venue_id: str, rng: random.Random) -> Iterator[datetime]:
    """Random instants over 72 days, plus each window's edges and their neighbours."""
    for _ in range(120):
        yield START + timedelta(seconds=rng.randint(0, 72 * 86400))
    for now in NOWS:
        w = windows_for(ZONES[venue_id], now)
        for edge in (w.today_start, w.week_start, w.month_start, w.trailing_start, w.now):
            yield edge
            yield edge - US
        yield now + US


def seed(engine: Engine, rng: random.Random) -> None:
    """Venues (one of them empty), feedback and replies in every status."""
    for venue_id, tz in {**ZONES, "v-empty": "Asia/Kolkata"}.items():
        make_venue(engine, venue_id, now=START, timezone=tz)
    rows = [_feedback_row(v, t, rng) for v in ZONES for t in _instants(v, rng)]
    with engine.begin() as conn:
        conn.execute(insert(m.feedback), rows)
        stored = conn.execute(select(m.feedback)).all()
        replies = [_reply_row(f._mapping, rng) for f in stored if rng.random() < 0.7]
        conn.execute(insert(m.ai_responses), replies)


def _reply_row(f: Any, rng: random.Random) -> dict[str, Any]:
    status = "sent" if f["responded_at"] else rng.choice(REPLY_STATUSES[:4] + REPLY_STATUSES[5:])
    return {
        "response_id": f"r{f['feedback_id']}",
        "feedback_id": f["feedback_id"],
        "venue_id": f["venue_id"],
        "subject": "Thanks",
        "body": "Thank you.",
        "status": status,
        "provider": "template",
        "created_at": f["created_at"],
        "sent_at": f["responded_at"],
    }


def oracle(engine: Engine, venue_id: str, now: datetime) -> dict[str, Any]:
    """The same figures by classifying each row's local date in plain Python."""
    with engine.connect() as conn:
        fb = [r._mapping for r in conn.execute(select(m.feedback)) if r.venue_id == venue_id]
        rs = [r._mapping for r in conn.execute(select(m.ai_responses)) if r.venue_id == venue_id]
    zone = ZoneInfo(ZONES.get(venue_id, "Asia/Kolkata"))
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    seen = [f for f in fb if f["created_at"] <= now]
    local = [f["created_at"].astimezone(zone).date() for f in seen]
    recent = [f for f in seen if f["created_at"] >= now - timedelta(days=30)]
    replied = [f["response_seconds"] for f in recent if f["response_seconds"] is not None]
    ratings = [f["rating"] for f in recent]
    sent = [r["sent_at"] for r in rs if r["sent_at"] and r["sent_at"] <= now]
    sent_days = [t.astimezone(zone).date() for t in sent]
    n = len(recent)
    return {
        "feedback_today": sum(d == today for d in local),
        "feedback_this_week": sum(monday <= d <= today for d in local),
        "feedback_this_month": sum((d.year, d.month) == (today.year, today.month) for d in local),
        "pending_responses": sum(r["status"] in REPLY_STATUSES[:4] for r in rs),
        "sent_today": sum(d == today for d in sent_days),
        "average_rating": round(sum(ratings) / n, 2) if n else None,
        "response_rate": round(len(replied) / n, 4) if n else None,
        "avg_response_time_hours": round(sum(replied) / len(replied) / 3600, 2)
        if replied
        else None,
        "csat": round(sum(r >= 4 for r in ratings) / n, 4) if n else None,
        "feedback_30d": n,
        "responded_30d": len(replied),
        "overdue_responses": sum(
            f["escalated_at"] is not None and f["responded_at"] is None for f in fb
        ),
    }  # fmt: skip


def test_stats_match_a_plain_python_oracle(ctx: Container, engine: Engine) -> None:
    seed(engine, random.Random(20260310))
    for now in NOWS:
        computed = compute_stats(store=ctx.stats, now=now)
        assert set(computed) == {*ZONES, "v-empty"}
        for venue_id in computed:
            expected = oracle(engine, venue_id, now)
            for field, value in expected.items():
                assert computed[venue_id][field] == value, (venue_id, now, field)


def test_a_venue_without_feedback_gets_zero_counts_and_null_ratios(
    ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "quiet", now=START, timezone="Asia/Kolkata")
    stats = compute_stats(store=ctx.stats, now=NOWS[-1])["quiet"]
    assert stats["feedback_today"] == stats["feedback_this_month"] == stats["sent_today"] == 0
    for field in ("average_rating", "response_rate", "avg_response_time_hours", "csat"):
        assert stats[field] is None


def test_the_job_stores_one_snapshot_per_venue_and_a_rerun_replaces_it(
    ctx: Container, engine: Engine
) -> None:
    seed(engine, random.Random(7))
    now = NOWS[-1]
    first = stats_aggregator.run(ctx, now)
    again = stats_aggregator.run(ctx, now)
    assert first.items_processed == again.items_processed == 5
    with engine.connect() as conn:
        rows = conn.execute(select(m.computed_stats)).all()
    assert len(rows) == 5
    assert {r.computed_at for r in rows} == {now}
    by_venue = {r.venue_id: r.stats for r in rows}
    assert by_venue["v-ny"] == oracle(engine, "v-ny", now)


def _statements_for_a_run(ctx: Container, engine: Engine, venues: int, now: datetime) -> int:
    for i in range(venues):
        make_venue(engine, f"count-{venues}-{i}", now=START, timezone=list(ZONES.values())[i % 4])
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        refresh_snapshots(store=ctx.stats, now=now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_run_costs_the_same_number_of_statements_for_3_or_30_venues(
    ctx: Container, engine: Engine
) -> None:
    few = _statements_for_a_run(ctx, engine, 3, NOWS[0])
    many = _statements_for_a_run(ctx, engine, 27, NOWS[1])  # 30 venues in all now
    assert few == many
    assert few <= 19, few


# --- thinning ---------------------------------------------------------------------------------

THIN_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def expected_survivors(times: list[datetime], now: datetime) -> set[datetime]:
    """All of the last day; the first per UTC hour back to a week; the first per UTC day beyond."""
    kept: dict[Any, datetime] = {}
    result = set()
    for t in sorted(times):
        if t >= now - timedelta(hours=24):
            result.add(t)
            continue
        hourly = t >= now - timedelta(days=7)
        key = (hourly, t.date(), t.hour if hourly else None)
        if key not in kept:
            kept[key] = t
            result.add(t)
    return result


def _snapshot_times(engine: Engine, venue_id: str) -> set[datetime]:
    c = m.computed_stats.c
    with engine.connect() as conn:
        return set(conn.execute(select(c.computed_at).where(c.venue_id == venue_id)).scalars())


def test_full_thinning_keeps_day_hour_and_boundary_snapshots(
    ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "a", now=START)
    make_venue(engine, "b", now=START)
    edges = [THIN_NOW - timedelta(hours=24), THIN_NOW - timedelta(days=7)]
    times = [THIN_NOW - timedelta(minutes=20 * i) for i in range(1, 9 * 72)]
    times += [e + d for e in edges for d in (-US, timedelta(0), US)]
    for t in sorted(set(times)):
        ctx.stats.save_snapshots(computed_at=t, stats={"a": {"n": 1}, "b": {"n": 2}})
    deleted = ctx.stats.thin(now=THIN_NOW, lookback=None)
    expected = expected_survivors(list(set(times)), THIN_NOW)
    assert _snapshot_times(engine, "a") == _snapshot_times(engine, "b") == expected
    assert deleted == 2 * (len(set(times)) - len(expected))
    assert THIN_NOW - timedelta(hours=24) in expected
    assert THIN_NOW - timedelta(hours=24) - US not in expected  # second in its hour
    assert ctx.stats.thin(now=THIN_NOW, lookback=None) == 0  # idempotent


def test_bounded_thinning_after_every_run_ends_like_a_full_pass(
    ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "a", now=START)
    step, runs = timedelta(minutes=35), 9 * 24 * 60 // 35
    times = [THIN_NOW - step * i for i in range(runs, -1, -1)]
    for t in times:
        ctx.stats.save_snapshots(computed_at=t, stats={"a": {"n": 1}})
        ctx.stats.thin(now=t)
    assert times[-1] == THIN_NOW
    assert _snapshot_times(engine, "a") == expected_survivors(times, THIN_NOW)


# --- query plans ------------------------------------------------------------------------------


def explain(conn: Connection, query: Any) -> str:
    """The plan of `query` as text, with its parameters bound exactly as in a real run."""
    prefix = {"sqlite": "EXPLAIN QUERY PLAN ", "postgresql": "EXPLAIN "}.get(
        conn.dialect.name, "EXPLAIN "
    )

    def prepend(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> Any:
        return prefix + statement, params

    event.listen(conn, "before_cursor_execute", prepend, retval=True)
    try:
        return "\n".join(" ".join(map(str, row)) for row in conn.execute(query))
    finally:
        event.remove(conn, "before_cursor_execute", prepend)


def test_each_venue_is_one_range_scan_of_the_covering_index(engine: Engine) -> None:
    seed(engine, random.Random(3))
    backend = backend_of(engine)
    with engine.begin() as conn:
        if backend == "sqlite":
            conn.exec_driver_sql("ANALYZE")  # statistics on feedback: the automatic-index trap
        if backend == "postgresql":  # tiny tables: check the plan is available, not chosen
            conn.exec_driver_sql("ANALYZE feedback")
            for switch in ("seqscan", "mergejoin", "hashjoin"):
                conn.exec_driver_sql(f"SET LOCAL enable_{switch} = off")
        windows = {v: windows_for(tz, NOWS[-1]) for v, tz in ZONES.items()}
        create_windows(conn, windows)
        plans = [explain(conn, q) for q in feedback_queries(conn.dialect.name, windows)]
    for plan in plans:
        assert "ix_feedback_stats" in plan, plan
        if backend == "sqlite":
            assert "(venue_id=? AND created_at>? AND created_at<?)" in plan, plan
            assert "AUTOMATIC" not in plan, plan
        elif backend == "mariadb":
            assert " range " in f" {plan} ".replace("\n", " "), plan
        else:
            assert "Index Only Scan using ix_feedback_stats" in plan, plan
            assert "created_at >=" in plan, plan
