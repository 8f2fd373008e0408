"""The stats store contract, on every database and on DynamoDB: snapshots saved, replaced, read
newest first or as a history, listed for every venue, and thinned by the same policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from factories import make_feedback, make_venue

from encore_backend.bootstrap import Container
from encore_backend.services.stats_service import refresh_snapshots

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def stats(n: int) -> dict[str, Any]:
    """A snapshot document with the value kinds SPEC §5 uses: counts, ratios, nulls."""
    return {"feedback_today": n, "average_rating": 4.25, "csat": None, "response_rate": 0.3333}


def venues(ctx: Container, *ids: str) -> None:
    for venue_id in ids:
        make_venue(ctx.engine, venue_id, now=NOW - timedelta(days=30))


def everything(ctx: Container, venue_id: str) -> list[datetime]:
    return [s["computed_at"] for s in ctx.stats.history(venue_id, since=EPOCH, limit=10_000)]


def test_saved_snapshots_read_back_newest_first_and_as_history(store_ctx: Container) -> None:
    venues(store_ctx, "a", "b")
    times = [NOW - timedelta(minutes=15 * k) for k in (3, 2, 1, 0)]
    for n, at in enumerate(times):
        assert store_ctx.stats.save_snapshots(computed_at=at, stats={"a": stats(n)}) == 1

    latest = store_ctx.stats.latest("a")
    assert latest == {"venue_id": "a", "computed_at": NOW, "stats": stats(3)}
    assert store_ctx.stats.latest("b") is None
    assert store_ctx.stats.latest("nowhere") is None

    since = store_ctx.stats.history("a", since=times[1], limit=2)
    assert since == [
        {"computed_at": times[1], "stats": stats(1)},
        {"computed_at": times[2], "stats": stats(2)},
    ]
    newest = store_ctx.stats.history("a", since=None, limit=3)
    assert [s["computed_at"] for s in newest] == times[1:]  # the newest three, oldest first
    assert store_ctx.stats.history("a", since=None, limit=0) == []
    assert store_ctx.stats.history("b", since=None, limit=5) == []


def test_a_rerun_at_the_same_instant_replaces_that_instants_snapshots(
    store_ctx: Container,
) -> None:
    venues(store_ctx, "a", "b")
    store_ctx.stats.save_snapshots(computed_at=NOW, stats={"a": stats(1), "b": stats(1)})
    earlier = NOW - timedelta(minutes=5)
    store_ctx.stats.save_snapshots(computed_at=earlier, stats={"b": stats(0)})

    assert store_ctx.stats.save_snapshots(computed_at=NOW, stats={"a": stats(2)}) == 1

    assert store_ctx.stats.latest("a") == {"venue_id": "a", "computed_at": NOW, "stats": stats(2)}
    assert store_ctx.stats.latest("b") == {
        "venue_id": "b",
        "computed_at": earlier,
        "stats": stats(0),
    }
    assert store_ctx.stats.save_snapshots(computed_at=NOW, stats={}) == 0
    assert store_ctx.stats.latest("a") is None


def test_latest_all_lists_every_venue_in_id_order_with_its_newest_snapshot(
    store_ctx: Container,
) -> None:
    venues(store_ctx, "c", "a", "b")
    store_ctx.stats.save_snapshots(computed_at=NOW - timedelta(hours=1), stats={"a": stats(1)})
    store_ctx.stats.save_snapshots(computed_at=NOW, stats={"a": stats(2), "c": stats(3)})

    rows = store_ctx.stats.latest_all()

    assert rows == [
        {"venue_id": "a", "name": "Venue a", "computed_at": NOW, "stats": stats(2)},
        {"venue_id": "b", "name": "Venue b", "computed_at": None, "stats": None},
        {"venue_id": "c", "name": "Venue c", "computed_at": NOW, "stats": stats(3)},
    ]


def test_the_stats_job_computes_from_sql_and_stores_in_the_derived_store(
    store_ctx: Container,
) -> None:
    venues(store_ctx, "a", "b")
    make_feedback(store_ctx.engine, "a", created_at=NOW - timedelta(hours=1), rating=4)
    make_feedback(store_ctx.engine, "a", created_at=NOW - timedelta(hours=2), rating=5)

    run = refresh_snapshots(store=store_ctx.stats, now=NOW)

    assert (run.venues, run.snapshots) == (2, 2)
    assert set(store_ctx.stats.venue_timezones()) == {"a", "b"}
    a, b = (store_ctx.stats.latest(v) for v in ("a", "b"))
    assert a is not None and b is not None
    assert (a["stats"]["feedback_today"], a["stats"]["average_rating"]) == (2, 4.5)
    assert (b["stats"]["feedback_today"], b["stats"]["average_rating"]) == (0, None)


def clustered(now: datetime, every_hours: int) -> list[datetime]:
    """Three snapshots twenty minutes apart every few hours over eight days: several per UTC
    hour and day to thin, in few writes."""
    return [
        now - timedelta(hours=h, minutes=m)
        for h in range(0, 8 * 24, every_hours)
        for m in (0, 20, 40)
    ]


def kept_by_policy(times: list[datetime], now: datetime) -> list[datetime]:
    """The snapshots thinning keeps, from its rule: all of the last day, the first of each UTC
    hour up to a week, the first of each UTC day beyond."""
    kept, seen = [], set()
    for at in sorted(times):
        age = now - at
        if age <= timedelta(hours=24):
            kept.append(at)
            continue
        bucket = (at.date(), at.hour) if age <= timedelta(days=7) else (at.date(), None)
        if bucket not in seen:
            seen.add(bucket)
            kept.append(at)
    return kept


def test_a_full_thinning_pass_keeps_what_the_policy_keeps(store_ctx: Container) -> None:
    venues(store_ctx, "a", "b")
    now = datetime(2026, 3, 10, 12, 7, tzinfo=UTC)
    times = clustered(now, every_hours=8)
    for at in times:
        store_ctx.stats.save_snapshots(computed_at=at, stats={"a": stats(1), "b": stats(2)})

    deleted = store_ctx.stats.thin(now=now, lookback=None)

    kept = kept_by_policy(times, now)
    assert everything(store_ctx, "a") == everything(store_ctx, "b") == kept
    assert deleted == 2 * (len(times) - len(kept))
    assert store_ctx.stats.thin(now=now, lookback=None) == 0


def test_a_bounded_pass_thins_only_what_aged_into_a_band_recently(store_ctx: Container) -> None:
    venues(store_ctx, "a")
    now = datetime(2026, 3, 10, 12, 7, tzinfo=UTC)
    times = clustered(now, every_hours=6)
    for at in times:
        store_ctx.stats.save_snapshots(computed_at=at, stats={"a": stats(1)})

    deleted = store_ctx.stats.thin(now=now, lookback=timedelta(hours=6))

    left = set(everything(store_ctx, "a"))
    policy = set(kept_by_policy(times, now))
    gone = set(times) - left
    assert len(gone) == deleted > 0
    assert not gone & policy  # never removes what the policy keeps
    hourly_from = (now - timedelta(hours=30)).replace(minute=0)
    daily_from = (now - timedelta(days=7, hours=6)).replace(hour=0, minute=0)
    assert all(hourly_from <= at or daily_from <= at < now - timedelta(days=7) for at in gone)
    assert {at for at in times if at < daily_from} <= left  # older days wait for a full pass
