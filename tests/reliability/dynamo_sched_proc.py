"""A scheduler process on the DynamoDB job store, for the kill -9 restart test.

APScheduler's BlockingScheduler with our job defaults (coalesce, one instance, a catch-up window
as misfire_grace_time). The first start stores a 1 s interval job `beat` and a paused job `held`;
a later start adds nothing and runs what the store holds. Each run appends `ran JOB PID` to
OUT, and each executed tick `fired JOB SCHEDULED_TIME PID`.
A restart waits until mid-tick before it starts, so a tick never falls between the `started`
line and the scheduler's first look at the store: the ticks fired with a time before `started`
are exactly the catch-up runs.
Usage: python dynamo_sched_proc.py ENDPOINT TABLE_PREFIX OUT
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime

import boto3
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler

from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.jobstore import DynamoJobStore

CATCH_UP_SECONDS = 30
PID = os.getpid()


def append(out: str, job_id: str) -> None:
    with open(out, "a") as file:
        file.write(f"ran {job_id} {PID}\n")


def log(out: str, line: str) -> None:
    with open(out, "a") as file:
        file.write(f"{line}\n")


def wait_mid_tick(store: DynamoJobStore) -> None:
    job = store.lookup_job("beat")
    phase = (datetime.now(UTC) - job.trigger.start_date) % job.trigger.interval
    time.sleep(((job.trigger.interval / 2 - phase) % job.trigger.interval).total_seconds())


def main(endpoint: str, prefix: str, out: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    store = DynamoJobStore(Dynamo(client, prefix))
    scheduler = BlockingScheduler(
        jobstores={"default": store},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )

    def fired(event: JobExecutionEvent) -> None:
        log(out, f"fired {event.job_id} {event.scheduled_run_time.isoformat()} {PID}")

    scheduler.add_listener(fired, EVENT_JOB_EXECUTED)
    options = {"misfire_grace_time": CATCH_UP_SECONDS, "trigger": "interval", "seconds": 1}
    if store.lookup_job("beat") is None:
        ref = "dynamo_sched_proc:append"
        scheduler.add_job(ref, id="beat", args=(out, "beat"), **options)
        scheduler.add_job(ref, id="held", args=(out, "held"), next_run_time=None, **options)
    else:
        wait_mid_tick(store)
    log(out, f"started {datetime.now(UTC).isoformat()} {PID}")
    scheduler.start()


if __name__ == "__main__":
    main(*sys.argv[1:4])
