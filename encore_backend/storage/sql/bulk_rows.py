"""Statements for many rows at once, with the per-row Python work kept small.

On SQLite (where the bulk import's throughput target lives) rows go to the driver's
`executemany` directly, each value converted by its column type's own bind processor (so the
stored text is what SQLAlchemy would store), and an IN list travels as one JSON parameter.
Elsewhere SQLAlchemy's multi-row INSERT … RETURNING and chunked IN lists do the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func, insert, select
from sqlalchemy.sql.schema import ScalarElementColumnDefault

CHUNK = 500  # values per IN (...) list where it is spelled out


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def in_values(conn: Connection, column: Any, values: Sequence[str]) -> list[ColumnElement[bool]]:
    """`column IN values` as one or more conditions (one per chunk; SQLite: a single one)."""
    if is_sqlite(conn):
        each = func.json_each(json.dumps(list(values))).table_valued("value")
        return [column.in_(select(each.c.value))]
    return [column.in_(values[i : i + CHUNK]) for i in range(0, len(values), CHUNK)]


def insert_numbered(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (all with the same keys); their new primary keys, in order."""
    if not rows:
        return []
    key = table.primary_key.columns.values()[0]
    if not is_sqlite(conn):
        statement = insert(table).returning(key, sort_by_parameter_order=True)
        return [int(r[0]) for r in conn.execute(statement, rows)]
    # Our write transaction began IMMEDIATE and holds SQLite's only write lock: the next ids
    # are max + 1, … (what SQLite would pick). SQLAlchemy's ordered RETURNING would run one
    # statement per row here.
    start = int(conn.execute(select(func.coalesce(func.max(key), 0))).scalar_one()) + 1
    ids = list(range(start, start + len(rows)))
    raw_insert(conn, table, [{**r, key.name: i} for r, i in zip(rows, ids, strict=True)])
    return ids


def raw_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One driver executemany (SQLite's qmark style), values through the column types; a
    column left out gets its scalar Python default, as SQLAlchemy would give it."""
    defaults = {
        col.name: col.default.arg
        for col in table.c
        if col.name not in rows[0] and isinstance(col.default, ScalarElementColumnDefault)
    }
    keys = [*rows[0], *defaults]
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
        f"VALUES ({', '.join('?' for _ in keys)})"
    )
    convert = [(i, p) for i, k in enumerate(keys) if (p := _processor(conn, table.c[k]))]
    get = itemgetter(*keys)
    params = []
    for row in rows:
        values = list(get({**row, **defaults} if defaults else row))
        for i, process in convert:
            values[i] = process(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def _processor(conn: Connection, column: Any) -> Callable[[Any], Any] | None:
    """The column's bind processor, remembering its answers: a batch repeats values (`now` in
    every row), and converting a datetime costs more than the insert of its row."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return None
    seen: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = process(value)
            return converted

    return remembered
