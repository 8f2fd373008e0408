"""APScheduler 3's job store on DynamoDB (`encore_scheduler_jobs`), for the DynamoDB profile.

It mirrors SQLAlchemyJobStore call for call (job_items.py has the item layout): the `next_run`
index orders the jobs by next run time, paused ones last, so no call needs a Scan.

The index is eventually consistent on AWS, so it only nominates jobs: what the store returns is
re-read from the table (consistent BatchGetItem), and the ids this store wrote are re-read until
the index shows what the table holds. A job resumed or moved earlier is then never missed, and a
job whose run was just recorded is never handed out as due again.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError

from encore_backend.storage.dynamodb.codec import iso, parse_time
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.job_items import PAUSED, get_items, index_rows, job_item
from encore_backend.storage.dynamodb.schema import SCHEDULER_JOBS


def _order(item: dict[str, Any]) -> tuple[str, str]:
    return item["run_key"]["S"], item["id"]["S"]


class _OwnWrites:
    """The ids a store wrote whose index rows may still show an older state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}  # id -> number of its latest write here
        self._count = 0

    def add(self, job_id: str) -> None:
        with self._lock:
            self._count += 1
            self._ids[job_id] = self._count

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._ids)

    def settle(
        self, taken: dict[str, int], seen: dict[str, str], fresh: dict[str, str], complete: bool
    ) -> None:
        """Forget the ids whose index row (`seen`) shows what the table holds (`fresh`), unless
        written again since `taken`. An id gone from the table settles when a `complete` read
        of the index no longer lists it."""
        with self._lock:
            for job_id, count in taken.items():
                if job_id in fresh:
                    agrees = seen.get(job_id) == fresh[job_id]
                else:
                    agrees = complete and job_id not in seen
                if agrees and self._ids.get(job_id) == count:
                    del self._ids[job_id]


class DynamoJobStore(BaseJobStore):
    """APScheduler's BaseJobStore on the `scheduler_jobs` table."""

    def __init__(self, dynamo: Dynamo, pickle_protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        super().__init__()
        self.dynamo = dynamo
        self.table = dynamo.name(SCHEDULER_JOBS)
        self.pickle_protocol = pickle_protocol
        self._own = _OwnWrites()

    def lookup_job(self, job_id: str) -> Job | None:
        item = self.dynamo.client.get_item(
            TableName=self.table, Key={"id": {"S": job_id}}, ConsistentRead=True
        ).get("Item")
        return self._reconstitute_job(item["job_state"]["B"]) if item else None

    def get_due_jobs(self, now: datetime) -> list[Job]:
        upto = iso(now)
        items = self._current(index_rows(self.dynamo, upto=upto), complete=False)
        return self._get_jobs([item for item in items if item["run_key"]["S"] <= upto])

    def get_next_run_time(self) -> datetime | None:
        """The earliest of: the index's first job not written here, and the table's own next
        runs of the jobs written here."""
        own = self._own.snapshot()
        rows = []
        for job_id, key in index_rows(self.dynamo, limit=len(own) + 1):
            rows.append((job_id, key))
            if job_id not in own:
                break
        trusted = [key for job_id, key in rows if job_id not in own]
        fresh = self._current(rows, complete=False, attributes=("run_key",), nominated=False)
        earliest = min([item["run_key"]["S"] for item in fresh] + trusted, default=PAUSED)
        return None if earliest == PAUSED else parse_time(earliest)

    def get_all_jobs(self) -> list[Job]:
        """Every job, by next run time, paused ones last (their run key sorts last)."""
        return self._get_jobs(self._current(index_rows(self.dynamo), complete=True))

    def add_job(self, job: Job) -> None:
        try:
            self._put(job, "attribute_not_exists(#id)")
        except self.dynamo.client.exceptions.ConditionalCheckFailedException:
            raise ConflictingIdError(job.id) from None

    def update_job(self, job: Job) -> None:
        try:
            self._put(job, "attribute_exists(#id)")
        except self.dynamo.client.exceptions.ConditionalCheckFailedException:
            raise JobLookupError(job.id) from None

    def remove_job(self, job_id: str) -> None:
        try:
            self._delete(job_id, condition="attribute_exists(#id)")
        except self.dynamo.client.exceptions.ConditionalCheckFailedException:
            raise JobLookupError(job_id) from None

    def remove_all_jobs(self) -> None:
        ids = {job_id for job_id, _ in index_rows(self.dynamo)} | set(self._own.snapshot())
        for job_id in ids:
            self._delete(job_id)

    def _put(self, job: Job, condition: str) -> None:
        state = pickle.dumps(job.__getstate__(), self.pickle_protocol)
        self._own.add(job.id)
        self.dynamo.client.put_item(
            TableName=self.table,
            Item=job_item(job.id, job.next_run_time, state),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#id": "id"},
        )

    def _delete(self, job_id: str, condition: str | None = None) -> None:
        params: dict[str, Any] = {"TableName": self.table, "Key": {"id": {"S": job_id}}}
        if condition:
            params.update(ConditionExpression=condition, ExpressionAttributeNames={"#id": "id"})
        self._own.add(job_id)
        self.dynamo.client.delete_item(**params)

    def _current(
        self,
        rows: Iterable[tuple[str, str]],
        *,
        complete: bool,
        attributes: tuple[str, ...] = (),
        nominated: bool = True,
    ) -> list[dict[str, Any]]:
        """As the table holds them, in index order: the jobs of the index `rows` (unless not
        `nominated`) and those written here. `complete`: the rows are the whole index."""
        seen = dict(rows)
        own = self._own.snapshot()
        ids = set(own) | (set(seen) if nominated else set())
        items = sorted(get_items(self.dynamo, ids, attributes=attributes), key=_order)
        fresh = {item["id"]["S"]: item["run_key"]["S"] for item in items}
        self._own.settle(own, seen, fresh, complete)
        return items

    def _reconstitute_job(self, job_state: bytes) -> Job:
        job_state = pickle.loads(job_state)
        job = Job.__new__(Job)
        job.__setstate__(job_state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _get_jobs(self, items: list[dict[str, Any]]) -> list[Job]:
        """Jobs from `items` in their order; one that fails to restore is logged and removed."""
        jobs, failed = [], []
        for item in items:
            try:
                jobs.append(self._reconstitute_job(item["job_state"]["B"]))
            except BaseException:
                self._logger.exception('Unable to restore job "%s" -- removing it', item["id"]["S"])
                failed.append(item["id"]["S"])
        for job_id in failed:
            self._delete(job_id)
        return jobs

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} (table={self.table})>"
