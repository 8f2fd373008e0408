"""Shared fixtures: one fresh database per backend per session, a manual clock, a wired container.

Database tests take the `engine` (or `ctx`) fixture and run once per backend: SQLite, MariaDB and
PostgreSQL. A backend that does not answer is skipped locally and fails the run when CI=true.
Each session creates its own uniquely named databases, so parallel runs never collide.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock
from encore_backend.config import Settings
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade
from encore_backend.storage.sql.models import metadata

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


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a migrated, session-private database, once per backend."""
    backend = request.param
    url = create_database(backend, tmp_path_factory.mktemp(backend))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_database(backend, url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database whose tables are emptied before each test."""
    eng = make_engine(db_url)
    truncate_all(eng)
    yield eng
    eng.dispose()


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        encore_database_url=db_url,
        encore_admin_token="test-admin-token",
        encore_outbox_dir=str(tmp_path / "outbox"),
    )


@pytest.fixture
def ctx(settings: Settings, engine: Engine, clock: ManualClock) -> Container:
    """The wired container on this test's database and manual clock."""
    return build(settings, clock=clock, engine=engine)


def backend_of(engine: Engine) -> str:
    return "mariadb" if engine.dialect.name in ("mysql", "mariadb") else engine.dialect.name
