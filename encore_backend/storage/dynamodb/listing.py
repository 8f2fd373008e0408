"""Newest-first lists in the SQL stores' order, read from a `time#id` sort key.

SQL orders (time DESC, id ASC); a descending Query on `time#id` gives ids descending within one
time. So the reader keeps going past the `limit`-th document until the time changes, then sorts:
the page is the one SQL returns, ties included, and `after` (time, id) pages the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from encore_backend.storage.dynamodb.codec import iso

LAST_OF_TIME = "#~"  # sorts after `time#<any id>`: the upper bound of one time's keys


def upper_bound(after: Sequence[Any]) -> str:
    """The highest sort key a page after (time, id) may hold (its time's ties included)."""
    return iso(after[0]) + LAST_OF_TIME


def newest_first(
    docs: Iterable[Mapping[str, Any]],
    *,
    time: str,
    ident: str,
    limit: int,
    after: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """The first `limit` of `docs` (given time-descending) by (time DESC, ident ASC), after
    the (time, ident) key `after`."""
    taken: list[dict[str, Any]] = []
    if limit <= 0:
        return taken
    for doc in docs:
        stamp = iso(doc[time])
        if after is not None and not _after(stamp, str(doc[ident]), after):
            continue
        if len(taken) >= limit and stamp < iso(taken[limit - 1][time]):
            break
        taken.append(dict(doc))
    taken.sort(key=lambda d: str(d[ident]))
    taken.sort(key=lambda d: iso(d[time]), reverse=True)
    return taken[:limit]


def _after(stamp: str, ident: str, key: Sequence[Any]) -> bool:
    edge = iso(key[0])
    return stamp < edge or (stamp == edge and ident > str(key[1]))
