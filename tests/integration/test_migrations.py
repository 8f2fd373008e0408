"""The migrations build exactly the schema the code's table definitions describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from encore_backend.storage.sql.models import metadata


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(context, metadata)
    assert diffs == []
