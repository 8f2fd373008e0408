"""Conditional writes: UpdateItem expressions from a dict of changes, TransactWriteItems with
its cancellation reasons, batched key reads and writes, and counts.

A change to None removes the attribute (None is never stored, see codec), so sparse indexes
stay sparse: an item leaves the `venue_sent` index when its `sent_at` is removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from encore_backend.storage.dynamodb.codec import encode_value
from encore_backend.storage.dynamodb.connection import Dynamo

CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"
BATCH_GET, BATCH_WRITE = 100, 25  # DynamoDB's per-request maxima


@dataclass
class Condition:
    """A ConditionExpression with its names and (Python) values."""

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def when(expression: str, **values: Any) -> Condition:
    """A condition whose `#status` names the status attribute and `:x` are the `values`."""
    names = {"#status": "status"} if "#status" in expression else {}
    return Condition(expression, names, {f":{k}": v for k, v in values.items()})


def one_of(name: str, options: Sequence[str]) -> Condition:
    """`name` IN (options)."""
    values = {f":in{i}": v for i, v in enumerate(options)}
    return Condition(f"#in IN ({', '.join(values)})", {"#in": name}, values)


def both(first: Condition, second: Condition) -> Condition:
    return Condition(
        f"({first.expression}) AND ({second.expression})",
        {**first.names, **second.names},
        {**first.values, **second.values},
    )


def update(
    table: str,
    key: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    add: Mapping[str, int] | None = None,
    condition: Condition | None = None,
) -> dict[str, Any]:
    """UpdateItem parameters (also a transaction's `Update`): SET the values, REMOVE the Nones,
    ADD the counters, under the condition."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, removes, adds = [], [], []
    for i, (name, value) in enumerate(changes.items()):
        names[f"#u{i}"] = name
        if value is None:
            removes.append(f"#u{i}")
        else:
            values[f":u{i}"] = value
            sets.append(f"#u{i} = :u{i}")
    for i, (name, amount) in enumerate((add or {}).items()):
        names[f"#a{i}"] = name
        values[f":a{i}"] = amount
        adds.append(f"#a{i} :a{i}")
    clauses = [("SET", ", ".join(sets)), ("REMOVE", ", ".join(removes)), ("ADD", ", ".join(adds))]
    params = {
        "TableName": table,
        "Key": dict(key),
        "UpdateExpression": " ".join(f"{verb} {body}" for verb, body in clauses if body),
    }
    return with_condition(params, condition, names, values)


def with_condition(
    params: dict[str, Any],
    condition: Condition | None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`params` with the condition and every expression name and value (encoded) added."""
    names, values = dict(names or {}), dict(values or {})
    if condition is not None:
        params["ConditionExpression"] = condition.expression
        names.update(condition.names)
        values.update(condition.values)
    if names:
        params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = {k: encode_value(v) for k, v in values.items()}
    return params


def put(table: str, item: Mapping[str, Any], condition: Condition | None = None) -> dict:
    return with_condition({"TableName": table, "Item": dict(item)}, condition)


def delete(table: str, key: Mapping[str, Any], condition: Condition | None = None) -> dict:
    return with_condition({"TableName": table, "Key": dict(key)}, condition)


def check(table: str, key: Mapping[str, Any], condition: Condition) -> dict:
    return with_condition({"TableName": table, "Key": dict(key)}, condition)


class _Conflict(Exception):
    """Another transaction touched the same items meanwhile: this one may simply run again."""


def transact(dynamo: Dynamo, writes: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """Commit `writes` (entries like {"Update": …}) atomically. None when committed; else the
    cancellation reason of each entry ("None" for the ones that did not cause it). A
    cancellation by a concurrent transaction alone (TransactionConflict) is retried."""
    policy = Retrying(
        retry=retry_if_exception_type(_Conflict),
        stop=stop_after_attempt(6),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),
        reraise=True,
    )
    return policy(_transact_once, dynamo, list(writes))


def _transact_once(dynamo: Dynamo, writes: list[Mapping[str, Any]]) -> list[str] | None:
    try:
        dynamo.client.transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") or "None" for r in error.response.get("CancellationReasons", [])]
        if CONDITION_FAILED not in reasons and TRANSACTION_CONFLICT in reasons:
            raise _Conflict(reasons) from error
        if CONDITION_FAILED not in reasons:
            raise
        return reasons
    return None


def conditional(dynamo: Dynamo, operation: str, params: Mapping[str, Any]) -> Any:
    """Run a single conditional write; None when its condition failed, else the response."""
    try:
        return getattr(dynamo.client, operation)(**params)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise


def batch_get(
    dynamo: Dynamo, table: str, keys: Sequence[Mapping[str, Any]], **extra: Any
) -> list[dict]:
    """Every item of `keys` that exists (consistent reads, 100 keys a request); `extra`:
    e.g. projection(...)."""
    found: list[dict] = []
    for start in range(0, len(keys), BATCH_GET):
        chunk = list(keys[start : start + BATCH_GET])
        request = {table: {"Keys": chunk, "ConsistentRead": True, **extra}}
        while request:
            answer = dynamo.client.batch_get_item(RequestItems=request)
            found += answer["Responses"].get(table, [])
            request = answer.get("UnprocessedKeys") or {}
    return found


def batch_put(dynamo: Dynamo, table: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Put `items` (unconditionally), 25 a request, until none is left unprocessed."""
    for start in range(0, len(items), BATCH_WRITE):
        chunk = [{"PutRequest": {"Item": dict(i)}} for i in items[start : start + BATCH_WRITE]]
        request: dict[str, Any] = {table: chunk}
        while request:
            answer = dynamo.client.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}


def count(dynamo: Dynamo, **query: Any) -> int:
    """How many items a Query matches (Select=COUNT, every page)."""
    total, params = 0, {**query, "Select": "COUNT"}
    while True:
        page = dynamo.client.query(**params)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def projection(names: Sequence[str]) -> dict[str, Any]:
    """ProjectionExpression parameters for `names` (placeholders: no reserved-word clash)."""
    aliases = {f"#p{i}": name for i, name in enumerate(names)}
    return {"ProjectionExpression": ", ".join(aliases), "ExpressionAttributeNames": aliases}


def index_query(
    dynamo: Dynamo, table: str, index: str, name: str, value: Any, **more: Any
) -> Iterator[Mapping[str, Any]]:
    """Every item of an index whose hash key `name` equals `value` (paginated)."""
    return dynamo.pages(
        "query",
        TableName=table,
        IndexName=index,
        KeyConditionExpression="#k = :k",
        ExpressionAttributeNames={"#k": name, **more.pop("names", {})},
        ExpressionAttributeValues={":k": encode_value(value), **more.pop("values", {})},
        **more,
    )
