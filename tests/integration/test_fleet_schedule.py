"""RegistrySchedule (fleet/schedule.py): Celery beat's view of a registry job's schedule, on a
manual clock. Ticks fall on the registry's grid (EPOCH-anchored intervals, UTC Cron hours), one
per slot, one catch-up tick after downtime, and a new entry starts where the embedded scheduler's
first start does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from encore_backend.clock import ManualClock
from encore_backend.config import Settings
from encore_backend.fleet.schedule import RegistrySchedule
from encore_backend.scheduler.registry import EPOCH, REGISTRY, as_registry

SPECS = as_registry(REGISTRY)
NEVER = datetime(1, 1, 2, tzinfo=UTC)  # RedBeat's last_run_at of an entry without one
STEP = timedelta(seconds=5)  # how often beat looks (BEAT_MAX_INTERVAL)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def schedule(job_id: str, clock: ManualClock, conf: Settings) -> RegistrySchedule:
    return RegistrySchedule(SPECS[job_id], conf, nowfun=clock.now)


def beat_loop(
    sched: RegistrySchedule, clock: ManualClock, last: datetime, until: datetime
) -> tuple[list[datetime], datetime]:
    """What beat sends while the clock walks to `until` in STEPs: the fire time of each due
    check, with last_run_at set to the send time as RedBeat does. Returns (fires, last)."""
    fires = []
    while clock.now() < until:
        clock.advance(STEP)
        if sched.is_due(last).is_due:
            fire = sched.fire_time(clock.now())
            assert fire is not None
            fires.append(fire)
            last = clock.now()
    return fires, last


def test_interval_ticks_fall_on_the_epoch_grid_one_per_slot() -> None:
    """7 minutes does not divide an hour: the grid is EPOCH's, not the clock face's."""
    conf = settings(scheduler_stats_interval_minutes=7)
    clock = ManualClock(datetime(2025, 6, 2, 12, 0, 3, tzinfo=UTC))
    sched = schedule("stats_aggregator", clock, conf)
    start = clock.now()
    fires, _ = beat_loop(sched, clock, start, start + timedelta(hours=1))
    step = timedelta(minutes=7)
    assert fires and all((fire - EPOCH) % step == timedelta(0) for fire in fires)
    assert fires == [fires[0] + n * step for n in range(len(fires))]  # no slot twice or skipped
    assert start < fires[0] <= start + step and fires[-1] > start + timedelta(minutes=52)
    assert len(fires) == 9  # 60 / 7 slots


def test_the_wait_beat_is_told_is_the_time_to_the_next_slot() -> None:
    clock = ManualClock(datetime(2025, 6, 2, 12, 2, 30, tzinfo=UTC))
    sched = schedule("stats_aggregator", clock, settings())  # every 5 minutes
    state = sched.is_due(clock.now())
    assert not state.is_due and state.next == 150.0
    assert sched.remaining_estimate(clock.now()) == timedelta(seconds=150)


def test_a_long_downtime_gives_one_catch_up_tick() -> None:
    clock = ManualClock(datetime(2025, 6, 2, 12, 0, 2, tzinfo=UTC))
    sched = schedule("alert_detector", clock, settings())  # every 5 minutes
    last = clock.now()  # the 12:00 tick was sent
    clock.set(datetime(2025, 6, 2, 15, 42, 10, tzinfo=UTC))  # beat was down for 41 slots
    assert sched.is_due(last).is_due
    assert sched.fire_time(clock.now()) == datetime(2025, 6, 2, 15, 40, tzinfo=UTC)
    assert sched.remaining_estimate(last) == timedelta(0)
    fires, _ = beat_loop(sched, clock, clock.now(), datetime(2025, 6, 2, 15, 55, tzinfo=UTC))
    assert fires == [datetime(2025, 6, 2, 15, m, tzinfo=UTC) for m in (45, 50, 55)]


def test_a_never_run_interval_entry_sends_its_current_tick_at_once() -> None:
    clock = ManualClock(datetime(2025, 6, 2, 12, 2, 30, tzinfo=UTC))
    sched = schedule("email_sender", clock, settings())
    assert sched.is_due(NEVER).is_due
    assert sched.fire_time(clock.now()) == datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert sched.started(clock.now()) < datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert sched.is_due(sched.started(clock.now())).is_due


def test_a_new_cron_entry_waits_for_its_first_tick() -> None:
    """A fresh install has no report to catch up: its first tick is the next :05."""
    clock = ManualClock(datetime(2025, 6, 2, 12, 2, 30, tzinfo=UTC))
    sched = schedule("daily_report", clock, settings())
    assert not sched.is_due(NEVER).is_due
    last = sched.started(clock.now())
    state = sched.is_due(last)
    assert not state.is_due and state.next == 150.0
    fires, _ = beat_loop(sched, clock, last, datetime(2025, 6, 2, 14, 0, tzinfo=UTC))
    assert fires == [datetime(2025, 6, 2, hour, 5, tzinfo=UTC) for hour in (12, 13)]


def test_an_interval_entry_new_after_its_catch_up_window_waits_for_the_next_slot() -> None:
    """A custom 30-second catch-up on a 5-minute grid: the current tick is already too old."""
    spec = SPECS["stats_aggregator"]
    late = type(spec)(spec.id, spec.func, spec.schedule, catch_up_window=timedelta(seconds=30))
    clock = ManualClock(datetime(2025, 6, 2, 12, 2, 30, tzinfo=UTC))
    sched = RegistrySchedule(late, settings(), nowfun=clock.now)
    last = sched.started(clock.now())
    assert not sched.is_due(last).is_due
    fires, _ = beat_loop(sched, clock, last, datetime(2025, 6, 2, 12, 6, tzinfo=UTC))
    assert fires == [datetime(2025, 6, 2, 12, 5, tzinfo=UTC)]


def test_a_cron_job_after_a_long_downtime_gets_one_catch_up_tick() -> None:
    clock = ManualClock(datetime(2025, 6, 2, 2, 5, 1, tzinfo=UTC))
    sched = schedule("daily_report", clock, settings())
    last = clock.now()  # the 02:05 tick was sent
    clock.set(datetime(2025, 6, 2, 12, 30, tzinfo=UTC))  # ten hourly ticks passed
    assert sched.is_due(last).is_due
    assert sched.fire_time(clock.now()) == datetime(2025, 6, 2, 12, 5, tzinfo=UTC)
    fires, _ = beat_loop(sched, clock, clock.now(), datetime(2025, 6, 2, 13, 30, tzinfo=UTC))
    assert fires == [datetime(2025, 6, 2, 13, 5, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("start", "until"),
    [
        # Europe's clocks go forward on 2025-03-30 01:00 UTC and back on 2025-10-26 01:00 UTC;
        # the schedule is UTC, so the hours around them are like any other.
        (datetime(2025, 3, 29, 22, 30, tzinfo=UTC), datetime(2025, 3, 30, 4, 0, tzinfo=UTC)),
        (datetime(2025, 10, 25, 22, 30, tzinfo=UTC), datetime(2025, 10, 26, 4, 0, tzinfo=UTC)),
    ],
)
def test_the_hourly_report_tick_is_at_five_past_every_utc_hour_across_dst(
    start: datetime, until: datetime
) -> None:
    clock = ManualClock(start)
    sched = schedule("daily_report", clock, settings())
    fires, _ = beat_loop(sched, clock, clock.now(), until)
    first = start.replace(minute=5) + timedelta(hours=1)
    assert fires == [first + timedelta(hours=n) for n in range(5)]  # 23:05 … 03:05


def test_weekly_cleanup_fires_once_a_week_at_its_day_and_hour() -> None:
    conf = settings(scheduler_cleanup_weekday="wed", scheduler_cleanup_hour=4)
    clock = ManualClock(datetime(2025, 6, 2, 12, 0, tzinfo=UTC))  # a Monday
    sched = schedule("weekly_cleanup", clock, conf)
    last = sched.started(clock.now())
    fires: list[datetime] = []
    while clock.now() < datetime(2025, 6, 17, 12, 0, tzinfo=UTC):
        clock.advance(minutes=1)  # a minute: beat's seconds would take long for two weeks
        if sched.is_due(last).is_due:
            fires.append(sched.fire_time(clock.now()))  # type: ignore[arg-type]
            last = clock.now()
    wednesday_4am = datetime(2025, 6, 4, 4, 0, tzinfo=UTC)
    assert fires == [wednesday_4am, wednesday_4am + timedelta(weeks=1)]
    assert all(fire.weekday() == 2 for fire in fires)
