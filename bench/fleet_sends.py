"""Benchmark of email send throughput: the embedded profile beside the Celery fleet (`make bench`).

python -m bench.fleet_sends [--quick] [--runs N] [--feedback N] [--concurrency 8]
    [--interval-minutes 0.1] [--smtp-ms 50] [--profiles embedded,celery x1,celery x3]

An SMTP server in this process (aiosmtpd) takes 50 ms per message. Each run seeds a fresh
MariaDB database with a backlog of due emails as bench.pipeline does (feedback ingested, replies
drafted by ai_generator with auto-send and no delay, critical alerts mailed to managers), limits
lifted (20,000/min, slot rows made before timing), and drains it with one profile:
- embedded: one email_sender run in this process (what `encore run-job email_sender` and the
  embedded scheduler's tick do: one sender);
- celery x1, celery x3: real `encore worker` processes (threads) and one `encore beat` on a
  private Redis database (tests/support/redis_db.py), every other job paused; the email_sender
  tick (every --interval-minutes) sends one email and fans the rest out in send batches.
Throughput = emails accepted by the SMTP server / seconds from the first to the last. Beside it:
the senders' CPU per email (the workers'; embedded: this process's, SMTP server included) and
how busy the whole machine was meanwhile (other work included), which says whether more workers
can help. Each run checks that every due email arrived exactly once and that none is left
pending, sending or failed. The profiles take turns within each repetition. Writes
bench/results/fleet_sends.json and prints a markdown table (median and min-max of the runs).
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bench.bench_db import drop_database, empty_database
from bench.common import bench_parser, save_results
from bench.cpu import MachineCpu, process_seconds
from bench.fleet_procs import fleet_settings, running_fleet
from bench.pipeline import (
    LIMIT,
    Scale,
    bench_settings,
    ingest_all,
    job_stage,
    prepare_slots,
    setup_venues,
)
from bench.pipeline_data import feedback_plan
from bench.slow_smtp import SlowHandler, slow_smtp
from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings
from encore_backend.scheduler.registry import REGISTRY
from encore_backend.storage.errors import StorageUnavailable
from encore_backend.storage.sql import models as m
from tests.support.redis_db import private_redis_db

DB_NAME = "encore_bench_fleet_sends"
BACKEND = "mariadb"
SMTP_MS = 50
PROFILES = {"embedded": 0, "celery x1": 1, "celery x3": 3}  # name -> workers (0: in process)
SENDER = "email_sender"
OUTAGE_RETRIES = 2  # other work on a shared machine may stop MariaDB for a while


@dataclass(frozen=True)
class Setup:
    feedback: int = 2_500  # about 2,000 due emails
    venues: int = 20
    runs: int = 3
    concurrency: int = 8  # threads per worker (`encore worker`'s default)
    interval_minutes: float = 0.1  # the email_sender tick: every 6 s, batches of 5.4 s
    smtp_ms: int = SMTP_MS  # the SMTP server's time per message


QUICK = Setup(feedback=400, venues=5, runs=1)


@dataclass
class Run:
    profile: str
    due: int
    sent: int
    seconds: float  # first to last email at the SMTP server
    ticks: int
    batches: int
    cpu_seconds: float  # the workers' (embedded: this process's, SMTP server included)
    machine_busy: float  # share of all cores busy during the drain, other work included
    failures: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_email(self) -> float:
        return 1000 * self.cpu_seconds / self.sent if self.sent else 0.0


def seed(ctx: Container, setup: Setup) -> int:
    """Venues, feedback, alerts and drafted replies; the number of emails now due."""
    scale = Scale(feedback=setup.feedback, venues=setup.venues, customers=setup.feedback * 3 // 5)
    venues = setup_venues(ctx, scale)
    prepare_slots(ctx, LIMIT)
    now = ctx.clock.now()
    ingest_all(
        ctx, feedback_plan(setup.feedback, venues=venues, customers=scale.customers, now=now)
    )
    for job_id in ("alert_detector", "ai_generator"):  # drafts wait for the alert scan
        job_stage(ctx, job_id)()
    due, _ = ctx.email_queue.due_items(now=ctx.clock.now(), limit=1)
    return due


def pause_all_but_sender(ctx: Container) -> None:
    """Ticks of the other jobs would queue reports and compete for the workers."""
    for spec in REGISTRY:
        if spec.id != SENDER:
            ctx.job_controls.set_paused(
                job_id=spec.id, paused=True, now=ctx.clock.now(), by="bench"
            )


def drain_in_fleet(
    ctx: Container, smtp: SlowHandler, due: int, setup: Setup, *, workers: int, broker: str
) -> tuple[float, float]:
    """Workers and a beat until every due email reached the server (or the timeout); the
    workers' CPU seconds and the machine's busy share meanwhile."""
    settings = fleet_settings(ctx.settings, broker)
    redis.Redis.from_url(broker).flushdb()
    with running_fleet(settings, workers=workers, concurrency=setup.concurrency) as pids:
        deadline = time.monotonic() + max(120.0, due / 5)
        while smtp.count() == 0 and time.monotonic() < deadline:  # the first tick
            time.sleep(0.05)
        cpu, machine = sum(map(process_seconds, pids)), MachineCpu.now()
        while time.monotonic() < deadline:
            if smtp.count() >= due and not ctx.email_queue.has_due(now=ctx.clock.now()):
                break
            time.sleep(0.2)
        cpu = sum(map(process_seconds, pids)) - cpu
        busy = MachineCpu.now().busy_share_since(machine)
        time.sleep(1.0)  # a duplicate would arrive now
    return cpu, busy


def drain_embedded(ctx: Container) -> tuple[float, float]:
    """One email_sender run in this process; this process's CPU seconds (the SMTP server's
    included) and the machine's busy share meanwhile."""
    cpu, machine = time.process_time(), MachineCpu.now()
    job_stage(ctx, SENDER)()
    return time.process_time() - cpu, MachineCpu.now().busy_share_since(machine)


