"""The scheduler's commands: `encore serve`, `encore run-job`, `encore jobs` (cli.py wires them)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import typer

from encore_backend.bootstrap import (
    Container,
    build,
    build_migrated,
    close_connections,
    single_writer,
)
from encore_backend.config import Settings, load_settings
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.scheduler.control import scheduler_control
from encore_backend.scheduler.registry import DryRunUnsupported, UnknownJob
from encore_backend.scheduler.runner import JobBusy, run_job, run_record

if TYPE_CHECKING:
    from fastapi import FastAPI

WORKER_APP = "encore_backend.scheduler.commands:worker_app"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
GRACEFUL_SHUTDOWN_SECONDS = 5


def configure_logging(level: int) -> None:
    """Our run logs say what ran (job_id, run_id); APScheduler's per-run lines repeat them."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for noisy in ("apscheduler.executors", "apscheduler.scheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def serve(settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """API + scheduler in this process (or in `workers` processes), until interrupted.

    Every worker process runs the scheduler too: the leader lease lets one of them fire the
    ticks. SQLite has a single writer, so more than one process is refused (exit status 2)."""
    import uvicorn

    if workers > 1 and single_writer(settings):
        typer.echo(
            f"--workers {workers}: SQLite has one writer, so `encore serve` runs one process on "
            "it; use MariaDB or PostgreSQL (ENCORE_DATABASE_URL) for more workers",
            err=True,
        )
        raise typer.Exit(2)
    ctx = build_migrated(settings)
    base = f"http://{host}:{port}"
    typer.echo(f"Encore on {base}  (dashboard {base}/, API docs {base}/docs, health {base}/health)")
    # Open dashboards hold alert streams: stop waiting for them after a few seconds.
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "log_config": None,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    if workers == 1:
        uvicorn.run(served_app(ctx), **options)
        return
    close_connections(ctx)  # each worker builds its own container (and pool) from the settings
    configure_serve_logging()
    uvicorn.run(WORKER_APP, factory=True, workers=workers, **options)


def served_app(ctx: Container) -> FastAPI:
    from encore_backend.api.app import create_app

    configure_serve_logging()
    return create_app(ctx)


def worker_app() -> FastAPI:
    """The app of one `encore serve --workers N` process (an import-string factory)."""
    return served_app(build(load_settings()))


def configure_serve_logging() -> None:
    from encore_backend.observability.logging import use_json_logs

    configure_logging(logging.INFO)
    use_json_logs(logging.INFO)  # one JSON object per line, with job_id and run_id in runs


def run_one(settings: Settings, *, job_id: str, dry_run: bool) -> None:
    """Run a job now (trigger manual), print its run record; exit 1 unless it succeeded."""
    configure_logging(logging.WARNING)
    ctx = build_migrated(settings)
    try:
        record = run_job(
            ctx, job_id, trigger=RunTrigger.MANUAL, params={"dry_run": True} if dry_run else None
        )
    except UnknownJob:
        typer.echo(f"unknown job id: {job_id}", err=True)
        raise typer.Exit(2) from None
    except DryRunUnsupported as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except JobBusy as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    assert record is not None
    typer.echo(json.dumps(run_record(record), indent=2))
    if record["status"] != RunStatus.SUCCESS:
        raise typer.Exit(1)


def list_jobs(settings: Settings) -> None:
    """A readable table of the jobs, their triggers, next runs and last outcomes."""
    ctx = build_migrated(settings)
    rows = [_row(job) for job in scheduler_control(ctx).jobs()]
    header = ("JOB", "TRIGGER", "NEXT RUN (UTC)", "STATE", "LAST RUN")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )


def _row(job: dict[str, Any]) -> tuple[str, ...]:
    state = "paused" if job["paused"] else ("scheduled" if job["scheduled"] else "not registered")
    last = job["last_run"]
    last_text = f"{last['status']} at {last['started_at']}" if last else "never"
    return (job["id"], job["trigger"], job["next_run_time"] or "-", state, last_text)
