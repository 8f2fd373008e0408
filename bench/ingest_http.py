"""Benchmark of HTTP ingestion through a real `encore serve` process (`make bench`).

python -m bench.ingest_http [--quick] [--backends sqlite,mariadb,postgresql] [--workers N]

Each backend gets a fresh database (encore_bench_ingest), one venue and an ingest token; an
`encore serve` process (--workers N on MariaDB/PostgreSQL; SQLite always one) serves it with
the scheduler on. Keep-alive clients (1, then 8 threads) POST /api/feedback for a while; one
post in ten is alarming ("food poisoning"), and a poller times how long each alarming post's
alert takes, from its 201, to be listed by GET /api/venues/{id}/alerts (resolution ~20 ms).
Then, idle, alarming posts one at a time give the idle alert delay. Reports req/s and request
latency p50/p99 per client count, medians over --runs, with the spread (min-max), and writes
bench/results/ingest_http.json. The clients share the server's cores: numbers are a floor.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.bench_db import drop_database, empty_database
from bench.common import backends, bench_parser, save_results
from bench.fleet_procs import environment, process
from bench.ingest_bare import DB_ENV
from bench.ingest_load import AlertPoller, Client, alert_delays, body, load, summary_ms
from encore_backend.bootstrap import build
from encore_backend.config import Settings
from encore_backend.domain.enums import Role
from encore_backend.services import token_service, venue_service

DB_NAME = "encore_bench_ingest"
VENUE = "bench-ingest"
CLIENTS = (1, 8)
START_SECONDS = 60.0
IDLE_POSTS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, outbox: str) -> tuple[Settings, str]:
    """The server's settings, with one venue and a fresh ingest token in the database."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        encore_database_url=url,
        encore_admin_token="bench-admin-token",
        encore_outbox_dir=outbox,
        email_backend="outbox",
        scheduler_enabled=True,
    )
    ctx = build(settings)
    venue_service.create_venue(ctx, name="Bench", timezone="UTC", manager_emails=[], venue_id=VENUE)
    token = token_service.create_token(ctx, role=Role.INGEST, name="bench ingest")["token"]
    ctx.engine.dispose()
    return settings, token


