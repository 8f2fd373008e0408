"""The DynamoDB adapters of the derived-document ports, built over the SQL stores they read the
source of truth through (feedback, venues, customers stay in SQL in every profile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.email_queue import DynamoEmailQueueStore
from encore_backend.storage.dynamodb.replies import DynamoReplyStore


def dynamo_stores(dynamo: Dynamo, sql: Mapping[str, Any]) -> dict[str, Any]:
    """The derived stores of ENCORE_DERIVED_STORE=dynamodb; `sql` holds the SQL ones by role."""
    stores: dict[str, Any] = dict(sql)
    stores["email_queue"] = DynamoEmailQueueStore(dynamo, source=sql["email_queue"])
    stores["replies"] = DynamoReplyStore(dynamo, source=sql["replies"])
    return stores
