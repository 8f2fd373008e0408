"""TransactWriteItems with its outcome as data: None when it committed, else the reasons.

A transaction whose condition failed is an answer the caller acts on (a duplicate, a claim
taken), so it comes back as the list of CancellationReasons, one per write, in order. One that
only collided with another transaction on the same item (TransactionConflict) is sent again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from encore_backend.storage.dynamodb.connection import Dynamo

CONDITION_FAILED = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"
TRIES = 6
Reasons = list[dict[str, Any]]


class TransactionFailed(RuntimeError):
    """A transaction cancelled for a reason the caller did not expect."""

    def __init__(self, reasons: Sequence[Mapping[str, Any]]) -> None:
        codes = [r.get("Code") for r in reasons]
        super().__init__(f"transaction cancelled: {codes}")
        self.reasons = list(reasons)


def transact(dynamo: Dynamo, writes: Sequence[Mapping[str, Any]]) -> Reasons | None:
    """Run `writes` as one transaction: None if it committed, else why each write failed."""
    for attempt in range(TRIES):
        reasons = _attempt(dynamo, writes)
        if reasons is None or not is_conflict_only(reasons):
            return reasons
        time.sleep(min(0.02 * 2**attempt, 0.5))
    return reasons


def _attempt(dynamo: Dynamo, writes: Sequence[Mapping[str, Any]]) -> Reasons | None:
    # The token makes the SDK's own retry of a request that did commit (an answer lost on the
    # way back) succeed instead of failing on its own conditions.
    try:
        dynamo.client.transact_write_items(
            TransactItems=list(writes), ClientRequestToken=str(uuid.uuid4())
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons: Reasons = error.response.get("CancellationReasons", [])
        return reasons
    return None


def is_conflict_only(reasons: Sequence[Mapping[str, Any]]) -> bool:
    codes = {r.get("Code") for r in reasons} - {"None", None}
    return codes == {CONFLICT}


def failed(reasons: Sequence[Mapping[str, Any]], index: int) -> bool:
    """Whether write `index` was refused by its condition."""
    return index < len(reasons) and reasons[index].get("Code") == CONDITION_FAILED
