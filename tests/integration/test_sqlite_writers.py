"""SQLite writers of one process queue on a lock (storage/sql/engine.py), not in SQLite's busy
handler: concurrent writers all commit, and a rolled-back or failed writer hands the lock on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from encore_backend.storage.sql.engine import make_engine, read_only


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INTEGER)"))
    return engine


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_eight_concurrent_writers_all_commit(sqlite_engine: Engine) -> None:
    def write(writer: int) -> None:
        for _ in range(25):
            with sqlite_engine.begin() as conn:
                conn.execute(text("INSERT INTO t (writer) VALUES (:w)"), {"w": writer})

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert count(sqlite_engine) == 8 * 25


def test_a_rolled_back_writer_releases_the_lock(sqlite_engine: Engine) -> None:
    with pytest.raises(RuntimeError), sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO t (writer) VALUES (1)"))
        raise RuntimeError("the request failed")
    with pytest.raises(Exception, match="no such table"), sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO missing VALUES (1)"))

    done = threading.Event()

    def write() -> None:  # another thread: it would wait forever on a leaked lock
        with sqlite_engine.begin() as conn:
            conn.execute(text("INSERT INTO t (writer) VALUES (2)"))
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(10)
    assert count(sqlite_engine) == 1


def test_readers_do_not_queue_behind_a_writer(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as writer:
        writer.execute(text("INSERT INTO t (writer) VALUES (1)"))
        with read_only(sqlite_engine) as reader:  # WAL: the committed snapshot, at once
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    assert count(sqlite_engine) == 1
