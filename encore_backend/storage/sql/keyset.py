"""Keyset paging: the rows strictly after a given row in a multi-column order.

Used by the list endpoints' cursors: unlike OFFSET it neither skips nor repeats a row when
rows are added between pages, and it costs the same on page 1 and page 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

# (column, descending?) pairs, ending with a column that makes the order total.
Order = Sequence[tuple[ColumnElement[Any], bool]]


def after(order: Order, key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that come after the row whose order columns equal `key`."""
    clauses = []
    for i, (column, descending) in enumerate(order):
        same = [earlier == value for (earlier, _), value in zip(order[:i], key, strict=False)]
        beyond = column < key[i] if descending else column > key[i]
        clauses.append(and_(*same, beyond))
    return or_(*clauses)


def ordered(order: Order) -> list[ColumnElement[Any]]:
    """The ORDER BY clauses of `order`."""
    return [column.desc() if descending else column.asc() for column, descending in order]
