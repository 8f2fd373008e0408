"""`encore worker` and `encore beat` (cli.py wires them): the fleet's processes."""

from __future__ import annotations

import logging
import os
import socket

import typer

from encore_backend.config import Settings
from encore_backend.fleet.app import QUEUES, configure

DEFAULT_CONCURRENCY = 8  # threads: the work waits on SMTP, AI providers and the database


def require_celery(settings: Settings, command: str) -> None:
    if settings.encore_executor != "celery":
        typer.echo(
            f"encore {command} needs ENCORE_EXECUTOR=celery (now {settings.encore_executor}: "
            "the jobs run inside `encore serve`)",
            err=True,
        )
        raise typer.Exit(2)


def worker(settings: Settings, *, concurrency: int, queues: list[str] | None) -> None:
    """A Celery worker (thread pool) on the given queues, after migrating the database."""
    from celery.signals import worker_shutting_down

    from encore_backend.fleet import telemetry
    from encore_backend.fleet.worker_context import worker_ctx
    from encore_backend.scheduler.commands import configure_logging
    from encore_backend.services.pacing import stop_paced_runs

    require_celery(settings, "worker")
    unknown = sorted(set(queues or ()) - set(QUEUES))
    if unknown:
        typer.echo(
            f"--queues: unknown {', '.join(unknown)}; expected {', '.join(QUEUES)}", err=True
        )
        raise typer.Exit(2)
    configure_logging(logging.INFO)
    app = configure(settings)
    ctx = worker_ctx(app)  # migrate and wire before taking tasks
    telemetry.install()
    # A warm shutdown waits for running tasks: a batch pacing itself under a rate limit stops
    # waiting at once and leaves its unclaimed items to the next tick.
    worker_shutting_down.connect(lambda **_: stop_paced_runs(ctx), weak=False)
    name = f"worker{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={','.join(queues or QUEUES)}",
            f"--hostname={name}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def beat(settings: Settings) -> None:
    """Celery beat with RedBeat: fires the registry's ticks while it holds the lock in Redis;
    a second one waits as a standby and takes over when the lock lapses."""
    from celery.apps.beat import Beat

    from encore_backend.fleet.app import BEAT_MAX_INTERVAL
    from encore_backend.scheduler.commands import configure_logging

    require_celery(settings, "beat")
    configure_logging(logging.INFO)
    app = configure(settings)
    Beat(
        app=app,
        scheduler="encore_backend.fleet.beat:EncoreBeatScheduler",
        max_interval=int(BEAT_MAX_INTERVAL.total_seconds()),
        loglevel="INFO",
        quiet=True,
    ).run()
