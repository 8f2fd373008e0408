"""Opaque cursors of the list endpoints: the sort key of a page's last row, base64url JSON.

A client passes `next_cursor` back as `?cursor=` (with the same filters) and gets the rows
after it; `next_cursor` is null on the last page. Rows added meanwhile are neither skipped
nor repeated within the order, unlike offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from encore_backend.api.errors import unprocessable
from encore_backend.api.params import MAX_DB_INT


@dataclass(frozen=True)
class Keyset:
    """The fields of a public document that order a list: ISO times, ints or strings."""

    fields: tuple[str, ...]
    kinds: tuple[type, ...]

    def encode(self, doc: Mapping[str, Any]) -> str:
        raw = json.dumps([doc[name] for name in self.fields], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        """The store's key for `cursor`; a 422 naming `cursor` when it is not one of ours."""
        try:
            values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            return [_typed(v, kind) for v, kind in zip(values, self.kinds, strict=True)]
        except (ValueError, TypeError, binascii.Error):
            raise unprocessable(
                "cursor", "is not a cursor of this list", location="query"
            ) from None


def _typed(value: Any, kind: type) -> Any:
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is int and (type(value) is not int or not 0 <= value <= MAX_DB_INT):
        raise ValueError(value)
    if kind is str and type(value) is not str:
        raise ValueError(value)
    return value


def page(docs: Sequence[Mapping[str, Any]], limit: int, keyset: Keyset) -> tuple[list[Any], Any]:
    """The first `limit` docs (the store was asked for one more) and the next cursor or None."""
    rows = list(docs[:limit])
    more = len(docs) > limit and rows
    return rows, keyset.encode(rows[-1]) if more else None


def after(cursor: str | None, keyset: Keyset) -> list[Any] | None:
    return None if cursor is None else keyset.decode(cursor)


ALERTS = Keyset(("detected_at", "feedback_id"), (datetime, int))
REPLIES = Keyset(("created_at", "response_id"), (datetime, str))
QUEUE = Keyset(("scheduled_send_time", "queue_id"), (datetime, str))
REPORTS = Keyset(("period_start", "kind"), (datetime, str))
FEEDBACK = Keyset(("feedback_id",), (int,))
RUNS = Keyset(("started_at", "run_id"), (datetime, int))
