"""Benchmark of the dashboard pages at scale (`make bench`).

python -m bench.dashboards [--quick] [--backends sqlite,mariadb,postgresql]

Two data sets per backend, generated inside the database (bench/stats_data.py): one venue with
1,000,000 feedback over 60 days (replies for the last days, alerts for its low ratings), and
1,000 venues sharing 200,000 feedback. The stats_aggregator job (run_job, manual trigger) writes
the snapshots the pages read. Each page is then rendered through the real ASGI app (FastAPI
TestClient, signed-in session cookie: a manager's token for the venue page, the admin token for
the console) `requests` times after a warm-up; p50/p99 in ms. Writes bench/results/dashboards.json
and prints a markdown table.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from bench.bench_db import drop_database
from bench.common import backends, bench_parser, save_results
from bench.stats_data import BENCH_NOW, venue_id
from bench.stats_db import fresh_database
from encore_backend.api.app import create_app
from encore_backend.api.deps import SESSION_COOKIE
from encore_backend.bootstrap import build
from encore_backend.clock import ManualClock
from encore_backend.config import Settings
from encore_backend.domain.enums import Role, RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.services import token_service
from encore_backend.storage.sql import models as m

ADMIN_TOKEN = "bench-admin-token"
NOW = BENCH_NOW + timedelta(minutes=1)  # just after the data's last feedback
TARGETS_MS = {"venue": 50.0, "admin": 100.0}  # p99 targets (issue 12)


@dataclass(frozen=True)
class Scale:
    venue_rows: int = 1_000_000  # the one busy venue's feedback
    venues: int = 1000  # the admin console's venues
    venues_rows: int = 200_000
    requests: int = 200


QUICK = Scale(venue_rows=100_000, venues=1000, venues_rows=50_000, requests=50)


@dataclass
class PageTiming:
    backend: str
    page: str
    data: str
    load_s: float
    stats_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def target_met(self) -> bool:
        return self.p99_ms <= TARGETS_MS[self.page]


def load_alerts(conn: Connection) -> None:
    """An alert for each 1-star feedback of the last 7 days, a third of them read."""
    ident = "'a' || feedback_id"
    if conn.dialect.name == "postgresql":
        ident = "'a' || feedback_id::text"
    elif conn.dialect.name != "sqlite":
        ident = "CONCAT('a', feedback_id)"
    conn.execute(
        text(
            f"INSERT INTO {m.alerts.name} (alert_id, venue_id, feedback_id, level, title,"
            f" description, reasons, detected_at, is_read) SELECT {ident}, venue_id, feedback_id,"
            " 'high', 'Low rating', 'Bench alert.', '[]', created_at, feedback_id % 3 = 0"
            " FROM feedback WHERE rating = 1 AND created_at >= :since"
        ),
        {"since": BENCH_NOW - timedelta(days=7)},
    )


def prepared(backend: str, venues: int, rows: int, name: str) -> tuple[Engine, float, float]:
    """The generated data set with its alerts and snapshots; (engine, load s, stats job s)."""
    started = time.perf_counter()
    engine = fresh_database(backend, venues, rows, 0, name=name)
    with engine.begin() as conn:
        load_alerts(conn)
    load_s = time.perf_counter() - started
    ctx = build(bench_settings(str(engine.url)), clock=ManualClock(NOW))
    started = time.perf_counter()
    record = run_job(ctx, "stats_aggregator", trigger=RunTrigger.MANUAL)
    if record is None or record["status"] != "success":
        raise RuntimeError(f"stats_aggregator did not succeed: {record}")
    stats_s = time.perf_counter() - started
    ctx.engine.dispose()
    return engine, load_s, stats_s


def bench_settings(url: str) -> Settings:
    return Settings(
        encore_database_url=url, scheduler_enabled=False, encore_admin_token=ADMIN_TOKEN
    )


def time_page(url: str, path: str, *, token: str | None, requests: int) -> list[float]:
    """`requests` GETs of `path` (after 5 warm-ups) as the signed-in user; seconds each."""
    ctx = build(bench_settings(url), clock=ManualClock(NOW))
    session = (
        token
        or token_service.create_token(
            ctx, role=Role.VENUE_MANAGER, name="bench manager", venue_id=venue_id(0)
        )["token"]
    )
    samples = []
    try:
        with TestClient(create_app(ctx, start_scheduler=False)) as client:
            client.cookies.set(SESSION_COOKIE, session)
            for k in range(5 + requests):
                started = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
                if k >= 5:
                    samples.append(elapsed)
    finally:
        ctx.engine.dispose()
    return samples


def timing(
    backend: str, page: str, data: str, loads: tuple[float, float], samples: list[float]
) -> PageTiming:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return PageTiming(
        backend, page, data, loads[0], loads[1],
        statistics.median(ordered) * 1e3, p99 * 1e3, ordered[-1] * 1e3,
    )  # fmt: skip


def run_backend(backend: str, scale: Scale) -> list[PageTiming]:
    results = []
    name = "encore_bench_dash_venue"
    engine, load_s, stats_s = prepared(backend, 1, scale.venue_rows, name)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    samples = time_page(url, f"/venues/{venue_id(0)}", token=None, requests=scale.requests)
    data = f"1 venue, {scale.venue_rows:,} feedback"
    results.append(timing(backend, "venue", data, (load_s, stats_s), samples))
    print(f"  {backend} venue page: {describe(results[-1])}", flush=True)
    drop_database(backend, name)
    name = "encore_bench_dash_admin"
    engine, load_s, stats_s = prepared(backend, scale.venues, scale.venues_rows, name)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    samples = time_page(url, "/admin", token=ADMIN_TOKEN, requests=scale.requests)
    data = f"{scale.venues:,} venues, {scale.venues_rows:,} feedback"
    results.append(timing(backend, "admin", data, (load_s, stats_s), samples))
    print(f"  {backend} admin console: {describe(results[-1])}", flush=True)
    drop_database(backend, name)
    return results


def describe(t: PageTiming) -> str:
    verdict = "met" if t.target_met else "MISSED"
    return (
        f"{t.data}: load {t.load_s:.0f} s, stats job {t.stats_s:.1f} s, p50 {t.p50_ms:.1f} ms,"
        f" p99 {t.p99_ms:.1f} ms (target {TARGETS_MS[t.page]:.0f}: {verdict})"
    )


def markdown(results: list[PageTiming], scale: Scale) -> str:
    lines = [
        f"Dashboard pages through the ASGI app, {scale.requests} requests each after 5 warm-ups",
        "",
        "| backend | page | data | p50 ms | p99 ms | max ms | p99 target | load s | stats job s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in results:
        lines.append(
            f"| {t.backend} | {t.page} | {t.data} | {t.p50_ms:.1f} | {t.p99_ms:.1f} |"
            f" {t.max_ms:.1f} | {TARGETS_MS[t.page]:.0f} {'met' if t.target_met else 'MISSED'} |"
            f" {t.load_s:.0f} | {t.stats_s:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "", runs=False)
    parser.add_argument("--requests", type=int, help="requests per page")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    if args.requests:
        scale = Scale(**{**asdict(scale), "requests": args.requests})
    results = [t for backend in backends(args.backends) for t in run_backend(backend, scale)]
    table = markdown(results, scale)
    print(table)
    payload: dict[str, Any] = {
        "scale": asdict(scale),
        "results": [asdict(t) | {"target_met": t.target_met} for t in results],
        "table": table,
    }
    save_results("dashboards_quick" if args.quick else "dashboards", payload)


if __name__ == "__main__":
    main()
