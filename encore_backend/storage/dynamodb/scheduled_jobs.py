"""A read-only view of the DynamoDB job store: each job's next fire time, as the SQL view gives.

The index lists the job ids (one Query); the times are read from the table itself (consistent
BatchGetItem), so a listing right after a pause or a run shows the stored state, not the index's
possibly older copy. No job is unpickled.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.job_items import from_epoch, get_items, index_rows


class DynamoScheduledJobsView:
    """`encore_scheduler_jobs` as DynamoJobStore writes it."""

    def __init__(self, dynamo: Dynamo) -> None:
        self.dynamo = dynamo

    def next_run_times(self) -> dict[str, datetime | None]:
        """Every stored job id and its next fire time (None while paused in the store)."""
        ids = [job_id for job_id, _ in index_rows(self.dynamo)]
        items = get_items(self.dynamo, ids, attributes=("next_run_time",))
        return {
            item["id"]["S"]: from_epoch(Decimal(item["next_run_time"]["N"]))
            if "next_run_time" in item
            else None
            for item in items
        }
