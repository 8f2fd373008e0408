"""The migrations build exactly the schema the code's table definitions describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from factories import make_feedback
from sqlalchemy import Engine, MetaData, Table, insert, select
from support.databases import create_database, drop_database

from encore_backend.services.venue_service import DEFAULT_SETTINGS
from encore_backend.storage.sql import models as m
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
        legacy_venue(old, "v", now=now - timedelta(days=2))
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


def legacy_venue(engine: Engine, venue_id: str, *, now: datetime) -> None:
    """A venue written by an older revision: only the settings columns its schema has (the
    model's column types, so JSON is written as JSON on every database)."""
    present = MetaData()
    present.reflect(engine, only=["venue_settings"])
    names = set(present.tables["venue_settings"].c.keys())
    settings = Table(
        "venue_settings", MetaData(), *(c._copy() for c in m.venue_settings.c if c.name in names)
    )
    defaults = {**DEFAULT_SETTINGS, "auto_send_delay_minutes": 30}
    values = {k: v for k, v in defaults.items() if k in names}
    with engine.begin() as conn:
        conn.execute(
            insert(m.venues).values(
                venue_id=venue_id,
                name=venue_id,
                timezone="UTC",
                manager_emails=["m@example.com"],
                webhook_secret="s",
                created_at=now,
            )
        )
        conn.execute(insert(settings).values(venue_id=venue_id, updated_at=now, **values))


def test_0005_gives_existing_venues_the_new_settings_defaults(
    engine: Engine, tmp_path: Path
) -> None:
    """A 0004 venue upgraded to 0005 has a 24-hour deadline, a warm tone, no banned phrases; the
    migration goes down and up again."""
    backend = BACKEND_OF[engine.dialect.name]
    url = create_database(backend, tmp_path)
    old = make_engine(url)
    try:
        upgrade(old, "0004")
        legacy_venue(old, "v", now=datetime(2026, 3, 10, 12, tzinfo=UTC))
        upgrade(old)
        command.downgrade(alembic_config(url), "0004")
        upgrade(old)
        c = m.venue_settings.c
        query = select(c.response_sla_hours, c.reply_tone, c.reply_signature, c.banned_phrases)
        with old.connect() as conn:
            row = conn.execute(query).one()
        assert (row.response_sla_hours, row.reply_tone, row.reply_signature) == (24, "warm", None)
        assert row.banned_phrases == []
    finally:
        old.dispose()
        drop_database(backend, url)
