"""EncoreBeatScheduler (fleet/beat.py) in this process against a Redis database of its own, on a
manual clock: the tick messages it enqueues carry fire times on the registry's grid, one per
slot, one coalesced tick after a gap; the lock holder names itself; a second beat carries on
from the schedule stored in Redis without sending a tick twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import redis
from fleet_support import queued, redis_url  # noqa: F401  (fixture)
from redbeat.schedulers import acquire_distributed_beat_lock, get_redis
from support.redis_db import private_redis_db

from encore_backend.clock import ManualClock
from encore_backend.config import Settings
from encore_backend.fleet.app import BEAT_LOCK_TIMEOUT, TICKS, app, configure
from encore_backend.fleet.beat import CLOCK_ATTR, LEADER_KEY, EncoreBeatScheduler, beat_holder

# Before the real date: RedBeat picks the entries whose stored due time has passed on the
# system clock, and then asks each (on the manual clock) whether it is due.
START = datetime(2025, 6, 2, 12, 2, 30, tzinfo=UTC)
INTERVAL_JOBS = {
    "stats_aggregator",
    "alert_detector",
    "ai_generator",
    "email_sender",
    "response_sla",
}


@pytest.fixture
def clock(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> ManualClock:  # noqa: F811
    """The beat's clock (no database here); the app points at this test's Redis."""
    manual = ManualClock(START)
    settings = Settings(_env_file=None, encore_executor="celery", celery_broker_url=redis_url)  # type: ignore[call-arg]
    configure(settings)
    monkeypatch.setattr(app, CLOCK_ATTR, manual, raising=False)
    return manual


@contextmanager
def leading_beat() -> Iterator[EncoreBeatScheduler]:
    """A beat scheduler that holds the RedBeat lock (as `encore beat` does at start)."""
    scheduler = EncoreBeatScheduler(app=app)
    acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))
    try:
        yield scheduler
    finally:
        scheduler.close()
        scheduler.connection.close()


def fire_times(url: str) -> dict[str, list[str]]:
    """The tick messages queued so far: job id -> fire times, in order."""
    ticks: dict[str, list[str]] = {}
    for message in queued(url, TICKS):
        assert message["task"] == "encore.tick"
        (job_id,) = message["args"]
        ticks.setdefault(job_id, []).append(message["kwargs"]["fire_time"])
    return ticks


def test_a_fresh_beat_sends_each_interval_jobs_current_tick_once(
    clock: ManualClock,
    redis_url: str,  # noqa: F811
) -> None:
    with leading_beat() as beat:
        beat.tick()
        first = fire_times(redis_url)
        # Every interval job's current slot at once (fresh stats on a first start); the
        # hourly reports and the weekly cleanup wait for their first :05 / hour.
        assert first == {job_id: ["2025-06-02T12:00:00Z"] for job_id in INTERVAL_JOBS}
        clock.advance(seconds=5)
        beat.tick()
        assert fire_times(redis_url) == first  # one tick per slot


def test_the_lock_holder_names_itself_until_the_lock_lapses(
    clock: ManualClock,
    redis_url: str,  # noqa: F811
) -> None:
    client = redis.Redis.from_url(redis_url)
    with leading_beat() as beat:
        beat.tick()
        leader = json.loads(client.get(LEADER_KEY))  # type: ignore[arg-type]
        assert leader == {"holder": beat_holder(), "since": "2025-06-02T12:02:30Z"}
        assert 0 < client.pttl(LEADER_KEY) <= BEAT_LOCK_TIMEOUT.total_seconds() * 1000
        clock.advance(seconds=30)
        beat.tick()
        assert json.loads(client.get(LEADER_KEY))["since"] == leader["since"]  # type: ignore[arg-type]
    assert client.get(LEADER_KEY) is None  # a beat that stops says so at once
    client.close()


def test_after_several_slots_one_coalesced_tick_on_the_grid(
    clock: ManualClock,
    redis_url: str,  # noqa: F811
) -> None:
    with leading_beat() as beat:
        beat.tick()
        clock.advance(minutes=23)  # 12:25:30: four 5-minute slots and the 12:05 report passed
        beat.tick()
        beat.tick()
    ticks = fire_times(redis_url)
    for job_id in ("stats_aggregator", "alert_detector", "email_sender"):
        assert ticks[job_id] == ["2025-06-02T12:00:00Z", "2025-06-02T12:25:00Z"]
    assert ticks["ai_generator"] == ["2025-06-02T12:00:00Z", "2025-06-02T12:20:00Z"]  # 10 min
    assert ticks["response_sla"] == ["2025-06-02T12:00:00Z", "2025-06-02T12:15:00Z"]  # 15 min
    assert ticks["daily_report"] == ticks["weekly_report"] == ["2025-06-02T12:05:00Z"]
    assert "weekly_cleanup" not in ticks


def test_a_second_beat_carries_on_from_the_schedule_in_redis(
    clock: ManualClock,
    redis_url: str,  # noqa: F811
) -> None:
    with leading_beat() as first:
        first.tick()
    before = fire_times(redis_url)
    with leading_beat() as second:  # e.g. the standby, once the first one's lock is gone
        second.tick()
        assert fire_times(redis_url) == before  # the 12:00 ticks are not sent again
        clock.set(datetime(2025, 6, 2, 12, 5, 1, tzinfo=UTC))
        second.tick()
    after = fire_times(redis_url)
    assert after["stats_aggregator"] == ["2025-06-02T12:00:00Z", "2025-06-02T12:05:00Z"]
    assert after["daily_report"] == ["2025-06-02T12:05:00Z"]
    assert after["ai_generator"] == ["2025-06-02T12:00:00Z"]  # its next slot is 12:10


def test_configure_moves_every_connection_to_the_new_redis() -> None:
    """One process pointed at two Redis databases in turn (tests do) sends to, schedules in and
    reads results from the second one only."""
    from encore_backend.fleet import tasks

    with private_redis_db() as first, private_redis_db() as second:
        for url in (first, second):
            configure(Settings(_env_file=None, encore_executor="celery", celery_broker_url=url))  # type: ignore[call-arg]
            tasks.tick.apply_async(("stats_aggregator",), queue=TICKS)
            get_redis(app).set("encore:probe", url)
            app.backend.set("encore:probe-result", url)
        for url, sent in ((first, 1), (second, 1)):
            client = redis.Redis.from_url(url)
            assert client.llen(TICKS) == sent
            assert client.get("encore:probe") == client.get("encore:probe-result") == url.encode()
            client.close()
