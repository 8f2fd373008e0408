"""Empty migrated bench databases for the pipeline and reports benchmarks, and their removal."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from bench.stats_db import BENCH_DIR, SERVER_URLS, _server_url, _sqlite_url, suffixed
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade


def empty_database(backend: str, name: str) -> str:
    """A freshly created, migrated database (var/bench/<name>.db or <name> on the server)."""
    url = _sqlite_url(name) if backend == "sqlite" else _server_url(backend, name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(backend: str, name: str) -> None:
    """Remove a bench database so nothing is left behind."""
    name = suffixed(name)
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{BENCH_DIR / name}.db{suffix}").unlink(missing_ok=True)
        return
    admin_db = "test" if backend == "mariadb" else "postgres"
    admin = create_engine(SERVER_URLS[backend].format(db=admin_db), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()