def sender_runs(ctx: Container) -> tuple[int, int]:
    """(email_sender runs, send batches they enqueued)."""
    runs = m.job_runs.c
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(runs.details).where(runs.job_id == SENDER)).scalars().all()
    return len(rows), sum(int((details or {}).get("batches", 0)) for details in rows)


def queue_by_status(ctx: Container) -> dict[str, int]:
    q = m.email_queue.c
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(q.status, func.count()).group_by(q.status))
        return {str(status): int(n) for status, n in rows}


def checks(ctx: Container, smtp: SlowHandler, due: int, cancelled_before: int) -> list[str]:
    failures = []
    copies = Counter(smtp.queue_ids)
    if smtp.count() != due:
        failures.append(f"{smtp.count()} emails reached the server, {due} were due")
    if twice := [queue_id for queue_id, n in copies.items() if n > 1]:
        failures.append(f"{len(twice)} emails sent more than once")
    statuses = queue_by_status(ctx)
    stuck = {s: n for s, n in statuses.items() if s in ("pending", "sending", "failed") and n}
    if stuck:
        failures.append(f"queue left with {stuck}")
    if statuses.get("sent", 0) != due or statuses.get("cancelled", 0) != cancelled_before:
        failures.append(f"queue {statuses}: expected {due} sent")
    return failures


def one_run(profile: str, setup: Setup, smtp: SlowHandler, base: Settings, broker: str) -> Run:
    """A fresh database seeded, drained with one profile, checked and dropped."""
    url = empty_database(BACKEND, DB_NAME)
    ctx = build(base.model_copy(update={"encore_database_url": url}))
    try:
        due = seed(ctx, setup)
        cancelled = queue_by_status(ctx).get("cancelled", 0)
        pause_all_but_sender(ctx)
        smtp.reset()
        workers = PROFILES[profile]
        if workers:
            cpu, busy = drain_in_fleet(ctx, smtp, due, setup, workers=workers, broker=broker)
        else:
            cpu, busy = drain_embedded(ctx)
        arrivals = sorted(smtp.arrivals)
        seconds = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
        ticks, batches = sender_runs(ctx)
        failures = checks(ctx, smtp, due, cancelled)
        return Run(profile, due, len(arrivals), seconds, ticks, batches, cpu, busy, failures)
    finally:
        ctx.engine.dispose()
        drop_database(BACKEND, DB_NAME)


def run_despite_outages(
    profile: str, setup: Setup, smtp: SlowHandler, base: Settings, broker: str
) -> Run:
    """one_run, run again (at most OUTAGE_RETRIES times) when it failed, as it does when
    MariaDB goes away meanwhile (a job's run then fails)."""
    for attempt in range(OUTAGE_RETRIES + 1):
        try:
            return one_run(profile, setup, smtp, base, broker)
        except (StorageUnavailable, OperationalError, RuntimeError) as exc:  # a job failed
            if attempt == OUTAGE_RETRIES:
                raise
            print(f"  {profile}: {str(exc)[:120]}; running it again", flush=True)
            wait_for_mariadb()
    raise AssertionError("unreachable")


def wait_for_mariadb(seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 3306), timeout=1).close()
            return
        except OSError:
            time.sleep(1.0)


def median(runs: list[Run]) -> float:
    return statistics.median(r.per_second for r in runs)


