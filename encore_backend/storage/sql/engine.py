"""Engines for the three databases, with the per-dialect settings each one needs."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

READ_ONLY_OPTION = "encore_read_only"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        # READ COMMITTED: claims and scans see other processes' commits at once.
        options["isolation_level"] = "READ COMMITTED"
    if parsed.get_backend_name() == "postgresql":
        # No server-side prepared statements: after 5 runs psycopg prepares a statement and
        # PostgreSQL may switch to a generic plan, which searches a parameter IN list linearly
        # per row (the bulk import's external_id lookup became quadratic: 100,000 rows 166 s,
        # now a flat 0.6 s per 2,000-row batch).
        options["connect_args"] = {"prepare_threshold": None}
    options.update(kwargs)
    return create_engine(url, **options)


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            "check_same_thread": False,
            "factory": QueuedWriterConnection,
        },
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN so a write transaction starts IMMEDIATE (no upgrade deadlock).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front; readers (see `read_only`) start a plain snapshot and
        # never wait behind a writer in WAL mode.
        if conn.get_execution_options().get(READ_ONLY_OPTION, False):
            conn.exec_driver_sql("BEGIN")
            return
        dbapi = conn.connection.dbapi_connection
        dbapi.queue_for_write()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi.release_write()
            raise

    return engine


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(database: str) -> threading.Lock | None:
    """One lock per database file in this process (None for in-memory databases)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    with _write_locks_guard:
        return _write_locks.setdefault(os.path.abspath(database), threading.Lock())


class QueuedWriterConnection(sqlite3.Connection):
    """A connection whose write transactions queue on a lock shared by the process.

    SQLite has one writer. Threads that met a held write lock used to wait in SQLite's busy
    handler, which sleeps 1, 2, 5 ... up to 100 ms between tries: under 8 concurrent requests
    most of a request's time went to those sleeps, and the order was a lottery. Here a writer
    waits on a Python lock that the previous writer's COMMIT or ROLLBACK hands over at once;
    the busy timeout still covers other processes (a CLI next to the server)."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._write_lock = _write_lock(str(database))
        self._writing = False

    def queue_for_write(self) -> None:
        """Wait for this process's other writers (up to the busy timeout)."""
        if self._write_lock is None or self._writing:
            return
        if not self._write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked (waited for this process's writers)")
        self._writing = True

    def release_write(self) -> None:
        if self._writing and self._write_lock is not None:
            self._writing = False
            self._write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_write()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_sqlite_url(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def read_only(engine: Engine) -> Connection:
    """A connection for reads: on SQLite its transaction is deferred, so it never blocks on
    a writer; elsewhere it is an ordinary connection. Never write through it."""
    reader = _readers.get(engine)
    if reader is None:
        reader = _readers[engine] = engine.execution_options(**{READ_ONLY_OPTION: True})
    return reader.connect()
