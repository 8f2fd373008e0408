"""One contract for APScheduler job stores: SQLAlchemyJobStore (the SQL profiles' table
`encore_scheduler_jobs`) and DynamoJobStore must answer every call alike, and so must the
read-only views of their next run times."""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import Engine, select
from support.dynamo_jobs import jobs_table

from encore_backend.scheduler.scheduler import FIRE_REF
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.job_items import INDEX, PAUSED, STORE, job_item
from encore_backend.storage.dynamodb.jobstore import DynamoJobStore
from encore_backend.storage.dynamodb.scheduled_jobs import DynamoScheduledJobsView
from encore_backend.storage.dynamodb.schema import SCHEDULER_JOBS
from encore_backend.storage.sql.job_store import JOBSTORE_TABLE
from encore_backend.storage.sql.scheduled_jobs import SqlScheduledJobsView

T = datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.fixture
def scheduler() -> BackgroundScheduler:
    """Never started: jobs only need it as their owner."""
    return BackgroundScheduler(timezone=UTC)


@pytest.fixture
def jobs_dynamo(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Dynamo:
    return jobs_table(moto_url, monkeypatch)


@pytest.fixture
def store(
    request: pytest.FixtureRequest, derived: str, engine: Engine, scheduler: BackgroundScheduler
) -> BaseJobStore:
    """The SQL profiles' store on this test's database, or DynamoDB's (moto's server)."""
    if derived == "sql":
        jobstore: BaseJobStore = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    else:
        jobstore = DynamoJobStore(request.getfixturevalue("jobs_dynamo"))
    jobstore.start(scheduler, "default")
    return jobstore


def new_job(
    scheduler: BackgroundScheduler, job_id: str, next_run: datetime | None, **kw: Any
) -> Job:
    options: dict[str, Any] = {
        "func": FIRE_REF,
        "trigger": IntervalTrigger(minutes=5, start_date=T, timezone=UTC),
        "executor": "default",
        "args": (job_id,),
        "kwargs": {},
        "name": job_id,
        "misfire_grace_time": 300,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": next_run,
        **kw,
    }
    return Job(scheduler, id=job_id, **options)


def add(store: BaseJobStore, scheduler: BackgroundScheduler, **runs: datetime | None) -> None:
    for job_id, next_run in runs.items():
        store.add_job(new_job(scheduler, job_id, next_run))


def ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


def shape(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.name,
        job.func_ref,
        job.args,
        job.next_run_time,
        job.coalesce,
        job.misfire_grace_time,
        job.max_instances,
        str(job.trigger),
    )


def put_raw(store: BaseJobStore, job_id: str, next_run: datetime | None, state: bytes) -> None:
    """A row as an older release (or a damaged write) left it, below the store's API."""
    if isinstance(store, DynamoJobStore):
        store.dynamo.client.put_item(TableName=store.table, Item=job_item(job_id, next_run, state))
        return
    assert isinstance(store, SQLAlchemyJobStore)
    row = {"id": job_id, "next_run_time": datetime_to_utc_timestamp(next_run), "job_state": state}
    with store.engine.begin() as conn:
        conn.execute(store.jobs_t.insert().values(**row))


def raw_ids(store: BaseJobStore) -> set[str]:
    if isinstance(store, DynamoJobStore):
        pages = store.dynamo.pages("scan", TableName=store.table)  # a test's look at the table
        return {item["id"]["S"] for item in pages}
    assert isinstance(store, SQLAlchemyJobStore)
    with store.engine.connect() as conn:
        return set(conn.execute(select(store.jobs_t.c.id)).scalars())


def test_an_added_job_reads_back_whole_and_a_missing_one_is_none(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    job = new_job(scheduler, "stats", T, args=("stats", 7), misfire_grace_time=42)
    store.add_job(job)
    found = store.lookup_job("stats")
    assert found is not None and shape(found) == shape(job)
    assert found._scheduler is scheduler and found._jobstore_alias == "default"
    assert store.lookup_job("nope") is None


def test_adding_a_taken_id_is_refused_and_keeps_the_first(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    store.add_job(new_job(scheduler, "stats", T))
    with pytest.raises(ConflictingIdError):
        store.add_job(new_job(scheduler, "stats", T + S, name="second"))
    found = store.lookup_job("stats")
    assert found is not None and (found.name, found.next_run_time) == ("stats", T)


def test_update_replaces_the_job_and_refuses_a_missing_one(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    add(store, scheduler, stats=T)
    store.update_job(new_job(scheduler, "stats", T + 5 * S, name="renamed"))
    found = store.lookup_job("stats")
    assert found is not None and (found.name, found.next_run_time) == ("renamed", T + 5 * S)
    store.update_job(new_job(scheduler, "stats", None))  # paused
    paused = store.lookup_job("stats")
    assert paused is not None and paused.next_run_time is None
    with pytest.raises(JobLookupError):
        store.update_job(new_job(scheduler, "ghost", T))
    assert store.lookup_job("ghost") is None


def test_due_jobs_are_those_at_or_before_now_earliest_first(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    add(store, scheduler, at=T, later=T + S, before=T - S, held=None, first=T - 2 * S)
    assert ids(store.get_due_jobs(T)) == ["first", "before", "at"]
    assert ids(store.get_due_jobs(T - S - timedelta(microseconds=1))) == ["first"]
    assert store.get_due_jobs(T - 3 * S) == []
    assert ids(store.get_due_jobs(T + 10 * S)) == ["first", "before", "at", "later"]


def test_next_run_time_is_the_earliest_of_the_active_jobs(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    assert store.get_next_run_time() is None
    add(store, scheduler, held=None)
    assert store.get_next_run_time() is None  # paused jobs never run
    add(store, scheduler, b=T + 2 * S, a=T + S)
    assert store.get_next_run_time() == T + S
    store.update_job(new_job(scheduler, "held", T - S))  # resumed, earlier than the rest
    assert store.get_next_run_time() == T - S
    store.remove_job("held")
    store.update_job(new_job(scheduler, "a", T + 3 * S))  # ran: next tick later
    assert store.get_next_run_time() == T + 2 * S


def test_all_jobs_by_next_run_time_with_paused_ones_last(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    assert store.get_all_jobs() == []
    add(store, scheduler, held=None, late=T + S, early=T - S, now=T)
    jobs = store.get_all_jobs()
    assert ids(jobs) == ["early", "now", "late", "held"]
    assert [job.next_run_time for job in jobs] == [T - S, T, T + S, None]
    assert all(job._scheduler is scheduler for job in jobs)


def test_remove_one_then_all(store: BaseJobStore, scheduler: BackgroundScheduler) -> None:
    add(store, scheduler, a=T, b=T + S, held=None)
    store.remove_job("a")
    assert store.lookup_job("a") is None
    assert ids(store.get_all_jobs()) == ["b", "held"]
    with pytest.raises(JobLookupError):
        store.remove_job("a")
    store.remove_all_jobs()
    assert store.get_all_jobs() == []
    assert store.get_next_run_time() is None
    assert raw_ids(store) == set()


def broken_states(scheduler: BackgroundScheduler) -> dict[str, bytes]:
    """A job whose function was removed from the code, and bytes that are no pickle at all."""
    state = new_job(scheduler, "gone", T).__getstate__()
    return {
        "gone": pickle.dumps({**state, "func": "encore_backend.scheduler.scheduler:removed"}),
        "junk": b"not a pickle",
    }


def test_a_job_that_fails_to_restore_is_skipped_and_removed(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    add(store, scheduler, good=T, held=None)
    for job_id, state in broken_states(scheduler).items():
        put_raw(store, job_id, T - S, state)
    with pytest.raises(LookupError):
        store.lookup_job("gone")  # lookups raise, as upstream's do
    assert ids(store.get_all_jobs()) == ["good", "held"]
    assert raw_ids(store) == {"good", "held"}


def test_a_due_job_that_fails_to_restore_is_skipped_and_removed(
    store: BaseJobStore, scheduler: BackgroundScheduler
) -> None:
    add(store, scheduler, good=T)
    for job_id, state in broken_states(scheduler).items():
        put_raw(store, job_id, T - S, state)
    assert ids(store.get_due_jobs(T)) == ["good"]
    assert raw_ids(store) == {"good"}
    assert store.get_next_run_time() == T


@pytest.fixture
def view(request: pytest.FixtureRequest, derived: str, engine: Engine) -> Any:
    if derived == "sql":
        return SqlScheduledJobsView(engine)
    return DynamoScheduledJobsView(request.getfixturevalue("jobs_dynamo"))


def test_the_view_reads_each_jobs_next_run_time(
    store: BaseJobStore, scheduler: BackgroundScheduler, view: Any
) -> None:
    assert view.next_run_times() == {}
    add(store, scheduler, a=T, held=None, b=T + timedelta(days=400, microseconds=1))
    store.update_job(new_job(scheduler, "a", T + S))
    expected = {"a": T + S, "held": None, "b": T + timedelta(days=400, microseconds=1)}
    assert view.next_run_times() == expected


# --- DynamoDB only: the index lags the table on AWS (moto updates it at once) ----------------


class LaggingIndex(Dynamo):
    """A client whose `next_run` index answers from a snapshot, as AWS's may for a moment."""

    def __init__(self, dynamo: Dynamo) -> None:
        super().__init__(dynamo.client, dynamo.prefix)
        self.snapshot: list[Mapping[str, Any]] | None = None

    def freeze(self) -> None:
        self.snapshot = list(index_items(self))

    def pages(self, operation: str, **params: Any) -> Iterator[Mapping[str, Any]]:
        if self.snapshot is None or params.get("IndexName") != INDEX:
            yield from super().pages(operation, **params)
            return
        upto = params["ExpressionAttributeValues"].get(":upto", {"S": PAUSED})["S"]
        yield from (item for item in self.snapshot if item["run_key"]["S"] <= upto)


def index_items(dynamo: Dynamo) -> Iterator[Mapping[str, Any]]:
    return dynamo.pages(
        "query",
        TableName=dynamo.name(SCHEDULER_JOBS),
        IndexName=INDEX,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "store"},
        ExpressionAttributeValues={":s": {"S": STORE}},
    )


@pytest.fixture
def lagging(
    jobs_dynamo: Dynamo, scheduler: BackgroundScheduler
) -> tuple[DynamoJobStore, LaggingIndex]:
    client = LaggingIndex(jobs_dynamo)
    jobstore = DynamoJobStore(client)
    jobstore.start(scheduler, "default")
    return jobstore, client


def test_a_lagging_index_never_hides_this_stores_writes(
    lagging: tuple[DynamoJobStore, LaggingIndex], scheduler: BackgroundScheduler
) -> None:
    store, client = lagging
    add(store, scheduler, ran=T, held=None, gone=T + S, idle=T + 9 * S)
    assert ids(store.get_all_jobs()) == ["ran", "gone", "idle", "held"]
    assert store._own.snapshot() == {}  # moto's index is up to date
    client.freeze()  # from here on the index shows the jobs as they were
    store.update_job(new_job(scheduler, "ran", T + 5 * S))  # ran: due again later
    store.update_job(new_job(scheduler, "held", T - S))  # resumed: due now
    store.remove_job("gone")
    add(store, scheduler, fresh=T + 2 * S)
    assert ids(store.get_due_jobs(T)) == ["held"]
    assert store.get_next_run_time() == T - S
    assert ids(store.get_all_jobs()) == ["held", "fresh", "ran", "idle"]
    assert [job.next_run_time for job in store.get_due_jobs(T + 5 * S)] == [
        T - S,
        T + 2 * S,
        T + 5 * S,
    ]


def test_this_stores_writes_settle_once_the_index_shows_them(
    lagging: tuple[DynamoJobStore, LaggingIndex], scheduler: BackgroundScheduler
) -> None:
    store, client = lagging
    add(store, scheduler, a=T, b=T + S)
    store.remove_job("b")
    assert set(store._own.snapshot()) == {"a", "b"}
    store.get_next_run_time()  # sees `a` as the table has it
    assert set(store._own.snapshot()) == {"b"}
    store.get_all_jobs()  # the whole index: `b` is gone from it too
    assert store._own.snapshot() == {}
    client.freeze()
    store.update_job(new_job(scheduler, "a", T + 3 * S))
    store.get_all_jobs()  # the index still shows the old time: keep checking `a`
    assert set(store._own.snapshot()) == {"a"}
    assert store.get_next_run_time() == T + 3 * S
