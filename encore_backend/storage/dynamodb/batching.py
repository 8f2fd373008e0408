"""BatchWriteItem and BatchGetItem in chunks, retrying what DynamoDB left unprocessed.

Throttled batches come back partly done (UnprocessedItems / UnprocessedKeys), not as errors:
the rest is sent again with a growing pause, and an error is raised if it never goes through.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from encore_backend.storage.dynamodb.connection import Dynamo

WRITE_CHUNK = 25  # DynamoDB's limits per request
GET_CHUNK = 100
TRIES = 8


class UnprocessedError(RuntimeError):
    """DynamoDB kept refusing part of a batch (throttling that outlasted every retry)."""


def _pause(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_write(dynamo: Dynamo, table: str, requests: Sequence[Mapping[str, Any]]) -> None:
    """Every PutRequest / DeleteRequest of `requests` on `table`, 25 per request."""
    for chunk in _chunks(requests, WRITE_CHUNK):
        pending: dict[str, Any] = {table: list(chunk)}
        for attempt in range(TRIES):
            answer = dynamo.client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            _pause(attempt)
        else:
            raise UnprocessedError(f"{table}: {len(pending[table])} writes left unprocessed")


def batch_get(
    dynamo: Dynamo, table: str, keys: Sequence[Mapping[str, Any]], *, consistent: bool = False
) -> list[Mapping[str, Any]]:
    """The items of `keys` that exist (in no particular order), 100 keys per request."""
    found: list[Mapping[str, Any]] = []
    for chunk in _chunks(keys, GET_CHUNK):
        pending: dict[str, Any] = {table: {"Keys": list(chunk), "ConsistentRead": consistent}}
        for attempt in range(TRIES):
            answer = dynamo.client.batch_get_item(RequestItems=pending)
            found += answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
            _pause(attempt)
        else:
            raise UnprocessedError(f"{table}: {len(pending[table]['Keys'])} keys left unread")
    return found
