"""Benchmark of sends to an SMTP server that takes 20 ms per message, limits lifted (`make bench`).

python -m bench.smtp_sends [--quick] [--backends sqlite,mariadb] [--concurrency 1,4,8]

The queue is filled as bench/pipeline.py fills it (feedback ingested, template drafts auto-sent
with no delay; untimed), then one email_sender run (SMTP backend, EMAIL_SEND_CONCURRENCY senders)
is timed. The aiosmtpd server runs in a child process (it must not share this process's GIL) and
answers each message after 20 ms. Each run checks that every queue item was sent and that the
server received each message once, then drops its database. Writes bench/results/smtp_sends.json.
"""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.bench_db import drop_database, empty_database
from bench.common import backends, bench_parser, save_results
from bench.pipeline import bench_settings, ingest_all, job_stage, prepare_slots, setup_venues
from bench.pipeline_data import feedback_plan
from encore_backend.bootstrap import build
from encore_backend.clock import SystemClock

DB_NAME = "encore_bench_smtp_sends"
DELAY = 0.020
LIMIT = 20_000


@dataclass(frozen=True)
class Scale:
    feedback: int = 3_000
    venues: int = 10
    customers: int = 2_000
    runs: int = 3


QUICK = Scale(feedback=600, venues=4, customers=400, runs=1)


@dataclass
class Outcome:
    backend: str
    concurrency: int
    rates: list[float] = field(default_factory=list)  # sends per second, one per run
    failures: list[str] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.rates)


def _serve(delay: float, pipe: Connection) -> None:
    """The child process: a slow server; sends its port, then each accepted queue id on
    request, until told to stop."""
    from bench.slow_smtp import slow_smtp

    with slow_smtp(delay) as (port, handler):
        pipe.send(port)
        while (command := pipe.recv()) != "stop":
            pipe.send(list(handler.queue_ids))
            if command == "reset":
                handler.reset()


@contextmanager
def server_process(delay: float) -> Iterator[tuple[int, Connection]]:
    """(port, pipe) of a slow SMTP server in a child process for the block."""
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_serve, args=(delay, theirs))
    child.start()
    try:
        yield ours.recv(), ours
    finally:
        ours.send("stop")
        child.join(10)


def one_run(backend: str, scale: Scale, concurrency: int, port: int) -> tuple[float, list[str]]:
    """Fill the queue (untimed), time one sender run; (sends/s, failed checks)."""
    url = empty_database(backend, DB_NAME)
    outbox = Path(tempfile.mkdtemp(prefix="encore-bench-smtp-"))
    settings = bench_settings(url, outbox, LIMIT).model_copy(
        update={
            "email_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "email_send_concurrency": concurrency,
        }
    )
    ctx = build(settings, clock=SystemClock())
    try:
        venues = setup_venues(ctx, scale)  # type: ignore[arg-type]
        plan = feedback_plan(
            scale.feedback, venues=venues, customers=scale.customers, now=ctx.clock.now()
        )
        prepare_slots(ctx, LIMIT)
        ingest_all(ctx, plan)
        job_stage(ctx, "alert_detector")()
        job_stage(ctx, "ai_generator")()
        counts = ctx.email_queue.count_by_status()
        queued = sum(counts.values()) - counts.get("cancelled", 0)  # no address: never sent
        started = time.perf_counter()
        job_stage(ctx, "email_sender")()
        seconds = time.perf_counter() - started
        sent = ctx.email_queue.count_by_status().get("sent", 0)
        failures = [] if sent == queued > 0 else [f"sent {sent} of {queued}"]
        return sent / seconds, failures
    finally:
        ctx.engine.dispose()
        shutil.rmtree(outbox, ignore_errors=True)
        drop_database(backend, DB_NAME)


def received_once(pipe: Connection) -> list[str]:
    """Failed checks of what the server received since the last reset (each id once)."""
    pipe.send("reset")
    ids: list[str] = pipe.recv()
    twice = [i for i, n in Counter(ids).items() if n > 1]
    return [f"{len(twice)} messages received twice"] if twice else []


def markdown(outcomes: list[Outcome], scale: Scale) -> str:
    lines = [
        f"Sends to an SMTP server taking {DELAY * 1000:.0f} ms per message, limits lifted, "
        f"{scale.feedback:,} feedback, median of {scale.runs} run(s)",
        "",
        "| backend | senders | sends/s median | spread | checks |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        spread = f"{min(o.rates):,.0f} to {max(o.rates):,.0f}"
        checks = "OK" if not o.failures else "; ".join(o.failures)
        lines.append(f"| {o.backend} | {o.concurrency} | {o.median():,.0f} | {spread} | {checks} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--concurrency", default="1,4,8", help="EMAIL_SEND_CONCURRENCY values")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    runs = args.runs or scale.runs
    outcomes = []
    with server_process(DELAY) as (port, pipe):
        for backend in backends(args.backends):
            for concurrency in [int(c) for c in args.concurrency.split(",") if c]:
                outcome = Outcome(backend, concurrency)
                for k in range(runs):
                    rate, failures = one_run(backend, scale, concurrency, port)
                    outcome.rates.append(rate)
                    outcome.failures += failures + received_once(pipe)
                    print(f"  {backend} x{concurrency} run {k + 1}: {rate:,.0f}/s", flush=True)
                outcomes.append(outcome)
    table = markdown(outcomes, scale)
    print(table)
    payload: dict[str, Any] = {
        "delay_s": DELAY,
        "scale": scale.__dict__,
        "outcomes": [o.__dict__ for o in outcomes],
        "table": table,
    }
    save_results("smtp_sends_quick" if args.quick else "smtp_sends", payload)
    if any(o.failures for o in outcomes):
        raise SystemExit("some runs failed their checks")


if __name__ == "__main__":
    main()
