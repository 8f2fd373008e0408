"""How a job of the DynamoDB job store (`encore_scheduler_jobs`) is laid out, and its reads.

- `id`: the key; `job_state`: the pickled job (Binary); `next_run_time`: epoch seconds (Number,
  the SQL table's column), absent while paused.
- The `next_run` index: hash `store` (one constant), range `run_key` = the next run time as
  sortable text, or `~` while paused: paused jobs list last and are never due. The index is
  eventually consistent on AWS: it nominates, `get_items` reads the table itself.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from encore_backend.storage.dynamodb.codec import iso
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.schema import SCHEDULER_JOBS

STORE = "jobs"  # the index's one partition
PAUSED = "~"  # sorts after every time text
INDEX = "next_run"
BATCH_GET_LIMIT = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def run_key(next_run_time: datetime | None) -> str:
    return PAUSED if next_run_time is None else iso(next_run_time)


def to_epoch(moment: datetime) -> Decimal:
    """Exact epoch seconds (SQLAlchemyJobStore stores the same number as a float)."""
    delta = moment - EPOCH
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def from_epoch(seconds: Decimal) -> datetime:
    return EPOCH + timedelta(microseconds=int(seconds.scaleb(6)))


def job_item(job_id: str, next_run_time: datetime | None, job_state: bytes) -> dict[str, Any]:
    """The low-level item of one job."""
    item = {
        "id": {"S": job_id},
        "store": {"S": STORE},
        "run_key": {"S": run_key(next_run_time)},
        "job_state": {"B": job_state},
    }
    if next_run_time is not None:
        item["next_run_time"] = {"N": str(to_epoch(next_run_time))}
    return item


def index_rows(
    dynamo: Dynamo, *, upto: str | None = None, limit: int | None = None
) -> Iterator[tuple[str, str]]:
    """(id, run_key) from the index, earliest first; only run keys <= `upto` when given."""
    condition = "#store = :store" + (" AND #key <= :upto" if upto is not None else "")
    values: dict[str, Any] = {":store": {"S": STORE}}
    if upto is not None:
        values[":upto"] = {"S": upto}
    params: dict[str, Any] = {
        "TableName": dynamo.name(SCHEDULER_JOBS),
        "IndexName": INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#id": "id", "#store": "store", "#key": "run_key"},
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "#id, #key",
    }
    if limit is not None:
        params["Limit"] = limit
    for item in dynamo.pages("query", **params):
        yield item["id"]["S"], item["run_key"]["S"]


def get_items(
    dynamo: Dynamo, ids: Iterable[str], *, attributes: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The items of `ids` as the table holds them now (consistent reads; absent ones left out)."""
    table = dynamo.name(SCHEDULER_JOBS)
    wanted = sorted(set(ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), BATCH_GET_LIMIT):
        request: dict[str, Any] = {
            "Keys": [{"id": {"S": i}} for i in wanted[start : start + BATCH_GET_LIMIT]],
            "ConsistentRead": True,
        }
        if attributes:
            names = {f"#{name}": name for name in ("id", *attributes)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        for attempt in itertools.count():
            page = dynamo.client.batch_get_item(RequestItems=pending)
            found.extend(page["Responses"].get(table, []))
            pending = page.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))  # throttled: back off, then the rest
    return found