def markdown(by_profile: dict[str, list[Run]], setup: Setup) -> str:
    due = statistics.median(r.due for runs in by_profile.values() for r in runs)
    lines = [
        f"Email sends, backlog of {due:,.0f} due emails on MariaDB, SMTP server taking "
        f"{setup.smtp_ms} ms per message, limits {LIMIT:,}/min, worker concurrency "
        f"{setup.concurrency} threads, email_sender tick every {setup.interval_minutes * 60:g} s; "
        f"median of {setup.runs} run(s)",
        "",
        "| profile | emails/s (median) | min-max | drain s | x embedded | ticks, batches"
        " | sender CPU ms/email | machine busy | checks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = median(by_profile["embedded"]) if by_profile.get("embedded") else None
    for profile, runs in by_profile.items():
        rates = [r.per_second for r in runs]
        ratio = f"{median(runs) / base:.1f}x" if base else "-"
        ok = sum(not r.failures for r in runs)
        lines.append(
            f"| {profile} | {median(runs):.1f} | {min(rates):.1f}-{max(rates):.1f} "
            f"| {statistics.median(r.seconds for r in runs):.1f} | {ratio} "
            f"| {statistics.median(r.ticks for r in runs):.0f}, "
            f"{statistics.median(r.batches for r in runs):.0f} "
            f"| {statistics.median(r.cpu_ms_per_email for r in runs):.1f} "
            f"| {statistics.median(r.machine_busy for r in runs):.0%} | {ok}/{len(runs)} OK |"
        )
    if by_profile.get("celery x1") and by_profile.get("celery x3"):
        scale_out = median(by_profile["celery x3"]) / median(by_profile["celery x1"])
        lines += ["", f"3 workers / 1 worker: {scale_out:.2f}x (target >= 2.5x)"]
    return "\n".join(lines)


def describe(run: Run) -> str:
    verdict = "OK" if not run.failures else "FAIL: " + "; ".join(run.failures)
    return (
        f"{run.sent}/{run.due} emails in {run.seconds:.1f}s = {run.per_second:.1f}/s, "
        f"{run.ticks} ticks, {run.batches} batches, {run.cpu_ms_per_email:.1f} ms CPU/email, "
        f"machine {run.machine_busy:.0%} busy | {verdict}"
    )


def results_name(setup: Setup, *, quick: bool) -> str:
    """fleet_sends[_quick], with what differs from the defaults (so variants do not overwrite)."""
    default = QUICK if quick else Setup()
    name = "fleet_sends_quick" if quick else "fleet_sends"
    for key in ("feedback", "concurrency", "interval_minutes", "smtp_ms"):
        if getattr(setup, key) != getattr(default, key):
            name += f"_{key}{getattr(setup, key)}"
    return name


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "", backends=False)
    parser.add_argument("--feedback", type=int, help="feedback seeded (about 0.8 email each)")
    parser.add_argument("--concurrency", type=int, help="threads per worker (default 8)")
    parser.add_argument("--interval-minutes", type=float, help="email_sender tick (0.1)")
    parser.add_argument("--smtp-ms", type=int, help=f"SMTP time per message ({SMTP_MS})")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="which to run")
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else Setup()
    setup = replace(
        setup,
        runs=args.runs or setup.runs,
        feedback=args.feedback or setup.feedback,
        concurrency=args.concurrency or setup.concurrency,
        interval_minutes=args.interval_minutes or setup.interval_minutes,
        smtp_ms=args.smtp_ms or setup.smtp_ms,
    )
    profiles = [p for p in args.profiles.split(",") if p]
    if unknown := set(profiles) - set(PROFILES):
        parser.error(f"--profiles: unknown {', '.join(sorted(unknown))}")
    by_profile: dict[str, list[Run]] = {p: [] for p in profiles}
    with private_redis_db() as broker, slow_smtp(setup.smtp_ms / 1000) as (port, smtp):
        outbox = Path(tempfile.gettempdir()) / "encore-bench-unused-outbox"
        base = bench_settings("sqlite://", outbox, LIMIT).model_copy(
            update={
                "email_backend": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "scheduler_email_interval_minutes": setup.interval_minutes,
            }
        )
        for k in range(setup.runs):
            for profile in profiles:
                run = run_despite_outages(profile, setup, smtp, base, broker)
                by_profile[profile].append(run)
                print(f"  run {k + 1} {profile}: {describe(run)}", flush=True)
    table = markdown(by_profile, setup)
    print(table)
    payload: dict[str, Any] = {
        "setup": asdict(setup),
        "runs": [
            asdict(r) | {"per_second": r.per_second} for runs in by_profile.values() for r in runs
        ],
        "table": table,
    }
    save_results(results_name(setup, quick=args.quick), payload)
    if any(r.failures for runs in by_profile.values() for r in runs):
        raise SystemExit("some runs failed their checks")


if __name__ == "__main__":
    main()
