"""Shared fixtures: one fresh database per backend per session, a manual clock, a wired container.

Database tests take the `engine` (or `ctx`) fixture and run once per backend: SQLite, MariaDB and
PostgreSQL. A backend that does not answer is skipped locally and fails the run when CI=true.
Each session creates its own uniquely named databases, so parallel runs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from support.databases import BACKENDS, create_database, drop_database
from support.dynamo import CREDENTIAL_ENV, dynamo_settings, empty_tables, fresh_tables
from support.moto_server import moto_server

from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock
from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import Dynamo, connect
from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import upgrade
from encore_backend.storage.sql.models import metadata


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


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's standalone server, one per session (DynamoDB, SES)."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def dynamo_tables(moto_url: str) -> Dynamo:
    """A client on this session's DynamoDB tables, created once; tests empty them with it."""
    profile = dynamo_settings(Settings(_env_file=None), moto_url)  # type: ignore[call-arg]
    with pytest.MonkeyPatch.context() as patch:
        moto_credentials(patch)
        return fresh_tables(profile)  # the client keeps the credentials it resolved


def moto_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for moto, for one test only: other tests check what happens without any."""
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def dynamo_profile(
    settings: Settings, moto_url: str, dynamo_tables: Dynamo, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """`settings` in the DynamoDB profile, on the session's tables emptied for this test."""
    moto_credentials(monkeypatch)
    empty_tables(dynamo_tables)
    return dynamo_settings(settings, moto_url, dynamo_tables.prefix)


@pytest.fixture
def bare_dynamo_profile(
    settings: Settings, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """`settings` in the DynamoDB profile under a prefix of its own, with no table yet."""
    moto_credentials(monkeypatch)
    return dynamo_settings(settings, moto_url)


@pytest.fixture
def dynamo(dynamo_profile: Settings) -> Dynamo:
    """A client on this test's (empty) tables of the DynamoDB profile."""
    return connect(dynamo_profile)


@pytest.fixture(params=["sql", "dynamodb"])
def derived(request: pytest.FixtureRequest) -> str:
    """Where the derived documents live: the contract suites run once per store."""
    return str(request.param)


@pytest.fixture
def store_ctx(request: pytest.FixtureRequest, derived: str, ctx: Container) -> Container:
    """`ctx`, or the same database with the derived documents in DynamoDB (moto's server)."""
    if derived == "sql":
        return ctx
    profile: Settings = request.getfixturevalue("dynamo_profile")
    return build(profile, clock=ctx.clock, engine=ctx.engine)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """DynamoDB contract runs pair with SQLite only: the source of truth's database adds no
    DynamoDB path, and moto is slow; the real-process DynamoDB tests run on MariaDB."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        paired = params.get("derived") == "dynamodb" and params.get("db_url") not in (
            None,
            "sqlite",
        )
        (drop if paired else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
