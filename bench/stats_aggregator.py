"""Benchmark of the stats_aggregator run and of the dashboard read (`make bench`).

python -m bench.stats_aggregator [--quick] [--backends sqlite,mariadb,postgresql] [--history sqlite]

Scenarios per backend: 1,000 venues with 1,000,000 feedback rows over 60 days (full run, median
of 5), the same recent rows on top of 10,000,000 older ones, and one venue's dashboard read from
its snapshot against the same figures computed live. Writes bench/results/stats_aggregator.json
and prints a markdown table.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bench.common import backends, bench_parser, save_results
from bench.stats_data import BENCH_NOW, ZONES, venue_id
from bench.stats_db import fresh_database
from bench.stats_live import live_figures
from encore_backend.domain.stats_windows import windows_for
from encore_backend.services.stats_service import refresh_snapshots
from encore_backend.storage.sql.stats import SqlStatsStore


@dataclass(frozen=True)
class Scale:
    venues: int = 1000
    recent_rows: int = 1_000_000
    history_rows: int = 10_000_000
    runs: int = 5
    reads: int = 300


QUICK = Scale(venues=100, recent_rows=50_000, history_rows=200_000, runs=3, reads=100)


@dataclass
class Outcome:
    backend: str
    scenario: str
    rows: int
    load_s: float
    runs_s: list[float] = field(default_factory=list)
    read: dict[str, float] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)


def time_runs(engine: Engine, runs: int) -> list[float]:
    """A warm-up run, then `runs` timed full runs at successive 5-minute ticks."""
    store = SqlStatsStore(engine)
    refresh_snapshots(store=store, now=BENCH_NOW)
    timings = []
    for k in range(1, runs + 1):
        started = time.perf_counter()
        refresh_snapshots(store=store, now=BENCH_NOW + timedelta(minutes=5 * k))
        timings.append(time.perf_counter() - started)
    return timings


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_reads(engine: Engine, scale: Scale) -> dict[str, float]:
    """One venue's figures: the latest snapshot vs computed live from feedback (p50/p99, ms)."""
    store = SqlStatsStore(engine)
    snapshot, live = [], []
    now = BENCH_NOW + timedelta(minutes=5 * scale.runs)
    for k in range(scale.reads):
        vid = venue_id((k * 37) % scale.venues)
        started = time.perf_counter()
        store.latest(vid)
        snapshot.append(time.perf_counter() - started)
        windows = windows_for(ZONES[((k * 37) % scale.venues) % len(ZONES)], now)
        started = time.perf_counter()
        live_figures(engine, vid, windows)
        live.append(time.perf_counter() - started)
    (s50, s99), (l50, l99) = _percentiles(snapshot), _percentiles(live)
    return {
        "snapshot_p50_ms": s50 * 1e3,
        "snapshot_p99_ms": s99 * 1e3,
        "live_p50_ms": l50 * 1e3,
        "live_p99_ms": l99 * 1e3,
        "ratio_p50": l50 / s50,
    }


def run_scenario(backend: str, scale: Scale, *, history: bool, reads: bool) -> Outcome:
    history_rows = scale.history_rows if history else 0
    started = time.perf_counter()
    engine = fresh_database(backend, scale.venues, scale.recent_rows, history_rows)
    outcome = Outcome(
        backend=backend,
        scenario="recent + history" if history else "recent",
        rows=scale.recent_rows + history_rows,
        load_s=time.perf_counter() - started,
    )
    print(f"  {backend} {outcome.scenario}: loaded {outcome.rows:,} rows in {outcome.load_s:.0f} s")
    outcome.runs_s = time_runs(engine, scale.runs)
    if reads:
        outcome.read = time_reads(engine, scale)
    engine.dispose()
    return outcome


def markdown(outcomes: list[Outcome], scale: Scale) -> str:
    lines = [
        f"Stats aggregator, {scale.venues:,} venues, median of {scale.runs} full runs",
        "",
        "| backend | feedback rows | load s | run median s | min-max s | snapshot read p50/p99 ms"
        " | live p50/p99 ms | live/snapshot p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        r = o.read
        reads = (
            f"{r['snapshot_p50_ms']:.3f} / {r['snapshot_p99_ms']:.3f} | "
            f"{r['live_p50_ms']:.2f} / {r['live_p99_ms']:.2f} | {r['ratio_p50']:.0f}x"
            if r
            else "- | - | -"
        )
        lines.append(
            f"| {o.backend} | {o.rows:,} ({o.scenario}) | {o.load_s:.0f} | {o.median_s:.3f} | "
            f"{min(o.runs_s):.3f}-{max(o.runs_s):.3f} | {reads} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "", runs=False)
    parser.add_argument("--history", default="sqlite", help="backends for the 10M scenario")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    outcomes = []
    for backend in backends(args.backends):
        outcomes.append(run_scenario(backend, scale, history=False, reads=True))
    for backend in backends(args.history):
        outcomes.append(run_scenario(backend, scale, history=True, reads=True))
    table = markdown(outcomes, scale)
    print(table)
    payload: dict[str, Any] = {
        "scale": asdict(scale),
        "outcomes": [{**asdict(o), "median_s": o.median_s} for o in outcomes],
        "table": table,
    }
    save_results("stats_aggregator_quick" if args.quick else "stats_aggregator", payload)


if __name__ == "__main__":
    main()
