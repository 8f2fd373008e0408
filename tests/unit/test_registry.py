"""The registry's triggers, grids and catch-up windows, with literal datetimes (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from encore_backend.config import Settings
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.registry import (
    EPOCH,
    MIN_CATCH_UP,
    REGISTRY,
    Every,
    JobSpec,
    as_registry,
    grid_floor,
)
from encore_backend.scheduler.result import JobResult
from encore_backend.scheduler.runner import tick_key
from encore_backend.scheduler.scheduler import kept_next_run_time


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, micro, tzinfo=UTC)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_registry_has_the_spec_job_ids_once_each() -> None:
    ids = [spec.id for spec in REGISTRY]
    assert {"stats_aggregator", "alert_detector"} <= set(ids)
    assert len(ids) == len(set(ids))
    for spec in REGISTRY:
        assert spec.func.endswith(":run") and spec.func.startswith(  # type: ignore[union-attr]
            "encore_backend.scheduler.jobs."
        )
        assert callable(spec.load())


def test_interval_comes_from_settings_and_accepts_fractional_minutes() -> None:
    specs = as_registry(REGISTRY)
    s = settings(scheduler_stats_interval_minutes=0.05, scheduler_alert_interval_minutes=2)
    assert specs["stats_aggregator"].schedule.period(s) == timedelta(seconds=3)
    assert specs["alert_detector"].schedule.period(s) == timedelta(minutes=2)
    assert specs["stats_aggregator"].schedule.describe(s) == "every 3 s"
    assert specs["alert_detector"].schedule.describe(s) == "every 2 min"


def test_trigger_grid_is_anchored_at_the_epoch_so_every_process_agrees() -> None:
    trigger = Every(minutes=0.05).trigger(settings())
    first = trigger.get_next_fire_time(None, at(12, 0, 1, 500))
    again = Every(minutes=0.05).trigger(settings()).get_next_fire_time(None, at(12, 0, 1, 500))
    assert first == again == at(12, 0, 3)
    assert trigger.get_next_fire_time(first, first) == at(12, 0, 6)
    assert (first - EPOCH) % timedelta(seconds=3) == timedelta(0)


@pytest.mark.parametrize(
    ("now", "step", "expected"),
    [
        (at(12, 0, 4), timedelta(seconds=3), at(12, 0, 3)),
        (at(12, 0, 3), timedelta(seconds=3), at(12, 0, 3)),
        (at(12, 0, 2, 999_999), timedelta(seconds=3), at(12, 0, 0)),
        (at(12, 7), timedelta(minutes=5), at(12, 5)),
        (at(12, 7), timedelta(minutes=7), None),  # 7 min does not divide a day: grid only
    ],
)
def test_grid_floor_is_the_latest_tick_at_or_before_now(
    now: datetime, step: timedelta, expected: datetime | None
) -> None:
    floor = grid_floor(now, step)
    assert floor <= now < floor + step
    assert (floor - EPOCH) % step == timedelta(0)
    if expected is not None:
        assert floor == expected


def test_catch_up_window_is_explicit_never_the_one_second_default() -> None:
    s = settings(scheduler_stats_interval_minutes=0.05, scheduler_alert_interval_minutes=10)
    specs = as_registry(REGISTRY)
    assert specs["stats_aggregator"].catch_up(s) == MIN_CATCH_UP
    assert specs["alert_detector"].catch_up(s) == timedelta(minutes=10)
    assert specs["alert_detector"].misfire_grace_seconds(s) == 600
    daily = JobSpec(
        "x",
        func=lambda ctx, now: JobResult(),
        schedule=Every(minutes=60),
        catch_up_window=timedelta(hours=6),
    )
    assert daily.misfire_grace_seconds(s) == 6 * 3600


def test_reregistration_keeps_pause() -> None:
    assert kept_next_run_time(None, Every(minutes=5), settings(), at(12)) is None


def test_reregistration_keeps_one_overdue_catch_up_tick() -> None:
    # Down since 11:00 with a 5-minute interval: ONE catch-up at the latest tick, 12:05.
    got = kept_next_run_time(at(11), Every(minutes=5), settings(), at(12, 7))
    assert got == at(12, 5)


def test_reregistration_applies_a_changed_interval_from_now() -> None:
    # Was every 10 min (next 12:10); now every 3 min: the next tick is on the 3-min grid.
    got = kept_next_run_time(at(12, 10), Every(minutes=3), settings(), at(12, 1))
    assert got is not None and at(12, 1) <= got < at(12, 4)
    assert (got - EPOCH) % timedelta(minutes=3) == timedelta(0)
    # Unchanged interval: the stored next tick stays.
    assert kept_next_run_time(at(12, 5), Every(minutes=5), settings(), at(12, 1)) == at(12, 5)


def test_tick_key_is_the_fire_time_for_schedule_runs_and_unique_otherwise() -> None:
    assert tick_key(RunTrigger.SCHEDULE, at(12, 0, 3)) == "2026-03-10T12:00:03Z"
    manual = {tick_key(RunTrigger.MANUAL, at(12)) for _ in range(3)}
    assert len(manual) == 3 and all(k.startswith("manual:") for k in manual)
    assert tick_key(RunTrigger.EVENT, None).startswith("event:")
    assert len(tick_key(RunTrigger.EVENT, None)) <= 64
