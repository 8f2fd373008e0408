"""Test databases: which backends run, and a fresh uniquely named database on each.

A plain module (not conftest) so test modules anywhere, including under tests/browser with its own
conftest, can import it without the name clash of two `conftest` modules.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

BACKENDS = [
    b for b in os.environ.get("ENCORE_TEST_DBS", "sqlite,mariadb,postgresql").split(",") if b
]
SERVER_URLS = {
    "mariadb": ("127.0.0.1", 3306, "mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4"),
    "postgresql": ("127.0.0.1", 5432, "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"),
}
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is absent locally; fail under CI=true (SPEC §10)."""
    if service_answers(host, port):
        return
    message = f"{name} does not answer on {host}:{port}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _admin_engine(backend: str) -> Engine:
    template = SERVER_URLS[backend][2]
    admin_db = "test" if backend == "mariadb" else "postgres"
    return create_engine(template.format(db=admin_db), isolation_level="AUTOCOMMIT")


def create_database(backend: str, tmp_dir: Path) -> str:
    """A new empty database for this session; returns its URL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'encore-{secrets.token_hex(4)}.db'}"
    host, port, template = SERVER_URLS[backend]
    require_service(backend, host, port)
    name = f"encore_t_{os.getpid()}_{secrets.token_hex(3)}"
    admin = _admin_engine(backend)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return template.format(db=name)


def drop_database(backend: str, url: str) -> None:
    if backend == "sqlite":
        return
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = _admin_engine(backend)
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


def backend_of(engine: Engine) -> str:
    return "mariadb" if engine.dialect.name in ("mysql", "mariadb") else engine.dialect.name


def scratch_database(backend: str, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A new empty database (not migrated) and an engine on it, dropped afterwards: for tests
    whose own child processes migrate or share it."""
    from encore_backend.storage.sql.engine import make_engine

    url = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(backend, url)
