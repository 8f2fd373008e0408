"""SQL stores raise the ports' exceptions: StorageUnavailable when the database cannot be
reached, StorageError for any other database error; the retries inside a store still see the
database's own errors (a deadlock victim runs again, only a lasting failure gets out)."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from encore_backend.storage.errors import StorageError, StorageUnavailable
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.retries import retry_deadlocks
from encore_backend.storage.sql.venues import SqlVenueStore

CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"


def mariadb_error(code: int, text: str) -> OperationalError:
    return OperationalError("UPDATE …", {}, pymysql.err.OperationalError(code, text))


@raises_port_errors
class FlakyStore:
    """Fails as told: `deadlocks` times with a deadlock, then with `then` (if any)."""

    def __init__(self, deadlocks: int, then: Exception | None = None) -> None:
        self.deadlocks, self.then, self.calls = deadlocks, then, 0

    @retry_deadlocks
    def write(self) -> str:
        self.calls += 1
        if self.calls <= self.deadlocks:
            raise mariadb_error(1213, "Deadlock found when trying to get lock")
        if self.then is not None:
            raise self.then
        return "committed"

    def _helper(self) -> None:
        raise mariadb_error(2013, "Lost connection to server during query")


def test_a_store_on_an_unreachable_database_raises_storage_unavailable() -> None:
    engine = make_engine(CLOSED_PORT_URL)
    try:
        with pytest.raises(StorageUnavailable) as raised:
            SqlVenueStore(engine).get("v1")
    finally:
        engine.dispose()
    assert isinstance(raised.value.__cause__, OperationalError)


def test_a_deadlock_is_still_retried_inside_the_store() -> None:
    store = FlakyStore(deadlocks=2)
    assert store.write() == "committed" and store.calls == 3


def test_a_lasting_deadlock_gets_out_as_a_storage_error_not_an_outage() -> None:
    store = FlakyStore(deadlocks=10)
    with pytest.raises(StorageError) as raised:
        store.write()
    assert not isinstance(raised.value, StorageUnavailable) and store.calls == 4


def test_a_rejected_write_is_a_storage_error_and_a_lost_connection_an_outage() -> None:
    duplicate = IntegrityError("INSERT …", {}, pymysql.err.IntegrityError(1062, "Duplicate"))
    with pytest.raises(StorageError) as rejected:
        FlakyStore(deadlocks=0, then=duplicate).write()
    assert not isinstance(rejected.value, StorageUnavailable)
    with pytest.raises(StorageUnavailable):
        FlakyStore(deadlocks=0, then=mariadb_error(2013, "Lost connection")).write()


def test_private_helpers_keep_the_database_errors_for_the_store_to_handle() -> None:
    with pytest.raises(OperationalError):
        FlakyStore(deadlocks=0)._helper()


def test_errors_that_are_not_the_databases_pass_through_unchanged() -> None:
    with pytest.raises(KeyError):
        FlakyStore(deadlocks=0, then=KeyError("venue")).write()