@contextmanager
def server(settings: Settings, port: int, workers: int) -> Iterator[None]:
    """`encore serve` on `port` until the block ends; waits for /health first."""
    args = ["serve", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    with process(f"ingest-serve-{port}", args, environment(settings)) as proc:
        wait_healthy(port, proc)
        yield


@contextmanager
def bare_server(port: int, db_path: str) -> Iterator[None]:
    """The reference endpoint (bench/ingest_bare.py) under uvicorn on `port`."""
    env = {**os.environ, DB_ENV: db_path}
    args = ["-m", "uvicorn", "bench.ingest_bare:app", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen([sys.executable, *args], env=env)
    try:
        wait_healthy(port, proc, "/docs")
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def bare_rate(clients: int, seconds: float) -> float:
    """Requests per second of the reference endpoint with `clients` clients."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        with bare_server(port, f"{tmp}/bare.db"):
            posted = load(port, "none", VENUE, clients=clients, seconds=seconds)
    return round(len(posted.latencies) / seconds, 1)


def wait_healthy(port: int, proc: subprocess.Popen[bytes], path: str = "/health") -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server on {port} did not start") from None
            time.sleep(0.2)


def loaded(port: int, token: str, admin: str, clients: int, seconds: float) -> dict[str, Any]:
    """One load phase: throughput, request latency, and alert delay during the load."""
    with AlertPoller(port, admin, VENUE) as poller:
        posted = load(port, token, VENUE, clients=clients, seconds=seconds)
        poller.wait_for(list(posted.alarms), timeout=10)
    return {
        "clients": clients,
        "requests_per_second": round(len(posted.latencies) / seconds, 1),
        "latency": summary_ms([s * 1000 for s in posted.latencies]),
        "errors": posted.errors,
        "alert_delay": alert_delays(posted.alarms, poller.seen),
    }


def idle(port: int, token: str, admin: str) -> dict[str, Any]:
    """Alarming posts one at a time on an otherwise idle server."""
    client = Client(port, token)
    alarms: dict[int, float] = {}
    with AlertPoller(port, admin, VENUE) as poller:
        for n in range(IDLE_POSTS):
            code, answer = client.post(body(VENUE, n * 10, True))
            assert code == 201, answer
            alarms[int(answer["feedback_id"])] = time.monotonic()
            poller.wait_for([int(answer["feedback_id"])], timeout=5)
            time.sleep(0.1)
    client.close()
    return alert_delays(alarms, poller.seen)


def one_backend(backend: str, *, runs: int, seconds: float, workers: int) -> dict[str, Any]:
    workers = 1 if backend == "sqlite" else workers
    url = empty_database(backend, DB_NAME)
    try:
        with tempfile.TemporaryDirectory() as outbox:
            settings, token = prepare(url, outbox)
            port = free_port()
            admin = settings.encore_admin_token or ""
            bare: list[float] = []
            phases: list[dict[str, Any]] = []
            for _ in range(runs):
                bare.append(bare_rate(max(CLIENTS), seconds))  # the same minute's reference
                with server(settings, port, workers):
                    phases += [loaded(port, token, admin, n, seconds) for n in CLIENTS]
            with server(settings, port, workers):
                quiet = idle(port, token, admin)
    finally:
        drop_database(backend, DB_NAME)
    return {
        "backend": backend,
        "workers": workers,
        "bare_sqlite_8_clients_req_s": bare,
        "phases": phases,
        "idle_alert_delay": quiet,
    }


def medians(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per client count: median and spread of req/s, median latency and alert percentiles."""
    rows = []
    for clients in CLIENTS:
        phases = [p for p in result["phases"] if p["clients"] == clients]
        rates = [p["requests_per_second"] for p in phases]

        def med(part: str, key: str, phases: list[dict[str, Any]] = phases) -> float | None:
            found = [p[part][key] for p in phases if p[part][key] is not None]
            return round(statistics.median(found), 1) if found else None

        rows.append(
            {
                "backend": result["backend"],
                "workers": result["workers"],
                "clients": clients,
                "req_s": statistics.median(rates),
                "req_s_spread": [min(rates), max(rates)],
                "p50_ms": med("latency", "p50_ms"),
                "p99_ms": med("latency", "p99_ms"),
                "alert_p50_ms": med("alert_delay", "p50_ms"),
                "alert_p99_ms": med("alert_delay", "p99_ms"),
                "alerts_missing": sum(p["alert_delay"]["missing"] for p in phases),
                "bare_req_s": statistics.median(result["bare_sqlite_8_clients_req_s"]),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], results: list[dict[str, Any]]) -> str:
    head = (
        "| backend | workers | clients | req/s (spread) | p50 / p99 ms | alert p50 / p99 ms "
        "| bare SQLite endpoint, 8 clients, req/s |"
    )
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        spread = f"{r['req_s_spread'][0]:.0f}-{r['req_s_spread'][1]:.0f}"
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['clients']} | {r['req_s']:.0f} ({spread}) "
            f"| {r['p50_ms']} / {r['p99_ms']} | {r['alert_p50_ms']} / {r['alert_p99_ms']} "
            f"| {r['bare_req_s']:.0f} |"
        )
    for result in results:
        quiet = result["idle_alert_delay"]
        lines.append(
            f"\n{result['backend']} idle alert delay: p50 {quiet['p50_ms']} ms, "
            f"p99 {quiet['p99_ms']} ms ({quiet['missing']} missing)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--workers", type=int, default=1, help="server processes (not SQLite)")
    parser.add_argument("--seconds", type=float, help="length of each load phase")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    results = [
        one_backend(b, runs=runs, seconds=seconds, workers=args.workers)
        for b in backends(args.backends)
    ]
    rows = [row for result in results for row in medians(result)]
    table = markdown(rows, results)
    print(table)
    load_average = os.getloadavg()
    print(f"load average at the end: {load_average}")
    path = save_results(
        "ingest_http",
        {
            "runs": runs,
            "seconds": seconds,
            "quick": args.quick,
            "load_average": load_average,
            "medians": rows,
            "results": results,
            "table": table,
        },
    )
    print(f"wrote {path}")
    if any(r["alerts_missing"] or r["req_s"] == 0 for r in rows):
        raise SystemExit("some alerts never became readable, or nothing was ingested")


if __name__ == "__main__":
    main()
