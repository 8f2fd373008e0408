"""The migrations build exactly the schema the code's table definitions describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from factories import make_feedback, make_venue
from sqlalchemy import Engine
from support.databases import create_database, drop_database

from encore_backend.storage.sql.engine import make_engine
from encore_backend.storage.sql.migrate import alembic_config, upgrade
from encore_backend.storage.sql.models import metadata
from encore_backend.storage.sql.trends import SqlTrendStore


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(context, metadata)
    assert diffs == []


BACKEND_OF = {
    "sqlite": "sqlite",
    "mysql": "mariadb",
    "mariadb": "mariadb",
    "postgresql": "postgresql",
}


def test_0004_upgrades_a_database_with_feedback_and_the_first_run_backfills(
    engine: Engine, tmp_path: Path
) -> None:
    """A 0003 database with feedback: `db upgrade` adds the hourly buckets (and goes back down),
    and the first stats run fills them from the feedback already there."""
    backend = BACKEND_OF[engine.dialect.name]
    url = create_database(backend, tmp_path)
    old = make_engine(url)
    try:
        upgrade(old, "0003")
        now = datetime(2026, 3, 10, 12, tzinfo=UTC)
        make_venue(old, "v", now=now - timedelta(days=2))
        for hours, rating in ((30, 4), (30, 2), (3, 5)):
            make_feedback(old, "v", created_at=now - timedelta(hours=hours), rating=rating)
        upgrade(old)
        command.downgrade(alembic_config(url), "0003")
        upgrade(old)
        trends = SqlTrendStore(old)
        trends.refresh_hourly(now=now)
        hours = sorted(trends.hourly_feedback("v", since=now - timedelta(days=3), until=now))
        assert [(now - h, n, total) for h, n, total in hours] == [
            (timedelta(hours=30), 2, 6),
            (timedelta(hours=3), 1, 5),
        ]
    finally:
        old.dispose()
        drop_database(backend, url)
