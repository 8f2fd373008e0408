"""Benchmark of the daily_report and weekly_report jobs (`make bench`).

python -m bench.reports [--quick] [--backends sqlite,mariadb,postgresql] [--runs N]

1,000 venues with 1,000,000 feedback over 60 days (the stats benchmark's data, bench/stats_data.py
through bench/stats_db.fresh_database). Jobs run through the run recorder (run_job, manual
trigger) at REPORT_NOW, when every venue (8 time zones) is past its 06:00 report hour. Scenarios:
the daily run (one report per venue, lookback 1: the hourly check when a day turns over), the
daily catch-up (the default 7-day lookback: first run after an outage), a rerun with nothing
due, and the weekly run (lookback 1). Each timed run starts with an empty report table (emptied
untimed); every run's report count and a sample of figures are checked against SQL counts.
Writes bench/results/reports.json and prints a markdown table.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select

from bench.bench_db import drop_database
from bench.common import backends, bench_parser, save_results
from bench.stats_data import BENCH_NOW
from bench.stats_db import fresh_database
from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock, as_utc
from encore_backend.config import Settings
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.storage.sql import models as m

# 14:00 UTC: 07:00 in Los Angeles (the latest zone to reach 06:00), 01:00 next day in Sydney.
REPORT_NOW = BENCH_NOW + timedelta(hours=2)
DB_NAME = "encore_bench_stats_recent"  # the name fresh_database gives the 60-day data set
SAMPLED = 20  # reports per run whose total_feedback is recounted in SQL


@dataclass(frozen=True)
class Scale:
    venues: int = 1000
    rows: int = 1_000_000
    runs: int = 3


QUICK = Scale(venues=100, rows=50_000, runs=3)


@dataclass(frozen=True)
class Scenario:
    name: str
    job_id: str
    params: dict[str, Any]
    per_venue: int  # reports each run must create (0: a rerun)
    empty_first: bool = True


SCENARIOS = (
    Scenario("daily", "daily_report", {"lookback": 1}, 1),
    Scenario("daily catch-up (7 days)", "daily_report", {}, 7),
    Scenario("daily rerun, nothing due", "daily_report", {"lookback": 1}, 0, empty_first=False),
    Scenario("weekly", "weekly_report", {"lookback": 1}, 1),
)


@dataclass
class Outcome:
    backend: str
    scenario: str
    created: int
    runs_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)


def report_settings(url: str) -> Settings:
    return Settings(encore_database_url=url, scheduler_enabled=False, scheduler_daily_report_hour=6)


def recount_failures(engine: Engine, sample: int, rng: random.Random) -> list[str]:
    """Reports whose total_feedback differs from a COUNT(*) over their period."""
    r, f = m.reports.c, m.feedback.c
    with engine.connect() as conn:
        rows = list(conn.execute(select(r.venue_id, r.period_start, r.period_end, r.content)))
        wrong, counted = [], 0
        for row in rng.sample(rows, min(sample, len(rows))):
            count = conn.execute(
                select(func.count())
                .select_from(m.feedback)
                .where(
                    f.venue_id == row.venue_id,
                    f.created_at >= row.period_start,
                    f.created_at < row.period_end,
                )
            ).scalar_one()
            counted += count
            if count != row.content["total_feedback"]:
                wrong.append(f"{row.venue_id} {as_utc(row.period_start):%F}: {count} in SQL")
    if rows and not counted:
        wrong.append("every sampled report is empty: the data does not cover the periods")
    return wrong


def timed_run(ctx: Container, scenario: Scenario) -> tuple[float, int]:
    """Seconds and reports created by one run of the scenario's job."""
    if scenario.empty_first:
        with ctx.engine.begin() as conn:
            conn.execute(delete(m.reports))
    started = time.perf_counter()
    record = run_job(ctx, scenario.job_id, trigger=RunTrigger.MANUAL, params=scenario.params)
    elapsed = time.perf_counter() - started
    if record is None or record["status"] != "success":
        raise RuntimeError(f"{scenario.job_id} did not succeed: {record}")
    return elapsed, int(record["items_processed"])


def run_scenario(ctx: Container, backend: str, scenario: Scenario, scale: Scale) -> Outcome:
    outcome = Outcome(backend, scenario.name, created=0)
    rng = random.Random(11)
    for _ in range(scale.runs):
        seconds, created = timed_run(ctx, scenario)
        outcome.runs_s.append(seconds)
        outcome.created = created
        want = scenario.per_venue * scale.venues
        if created != want:
            outcome.failures.append(f"created {created} reports, expected {want}")
        outcome.failures.extend(recount_failures(ctx.engine, SAMPLED, rng))
    verdict = "OK" if not outcome.failures else "FAIL: " + "; ".join(outcome.failures[:5])
    runs = ", ".join(f"{s:.2f}" for s in outcome.runs_s)
    print(f"  {backend} {scenario.name}: {runs} s, {outcome.created} reports | {verdict}")
    return outcome


def bench_backend(backend: str, scale: Scale) -> tuple[float, list[Outcome]]:
    """Load the data set (seconds returned), run every scenario, drop the database."""
    started = time.perf_counter()
    engine = fresh_database(backend, scale.venues, scale.rows, 0)
    load_s = time.perf_counter() - started
    print(f"  {backend}: loaded {scale.rows:,} rows in {load_s:.0f} s", flush=True)
    ctx = build(
        report_settings(engine.url.render_as_string(hide_password=False)),
        clock=ManualClock(REPORT_NOW),
        engine=engine,
    )
    try:
        return load_s, [run_scenario(ctx, backend, s, scale) for s in SCENARIOS]
    finally:
        engine.dispose()
        drop_database(backend, DB_NAME)


def markdown(results: dict[str, tuple[float, list[Outcome]]], scale: Scale) -> str:
    lines = [
        f"Reports, {scale.venues:,} venues over {scale.rows:,} feedback rows (60 days), "
        f"median of {scale.runs} runs at {REPORT_NOW:%Y-%m-%d %H:%M} UTC",
        "",
        "| backend | scenario | reports | median s | min-max s | reports/s | checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, (_load_s, outcomes) in results.items():
        for o in outcomes:
            rate = f"{o.created / o.median_s:,.0f}" if o.created else "-"
            lines.append(
                f"| {backend} | {o.scenario} | {o.created:,} | {o.median_s:.2f} | "
                f"{min(o.runs_s):.2f}-{max(o.runs_s):.2f} | {rate} | "
                f"{'OK' if not o.failures else 'FAIL'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    scale = replace(scale, runs=args.runs or scale.runs)
    results = {b: bench_backend(b, scale) for b in backends(args.backends)}
    table = markdown(results, scale)
    print(table)
    write_results(results, scale, table, quick=args.quick)
    if any(o.failures for _load, outcomes in results.values() for o in outcomes):
        raise SystemExit("some runs failed their checks")


def write_results(
    results: dict[str, tuple[float, list[Outcome]]], scale: Scale, table: str, *, quick: bool
) -> None:
    payload: dict[str, Any] = {
        "scale": asdict(scale),
        "now": REPORT_NOW.isoformat(),
        "backends": {
            backend: {
                "load_s": load_s,
                "outcomes": [{**asdict(o), "median_s": o.median_s} for o in outcomes],
            }
            for backend, (load_s, outcomes) in results.items()
        },
        "table": table,
    }
    save_results("reports_quick" if quick else "reports", payload)


if __name__ == "__main__":
    main()
