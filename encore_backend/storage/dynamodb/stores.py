"""The DynamoDB adapters of the derived-document ports, built over the SQL stores they read the
source of truth through (feedback, venues, customers stay in SQL in every profile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from encore_backend.storage.dynamodb.alerts import DynamoAlertStore
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.email_queue import DynamoEmailQueueStore
from encore_backend.storage.dynamodb.jobstore import DynamoJobStore
from encore_backend.storage.dynamodb.operations import (
    DynamoCleanupStore,
    DynamoMonthlyStatsStore,
    DynamoOpsCountStore,
)
from encore_backend.storage.dynamodb.replies import DynamoReplyStore
from encore_backend.storage.dynamodb.reports import DynamoReportStore
from encore_backend.storage.dynamodb.scheduled_jobs import DynamoScheduledJobsView
from encore_backend.storage.dynamodb.stats import DynamoStatsStore


def dynamo_stores(dynamo: Dynamo, sql: Mapping[str, Any]) -> dict[str, Any]:
    """The derived stores of ENCORE_DERIVED_STORE=dynamodb; `sql` holds the SQL ones by role."""
    stores: dict[str, Any] = dict(sql)
    stores["scheduled_jobs"] = DynamoScheduledJobsView(dynamo)
    stores["job_store"] = lambda: DynamoJobStore(dynamo)
    stores["stats"] = DynamoStatsStore(dynamo, source=sql["stats"])
    stores["alerts"] = DynamoAlertStore(dynamo, source=sql["alerts"])
    stores["reports"] = DynamoReportStore(dynamo, source=sql["reports"])
    stores["email_queue"] = DynamoEmailQueueStore(dynamo, source=sql["email_queue"])
    stores["replies"] = DynamoReplyStore(dynamo, source=sql["replies"])
    stores["ops_counts"] = DynamoOpsCountStore(stores["replies"], stores["email_queue"])
    stores["cleanup"] = DynamoCleanupStore(
        dynamo, source=sql["cleanup"], stats=stores["stats"], alerts=stores["alerts"]
    )
    stores["monthly_stats"] = DynamoMonthlyStatsStore(dynamo, source=sql["monthly_stats"])
    return stores
