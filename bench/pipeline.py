"""Benchmark of the reply pipeline end to end (`make bench`).

python -m bench.pipeline [--quick] [--backends sqlite,mariadb,postgresql] [--profile STAGE]

10,000 feedback go through ingestion (feedback_service.ingest_feedback, the function behind
POST /api/feedback, called directly: no HTTP), the alert_detector job, the ai_generator job
(template provider, auto-send on with no delay, so every eligible reply is queued at once) and
the email_sender job (outbox backend into a temp dir). Jobs run through the run recorder
(run_job, manual trigger) on the system clock (--clock manual: a ManualClock, every item at
one instant, a worst case for ties in the queue's order); an injected sleep counts pauses
(there must be none). MAX_AI_GENERATIONS_PER_MINUTE and MAX_EMAILS_PER_MINUTE are 20,000; their
2 x 20,000 slot rows are created before timing starts (reported apart). Each run uses a fresh
database, checks its counts (sent items, .eml files, alerts) and drops it. Writes
bench/results/pipeline.json and prints a markdown table.
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.bench_db import drop_database, empty_database
from bench.common import backends, bench_parser, save_results
from bench.pipeline_checks import mismatches, observed
from bench.pipeline_data import Planned, feedback_plan, venue_plan
from bench.stats_data import BENCH_NOW
from encore_backend.bootstrap import Container, build
from encore_backend.clock import Clock, ManualClock, SystemClock
from encore_backend.config import Settings
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.services import email_service, feedback_service, reply_service, venue_service
from encore_backend.services.pacing import SLEEP_KEY

DB_NAME = "encore_bench_pipeline"
LIMIT = 20_000
JOBS = {"alerts": "alert_detector", "drafts": "ai_generator", "sends": "email_sender"}
STAGES = ("ingest", *JOBS)


@dataclass(frozen=True)
class Scale:
    feedback: int = 10_000
    venues: int = 20
    customers: int = 6_000
    runs: int = 3
    limit: int = LIMIT  # per minute, both limits; below `feedback` the runs pause (virtually)
    clock: str = "system"  # or "manual"


QUICK = Scale(feedback=1_000, venues=5, customers=600, runs=1)


@dataclass
class RunResult:
    stages: dict[str, float]
    slots_s: float
    jobs: dict[str, Any]
    checks: dict[str, Any]
    failures: list[str]

    @property
    def total_s(self) -> float:
        return sum(self.stages.values())


@dataclass
class Outcome:
    backend: str
    feedback: int
    runs: list[RunResult] = field(default_factory=list)

    def median(self, stage: str | None = None) -> float:
        return statistics.median(r.stages[stage] if stage else r.total_s for r in self.runs)

    @property
    def per_second(self) -> float:
        return self.feedback / self.median()


def bench_settings(url: str, outbox: Path, limit: int) -> Settings:
    """Template drafts, outbox sends, auto-send with no delay, limits lifted."""
    return Settings(
        encore_database_url=url,
        scheduler_enabled=False,
        ai_provider="template",
        email_backend="outbox",
        encore_outbox_dir=str(outbox),
        auto_generate_ai_responses=True,
        auto_send_emails=True,
        default_auto_send_delay_minutes=0,
        max_ai_generations_per_minute=limit,
        max_emails_per_minute=limit,
        encore_admin_token="bench-admin-token",
    )


def setup_venues(ctx: Container, scale: Scale) -> list[str]:
    """Venues through the service, then auto-send on with no delay."""
    ids = []
    for venue in venue_plan(scale.venues):
        venue_service.create_venue(ctx, **venue)
        changes = {"auto_send_enabled": True, "auto_send_delay_minutes": 0}
        ctx.venues.update_settings(venue["venue_id"], changes, now=ctx.clock.now())
        ids.append(venue["venue_id"])
    return ids


def prepare_slots(ctx: Container, limit: int) -> float:
    """Create both limits' slot rows (one use taken a while ago, then given back); seconds."""
    started, before = time.perf_counter(), ctx.clock.now() - timedelta(minutes=2)
    for name in (reply_service.AI_LIMIT, email_service.EMAIL_LIMIT):
        acquired = ctx.rate_limits.acquire(name, limit=limit, now=before)
        assert acquired.permit is not None, name
        ctx.rate_limits.release(acquired.permit)
    return time.perf_counter() - started


def ingest_all(ctx: Container, plan: list[Planned]) -> dict[str, Any]:
    created = 0
    for item in plan:
        _row, new = feedback_service.ingest_feedback(ctx, **item.args)
        created += new
    return {"status": "success", "items_processed": created}


def job_stage(ctx: Container, job_id: str) -> Callable[[], dict[str, Any]]:
    """A stage that runs `job_id` once through the run recorder and insists it succeeded."""

    def stage() -> dict[str, Any]:
        # A day's budget: a low --limit (ManualClock) only paces the run, never stops it.
        params = {"max_seconds": 86_400} if job_id != "alert_detector" else {}
        record = run_job(ctx, job_id, trigger=RunTrigger.MANUAL, params=params)
        if record is None or record["status"] != "success":
            raise RuntimeError(f"{job_id} did not succeed: {record}")
        return {k: record[k] for k in ("status", "items_processed", "details")}

    return stage


def timed(stage: Callable[[], dict[str, Any]], profile: bool) -> tuple[float, dict[str, Any]]:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = stage()
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return elapsed, result


