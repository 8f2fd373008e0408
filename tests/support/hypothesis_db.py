"""Hypothesis on the real databases: empty the tables between examples of one test.

The `engine` fixture empties them once per test; a property or state machine runs many examples
inside that one test, so each example starts with this.
"""

from __future__ import annotations

from sqlalchemy import Engine

from encore_backend.storage.sql.models import metadata


def clear_tables(engine: Engine) -> None:
    """Delete every row, children first (the same as tests/conftest.py's truncate_all)."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
