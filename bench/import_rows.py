"""Benchmark of `encore import` (bulk feedback ingestion) on each backend (`make bench`).

python -m bench.import_rows [--quick] [--backends sqlite,mariadb,postgresql] [--runs N]
                            [--rows N] [--server-rows N] [--per-batch-max-rows N]

Generates a JSON Lines file (20 venues; created_at spread over a year; 60% with a customer
email out of rows/4; every row an external_id; 5-60 word comments) and imports it with
`services.feedback_import.import_file` (what the command runs, without the progress bar) into a
fresh database per run, in two ways:
- `scan_after`: the import without alert detection (the command's default), then one
  alert_detector run over all of it (what the periodic scan does), timed apart;
- `per_batch`: the import running the detector on each batch's new feedback (`--alerts`), on
  at most 100,000 rows.
Rows per second are rows / import seconds (wall); rows per CPU second (this process's CPU time)
tell what a shared, loaded machine hides (the database server's CPU is not counted). Writes
bench/results/import_rows.json and prints a markdown table with the median and spread of the
runs and the load average.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_db import drop_database, empty_database
from bench.common import backends, bench_parser, save_results
from encore_backend.bootstrap import build
from encore_backend.clock import iso_z
from encore_backend.config import Settings
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.services import venue_service
from encore_backend.services.feedback_import import import_file

DB_NAME = "encore_bench_import"
VENUES = 20
WORDS = (
    *("the", "food", "was", "lovely", "and", "staff", "kind", "but", "our", "wait", "long"),
    *("cold", "room", "great", "service", "dirty", "table", "rude", "waiter", "excellent"),
    *("dessert", "noisy", "music", "friendly", "host", "slow", "kitchen"),
)
PER_BATCH_MAX_ROWS = 100_000


def write_rows(path: Path, rows: int, *, seed: int = 12) -> None:
    """The benchmark's JSON Lines file."""
    rng = random.Random(seed)
    start = int(time.time()) - 366 * 86400  # the last year, up to a day ago
    with path.open("w") as out:
        for i in range(rows):
            doc: dict[str, Any] = {
                "venue_id": f"bench-{i % VENUES}",
                "rating": rng.randint(1, 5),
                "comment": " ".join(rng.choices(WORDS, k=rng.randint(5, 60))),
                "created_at": iso_z_epoch(start + rng.randint(0, 365 * 86400)),
                "external_id": f"ext-{i}",
            }
            if rng.random() < 0.6:
                doc["customer"] = {"email": f"guest{rng.randint(0, rows // 4)}@example.com"}
            out.write(json.dumps(doc) + "\n")


def iso_z_epoch(seconds: int) -> str:
    from datetime import UTC, datetime

    return str(iso_z(datetime.fromtimestamp(seconds, UTC)))


def one_run(backend: str, path: Path, rows: int, mode: str) -> dict[str, float]:
    """One import into a fresh database; seconds of the import (and of the scan after)."""
    url = empty_database(backend, DB_NAME)
    ctx = build(Settings(encore_database_url=url, encore_admin_token="bench"))
    try:
        for v in range(VENUES):
            venue_service.create_venue(
                ctx, venue_id=f"bench-{v}", name=f"Bench {v}", timezone="UTC",
                manager_emails=["manager@example.com"],
            )  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()
        summary = import_file(ctx, path, detect_alerts=mode == "per_batch")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert summary.created == rows, (summary.created, summary.refused[:3])
        result = {"import_s": seconds, "rows_per_s": rows / seconds, "cpu_s": cpu}
        result["rows_per_cpu_s"] = rows / cpu
        if mode == "scan_after":
            started = time.perf_counter()
            run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL)
            result["scan_s"] = time.perf_counter() - started
        return result
    finally:
        ctx.engine.dispose()
        drop_database(backend, DB_NAME)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_backend(
    backend: str, rows: int, runs: int, workdir: Path, per_batch_max: int = PER_BATCH_MAX_ROWS
) -> dict[str, Any]:
    path = workdir / f"rows-{rows}.jsonl"
    if not path.exists():
        write_rows(path, rows)
    out: dict[str, Any] = {"backend": backend, "rows": rows, "load_before": os.getloadavg()}
    modes = ["scan_after"] + (["per_batch"] if rows <= per_batch_max else [])
    for mode in modes:
        results = [one_run(backend, path, rows, mode) for _ in range(runs)]
        out[mode] = {k: spread([r[k] for r in results]) for k in results[0]}
        out[mode]["runs"] = results
    out["load_after"] = os.getloadavg()
    return out


def table(outcomes: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | rows | mode | rows/s median (min-max) | rows/CPU s | import s | scan s |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        for mode in ("scan_after", "per_batch"):
            if mode not in o:
                continue
            r = o[mode]
            rate = f"{r['rows_per_s']['median']:,.0f} ({r['rows_per_s']['min']:,.0f}-"
            rate += f"{r['rows_per_s']['max']:,.0f})"
            scan = f"{r['scan_s']['median']:.1f}" if "scan_s" in r else "—"
            lines.append(
                f"| {o['backend']} | {o['rows']:,} | {mode} | {rate} | "
                f"{r['rows_per_cpu_s']['median']:,.0f} | "
                f"{r['import_s']['median']:.1f} | {scan} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__ or "")
    parser.set_defaults(backends="sqlite,mariadb,postgresql")
    parser.add_argument("--rows", type=int, help="rows on SQLite (default 1,000,000)")
    parser.add_argument("--server-rows", type=int, help="rows on MariaDB/PostgreSQL (100,000)")
    parser.add_argument(
        "--per-batch-max-rows",
        type=int,
        default=PER_BATCH_MAX_ROWS,
        help="measure the per_batch mode only up to this many rows (0: never)",
    )
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    sqlite_rows = args.rows or (10_000 if args.quick else 1_000_000)
    server_rows = args.server_rows or (10_000 if args.quick else 100_000)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="encore-bench-import-") as tmp:
        for backend in backends(args.backends):
            rows = sqlite_rows if backend == "sqlite" else server_rows
            outcome = bench_backend(backend, rows, runs, Path(tmp), args.per_batch_max_rows)
            outcomes.append(outcome)
            print(table(outcomes[-1:]), flush=True)
    path = save_results("import_rows", {"runs": runs, "outcomes": outcomes})
    print(table(outcomes))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
