"""Bench databases: created fresh under var/bench (SQLite) or as encore_bench_* databases."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bench.stats_data import (
    BENCH_NOW,
    Segment,
    create_feedback_indexes,
    drop_feedback_indexes,
    load_feedback,
    load_replies,
    load_venues,
)
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade

BENCH_DIR = Path("var/bench")
SERVER_URLS = {
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
}
RECENT_DAYS = 60
HISTORY_DAYS = 730


def segments(recent_rows: int, history_rows: int) -> list[Segment]:
    """Older history first, then the recent 60 days, so ids grow with created_at."""
    recent_start = BENCH_NOW - timedelta(days=RECENT_DAYS)
    parts = []
    if history_rows:
        history_start = recent_start - timedelta(days=HISTORY_DAYS)
        parts.append(Segment(history_rows, history_start, recent_start))
    parts.append(Segment(recent_rows, recent_start, BENCH_NOW))
    return parts


def suffixed(name: str) -> str:
    """`name` plus $ENCORE_BENCH_DB_SUFFIX: benchmarks run side by side never share a database."""
    return name + os.environ.get("ENCORE_BENCH_DB_SUFFIX", "")


def _sqlite_url(name: str) -> str:
    name = suffixed(name)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _server_url(backend: str, name: str) -> str:
    name = suffixed(name)
    admin_db = "test" if backend == "mariadb" else "postgres"
    admin = create_engine(SERVER_URLS[backend].format(db=admin_db), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return SERVER_URLS[backend].format(db=name)


def _loader_engine(backend: str, url: str) -> Engine:
    """A plain engine with bench-only speed settings (no journal on SQLite, fewer checks)."""
    engine = create_engine(url)
    if backend == "sqlite":
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000",
                           "temp_store=MEMORY"):  # fmt: skip
                dbapi_connection.execute(f"PRAGMA {pragma}")

    return engine


def _session_tweaks(conn, backend: str) -> None:  # type: ignore[no-untyped-def]
    if backend == "mariadb":
        conn.execute(text("SET SESSION unique_checks = 0, foreign_key_checks = 0"))
    elif backend == "postgresql":
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))


def _analyze(engine: Engine, backend: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if backend == "sqlite":
            conn.execute(text("ANALYZE"))
        elif backend == "mariadb":
            conn.execute(text("ANALYZE TABLE feedback, encore_ai_responses, venues"))
        else:
            conn.execute(text("VACUUM ANALYZE"))


def fresh_database(
    backend: str, venues: int, recent_rows: int, history_rows: int, *, name: str | None = None
) -> Engine:
    """A migrated database holding the generated data; returns the application's engine on it."""
    name = name or f"encore_bench_stats_{'hist' if history_rows else 'recent'}"
    url = _sqlite_url(name) if backend == "sqlite" else _server_url(backend, name)
    app_engine = make_engine(url)
    upgrade(app_engine)
    app_engine.dispose()
    loader = _loader_engine(backend, url)
    load_venues(loader, venues)
    with loader.begin() as conn:
        _session_tweaks(conn, backend)
        drop_feedback_indexes(conn)
        for segment in segments(recent_rows, history_rows):
            load_feedback(conn, venues, segment)
        create_feedback_indexes(conn)
        load_replies(conn)
    _analyze(loader, backend)
    loader.dispose()
    return make_engine(url)
