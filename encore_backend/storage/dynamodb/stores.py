"""The DynamoDB adapters of the derived-document ports, built over the SQL stores they read the
source of truth through (feedback, venues, customers stay in SQL in every profile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.jobstore import DynamoJobStore
from encore_backend.storage.dynamodb.scheduled_jobs import DynamoScheduledJobsView


def dynamo_stores(dynamo: Dynamo, sql: Mapping[str, Any]) -> dict[str, Any]:
    """The derived stores of ENCORE_DERIVED_STORE=dynamodb; `sql` holds the SQL ones by role."""
    stores: dict[str, Any] = dict(sql)
    stores["scheduled_jobs"] = DynamoScheduledJobsView(dynamo)
    stores["job_store"] = lambda: DynamoJobStore(dynamo)
    return stores
