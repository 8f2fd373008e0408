"""The DynamoDB job store's keys and its record of its own writes, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from encore_backend.storage.dynamodb.job_items import (
    PAUSED,
    from_epoch,
    job_item,
    run_key,
    to_epoch,
)
from encore_backend.storage.dynamodb.jobstore import _OwnWrites

T = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)


def test_run_keys_sort_like_the_times_and_paused_sorts_last() -> None:
    times = [T + timedelta(microseconds=1), T - timedelta(days=3000), T, T + timedelta(days=1)]
    keys = [run_key(t) for t in times] + [run_key(None)]
    assert sorted(keys) == [run_key(t) for t in sorted(times)] + [PAUSED]


def test_epoch_seconds_are_exact_to_the_microsecond() -> None:
    assert to_epoch(T) == Decimal("1774745999.999999")
    assert from_epoch(to_epoch(T)) == T
    assert to_epoch(T.astimezone(ZoneInfo("Europe/Paris"))) == to_epoch(T)  # an instant
    assert run_key(T.astimezone(ZoneInfo("Europe/Paris"))) == run_key(T)


def test_a_paused_job_item_has_no_next_run_time() -> None:
    assert "next_run_time" not in job_item("held", None, b"state")
    assert job_item("job", T, b"state")["next_run_time"] == {"N": "1774745999.999999"}


def test_a_write_settles_when_the_index_shows_it_unless_written_again() -> None:
    own = _OwnWrites()
    own.add("a")
    taken = own.snapshot()
    own.add("a")  # written again while the index was read
    own.settle(taken, seen={"a": "k1"}, fresh={"a": "k1"}, complete=False)
    assert set(own.snapshot()) == {"a"}
    own.settle(own.snapshot(), seen={"a": "k1"}, fresh={"a": "k2"}, complete=True)
    assert set(own.snapshot()) == {"a"}  # the index still shows an older state
    own.settle(own.snapshot(), seen={"a": "k2"}, fresh={"a": "k2"}, complete=False)
    assert own.snapshot() == {}


def test_a_removal_settles_only_when_a_whole_index_read_lacks_it() -> None:
    own = _OwnWrites()
    own.add("gone")
    own.settle(own.snapshot(), seen={}, fresh={}, complete=False)  # a range read: can't tell
    assert set(own.snapshot()) == {"gone"}
    own.settle(own.snapshot(), seen={"gone": "k"}, fresh={}, complete=True)  # index lags
    assert set(own.snapshot()) == {"gone"}
    own.settle(own.snapshot(), seen={}, fresh={}, complete=True)
    assert own.snapshot() == {}