def run_stages(
    ctx: Container, plan: list[Planned], profile: str | None
) -> tuple[dict[str, float], dict[str, Any]]:
    stages: dict[str, Callable[[], dict[str, Any]]] = {"ingest": lambda: ingest_all(ctx, plan)}
    stages.update({name: job_stage(ctx, job_id) for name, job_id in JOBS.items()})
    seconds, jobs = {}, {}
    for name, stage in stages.items():
        seconds[name], jobs[name] = timed(stage, profile == name)
    return seconds, jobs


def sleeper(clock: Clock, sleeps: list[float]) -> Callable[[float], None]:
    """The jobs' injected sleep: counted; it moves a ManualClock, really sleeps on the system's."""

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if isinstance(clock, ManualClock):
            clock.advance(seconds=seconds)
        else:
            time.sleep(seconds)

    return sleep


def one_run(backend: str, scale: Scale, profile: str | None = None) -> RunResult:
    """A fresh database, the four stages timed, the footprint checked, the database dropped."""
    url = empty_database(backend, DB_NAME)
    outbox = Path(tempfile.mkdtemp(prefix="encore-bench-outbox-"))
    clock = ManualClock(BENCH_NOW) if scale.clock == "manual" else SystemClock()
    sleeps: list[float] = []
    ctx = build(bench_settings(url, outbox, scale.limit), clock=clock)
    ctx.extras[SLEEP_KEY] = sleeper(clock, sleeps)
    try:
        venues = setup_venues(ctx, scale)
        plan = feedback_plan(
            scale.feedback, venues=venues, customers=scale.customers, now=clock.now()
        )
        slots_s = prepare_slots(ctx, scale.limit)
        stages, jobs = run_stages(ctx, plan, profile)
        with ctx.engine.connect() as conn:
            checks = observed(conn, outbox, sleeps=len(sleeps))
        paced = scale.limit < scale.feedback
        return RunResult(stages, slots_s, jobs, checks, mismatches(checks, plan, paced=paced))
    finally:
        ctx.engine.dispose()
        shutil.rmtree(outbox, ignore_errors=True)
        drop_database(backend, DB_NAME)


def describe(run: RunResult) -> str:
    c = run.checks
    parts = [f"{s} {run.stages[s]:.2f}s" for s in STAGES]
    verdict = "OK" if not run.failures else "FAIL: " + "; ".join(run.failures)
    counts = (
        f"sent {c['queue_by_status'].get('sent', 0)}, .eml {c['eml_files']}, "
        f"alerts {c['alerts']} (critical {c['critical_alerts']}), replies {c['replies_by_status']}"
        f", queue {c['queue_by_status']}, sleeps {c['sleeps']}"
    )
    return f"{', '.join(parts)}, total {run.total_s:.2f}s | {counts} | {verdict}"


def markdown(outcomes: list[Outcome], scale: Scale) -> str:
    lines = [
        f"Reply pipeline, {scale.feedback:,} feedback at {scale.venues} venues, limits "
        f"{scale.limit:,}/min, {scale.clock} clock, median of {scale.runs} run(s); "
        "stage cell = seconds (feedback/s)",
        "",
        "| backend | ingest | alerts | drafts | sends | end to end s | feedback/s end to end"
        " | slot rows s (untimed) | checks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        cells = [f"{o.median(s):.2f} ({o.feedback / o.median(s):,.0f}/s)" for s in STAGES]
        ok = sum(not r.failures for r in o.runs)
        slots = statistics.median(r.slots_s for r in o.runs)
        lines.append(
            f"| {o.backend} | {' | '.join(cells)} | {o.median():.2f} | {o.per_second:,.0f} | "
            f"{slots:.2f} | {ok}/{len(o.runs)} OK |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--limit", type=int, help=f"per-minute limits (default {LIMIT:,})")
    parser.add_argument("--clock", choices=("system", "manual"), default="system")
    parser.add_argument(
        "--profile", choices=STAGES, help="cProfile a stage of the first run (inflates its time)"
    )
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else Scale()
    scale = replace(
        scale, runs=args.runs or scale.runs, limit=args.limit or scale.limit, clock=args.clock
    )
    if scale.limit < scale.feedback and scale.clock == "system":
        parser.error("a --limit below the feedback count paces the run: use --clock manual")
    outcomes = []
    for backend in backends(args.backends):
        outcome = Outcome(backend, scale.feedback)
        for k in range(scale.runs):
            outcome.runs.append(one_run(backend, scale, args.profile if k == 0 else None))
            print(f"  {backend} run {k + 1}: {describe(outcome.runs[-1])}", flush=True)
        outcomes.append(outcome)
    table = markdown(outcomes, scale)
    print(table)
    write_results(outcomes, scale, table, quick=args.quick)
    if any(r.failures for o in outcomes for r in o.runs):
        raise SystemExit("some runs failed their checks")


def write_results(outcomes: list[Outcome], scale: Scale, table: str, *, quick: bool) -> None:
    payload: dict[str, Any] = {
        "scale": asdict(scale),
        "outcomes": [
            {
                "backend": o.backend,
                "median_s": {s: o.median(s) for s in STAGES} | {"total": o.median()},
                "feedback_per_second": o.per_second,
                "runs": [{**asdict(r), "total_s": r.total_s} for r in o.runs],
            }
            for o in outcomes
        ],
        "table": table,
    }
    name = "pipeline_quick" if quick else "pipeline"
    name += "" if scale.limit == LIMIT else f"_limit{scale.limit}"
    name += "" if scale.clock == "system" else "_manual_clock"
    save_results(name, payload)


if __name__ == "__main__":
    main()
