"""Store retries: a deadlock victim runs again, a run outcome outlasts an outage, any other
database error is raised at once."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from encore_backend.storage.sql.retries import (
    is_deadlock,
    is_unreachable,
    retry_deadlocks,
    retry_through_outage,
)


def mariadb_error(code: int, text: str) -> OperationalError:
    return OperationalError("UPDATE job_runs …", {}, pymysql.err.OperationalError(code, text))


def test_a_deadlock_victim_is_run_again_until_it_commits() -> None:
    calls: list[int] = []

    @retry_deadlocks
    def finish(run_id: int) -> str:
        calls.append(run_id)
        if len(calls) < 3:
            raise mariadb_error(1213, "Deadlock found when trying to get lock")
        return "committed"

    assert finish(7) == "committed" and calls == [7, 7, 7]


def test_other_errors_and_a_persistent_deadlock_are_raised() -> None:
    calls: list[str] = []

    @retry_deadlocks
    def broken() -> None:
        calls.append("x")
        raise IntegrityError("INSERT …", {}, pymysql.err.IntegrityError(1062, "Duplicate"))

    with pytest.raises(IntegrityError):
        broken()
    assert calls == ["x"]

    @retry_deadlocks
    def always_deadlocked() -> None:
        calls.append("d")
        raise mariadb_error(1213, "Deadlock")

    with pytest.raises(OperationalError):
        always_deadlocked()
    assert calls.count("d") == 4


def test_deadlock_codes_of_both_servers_are_recognised() -> None:
    assert is_deadlock(mariadb_error(1205, "Lock wait timeout exceeded"))
    assert not is_deadlock(mariadb_error(2013, "Lost connection"))
    assert not is_deadlock(ValueError("1213"))


def test_a_runs_outcome_is_written_once_the_database_answers_again() -> None:
    calls: list[str] = []

    @retry_through_outage
    def finish() -> str:
        calls.append("try")
        if len(calls) < 3:
            raise mariadb_error(2013, "Lost connection to server during query")
        return "recorded"

    assert finish() == "recorded" and len(calls) == 3
    assert is_unreachable(mariadb_error(2003, "Can't connect to server on '127.0.0.1'"))
    assert not is_unreachable(mariadb_error(1213, "Deadlock"))
