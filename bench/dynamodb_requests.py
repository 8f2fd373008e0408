"""DynamoDB requests per job run and per item in the DynamoDB profile (`make bench`).

python -m bench.dynamodb_requests [--quick]

For 100 and 1,000 venues (SQLite source of truth, moto's server as DynamoDB, started here):
ingest N feedback, then run alert_detector, ai_generator (template drafts, auto-send with no
delay), email_sender (outbox) and stats_aggregator through the run recorder, counting the
DynamoDB requests each made (botocore's before-call events, per operation). Then N more
feedback, and stats_aggregator again: its requests must not grow with stored feedback.
Request counts do not depend on the machine; moto's latency does, so no timings are reported.
Writes bench/results/dynamodb_requests.json and prints a markdown table.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.bench_db import drop_database, empty_database
from bench.common import bench_parser, save_results
from bench.pipeline import LIMIT, bench_settings, ingest_all, job_stage, prepare_slots, setup_venues
from bench.pipeline_data import feedback_plan
from bench.stats_data import BENCH_NOW
from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.tables import create_tables

DB_NAME = "encore_bench_dynamodb"
JOBS = ("alert_detector", "ai_generator", "email_sender", "stats_aggregator")
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def start_moto(port: int = 5123) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/moto-api/data.json", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def dynamo_of(ctx: Container) -> Dynamo:
    return ctx.stats.dynamo  # type: ignore[attr-defined,no-any-return]


def counted(ctx: Container, job_id: str) -> dict[str, Any]:
    """Run the job once; its DynamoDB requests by operation and the items it processed."""
    requests = dynamo_of(ctx).requests
    before = Counter(requests)
    result = job_stage(ctx, job_id)()
    spent = Counter(requests)
    spent.subtract(before)
    ops = {op: n for op, n in sorted(spent.items()) if n}
    return {"requests": sum(ops.values()), "by_operation": ops, "items": result["items_processed"]}


def one_scale(venues: int, feedback: int, moto_url: str) -> dict[str, Any]:
    url = empty_database("sqlite", DB_NAME)
    outbox = Path(tempfile.mkdtemp(prefix="encore-bench-dynamo-"))
    settings = bench_settings(url, outbox, LIMIT).model_copy(
        update={
            "encore_derived_store": "dynamodb",
            "dynamodb_endpoint_url": moto_url,
            "encore_dynamodb_table_prefix": f"b{secrets.token_hex(3)}_",
        }
    )
    ctx = build(settings, clock=ManualClock(BENCH_NOW))
    try:
        create_tables(dynamo_of(ctx))
        ids = setup_venues_n(ctx, venues)
        prepare_slots(ctx, LIMIT)
        ingest_all(ctx, feedback_plan(feedback, venues=ids, customers=feedback, now=BENCH_NOW))
        jobs = {job_id: counted(ctx, job_id) for job_id in JOBS}
        ingest_all(ctx, feedback_plan(feedback, venues=ids, customers=feedback, now=BENCH_NOW))
        again = counted(ctx, "stats_aggregator")
        return {"venues": venues, "feedback": feedback, "jobs": jobs, "stats_after_2x": again}
    finally:
        ctx.engine.dispose()
        shutil.rmtree(outbox, ignore_errors=True)
        drop_database("sqlite", DB_NAME)


def setup_venues_n(ctx: Container, count: int) -> list[str]:
    from bench.pipeline import Scale

    return setup_venues(ctx, Scale(venues=count))


def per_item(job: dict[str, Any]) -> str:
    return f"{job['requests'] / job['items']:.1f}" if job["items"] else "-"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| venues | feedback | stats run | stats run, 2x feedback | per alert scan item |"
        " per draft | per email sent |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        j = r["jobs"]
        lines.append(
            f"| {r['venues']} | {r['feedback']} | {j['stats_aggregator']['requests']} "
            f"| {r['stats_after_2x']['requests']} | {per_item(j['alert_detector'])} "
            f"| {per_item(j['ai_generator'])} | {per_item(j['email_sender'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = bench_parser(__doc__ or "", runs=False).parse_args(argv)
    scales = [(20, 200), (100, 500)] if args.quick else [(100, 1000), (1000, 1000)]
    os.environ.update(FAKE_AWS)
    proc, moto_url = start_moto()
    try:
        results = [one_scale(venues, feedback, moto_url) for venues, feedback in scales]
    finally:
        proc.kill()  # moto's server ignores SIGTERM while a keep-alive connection is open
        proc.wait(10)
    table = markdown(results)
    print(table)
    if not args.quick:
        save_results("dynamodb_requests", {"results": results, "table": table})


if __name__ == "__main__":
    main()
