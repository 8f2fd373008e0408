"""The `encore` command. Each command loads settings once and delegates to the package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from encore_backend.config import ConfigError, Settings, load_settings

DEFAULT_IMPORT_BATCH = 2000  # services.feedback_import.DEFAULT_BATCH (not imported: start-up time)

app = typer.Typer(help="Encore automation engine", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database commands", no_args_is_help=True)
token_app = typer.Typer(help="API tokens", no_args_is_help=True)
dynamodb_app = typer.Typer(
    help="DynamoDB tables of ENCORE_DERIVED_STORE=dynamodb", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(dynamodb_app, name="dynamodb")


def settings_or_exit() -> Settings:
    """Settings, or one line naming the bad variable and exit status 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from encore_backend.bootstrap import upgrade_database

    upgrade_database(settings_or_exit())
    typer.echo("database is up to date")


@dynamodb_app.command("create-tables")
def dynamodb_create_tables() -> None:
    """Create the DynamoDB tables that are missing (on-demand billing); safe to rerun.

    Reads DYNAMODB_ENDPOINT_URL, AWS_REGION and ENCORE_DYNAMODB_TABLE_PREFIX; works before
    ENCORE_DERIVED_STORE=dynamodb is set, so the tables exist when the profile is switched on.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from encore_backend.storage.dynamodb.connection import connect
    from encore_backend.storage.dynamodb.schema import TABLES
    from encore_backend.storage.dynamodb.tables import create_tables

    settings = settings_or_exit()
    where = settings.dynamodb_endpoint_url or f"AWS {settings.aws_region}"
    try:
        created = create_tables(connect(settings))
    except (BotoCoreError, ClientError) as exc:
        typer.echo(f"DynamoDB on {where}: {exc}", err=True)
        raise typer.Exit(1) from None
    for name in created:
        typer.echo(f"created {name}")
    existing = len(TABLES) - len(created)
    if not created:
        typer.echo(f"all {existing} tables exist on {where}; nothing to create")
    else:
        typer.echo(f"{len(created)} created, {existing} already existed on {where}")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, venue_manager or ingest")],
    venue: Annotated[
        str | None, typer.Option(help="The venue (required for venue_manager)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for the token")] = None,
) -> None:
    """Create an API token and print it (it is shown only this once)."""
    from encore_backend.bootstrap import build_migrated
    from encore_backend.domain.enums import Role
    from encore_backend.services.errors import FieldError
    from encore_backend.services.token_service import create_token

    if role not in {r.value for r in Role}:
        typer.echo("--role: expected admin, venue_manager or ingest", err=True)
        raise typer.Exit(2)
    ctx = build_migrated(settings_or_exit())
    try:
        row = create_token(ctx, role=Role(role), name=name or f"{role} (cli)", venue_id=venue)
    except FieldError as exc:
        typer.echo(f"--venue: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{row['role']} token {row['name']!r} id={row['token_id']}", err=True)
    typer.echo(row["token"])


@app.command("demo-data")
def demo_data(
    venues: Annotated[int, typer.Option(min=1, help="Venues to create")] = 5,
    feedback: Annotated[int, typer.Option(min=0, help="Feedback rows in total")] = 3000,
    days: Annotated[int, typer.Option(min=1, help="Days of history")] = 60,
    seed: Annotated[int | None, typer.Option(help="Random seed (repeatable data)")] = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when venues exist")
    ] = False,
) -> None:
    """Load demo venues and feedback, and print one manager token per venue."""
    from encore_backend.bootstrap import build_migrated
    from encore_backend.demo import load_demo

    ctx = build_migrated(settings_or_exit())
    if if_empty and ctx.venues.count() > 0:
        typer.echo("demo data skipped: the database already has venues")
        return
    created = load_demo(ctx, venues=venues, feedback=feedback, days=days, seed=seed)
    for venue in created:
        typer.echo(f"{venue.venue_id:<24} {venue.timezone:<22} manager token: {venue.token}")


@app.command("import")
def import_feedback(
    file: Annotated[Path, typer.Argument(help="JSON Lines (.jsonl/.json) or CSV (.csv) file")],
    venue: Annotated[str | None, typer.Option(help="Venue of the rows that name none")] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows per transaction")
    ] = DEFAULT_IMPORT_BATCH,
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by extension)")
    ] = None,
    alerts: Annotated[
        bool,
        typer.Option(
            help="Run the alert detector on each batch (slower); by default the periodic "
            "alert_detector scan finds the imported rows"
        ),
    ] = False,
) -> None:
    """Import feedback in the POST /api/feedback shape; rerun-safe (see README, Bulk import).
    Exit status 0: all created or duplicate; 1: some rows refused; 2: bad file or option."""
    from encore_backend.bootstrap import build_migrated
    from encore_backend.import_command import run_import

    if file_format not in (None, "jsonl", "csv"):
        typer.echo("--format: must be jsonl or csv", err=True)
        raise typer.Exit(2)
    ctx = build_migrated(settings_or_exit())
    raise typer.Exit(
        run_import(
            ctx, file, fmt=file_format, venue=venue, batch_size=batch_size, detect_alerts=alerts
        )
    )


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (MariaDB/PostgreSQL; SQLite: 1)")
    ] = 1,
) -> None:
    """Run the API, the dashboards and the scheduler (migrations are applied first)."""
    from encore_backend.scheduler import commands

    commands.serve(settings_or_exit(), host=host, port=port, workers=workers)


@app.command("worker")
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks run at once (threads)")] = 8,
    queues: Annotated[
        list[str] | None,
        typer.Option("--queues", help="encore.ticks, encore.sends, encore.drafts (default: all)"),
    ] = None,
) -> None:
    """Run a Celery worker of the fleet (ENCORE_EXECUTOR=celery)."""
    from encore_backend.fleet import commands

    names = [name.strip() for value in queues or () for name in value.split(",") if name.strip()]
    commands.worker(settings_or_exit(), concurrency=concurrency, queues=names or None)


@app.command("beat")
def beat() -> None:
    """Run Celery beat with RedBeat: fires the ticks while it holds the lock in Redis; start
    two for a standby (ENCORE_EXECUTOR=celery)."""
    from encore_backend.fleet import commands

    commands.beat(settings_or_exit())


@app.command("run-job")
def run_job(
    job_id: Annotated[str, typer.Argument(help="e.g. stats_aggregator, alert_detector")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, change nothing")] = False,
) -> None:
    """Run one job now (trigger manual) and print its run record; exit 1 if it failed."""
    from encore_backend.scheduler import commands

    commands.run_one(settings_or_exit(), job_id=job_id, dry_run=dry_run)


@app.command("jobs")
def jobs() -> None:
    """List the scheduled jobs: trigger, next run, pause state, last run."""
    from encore_backend.scheduler import commands

    commands.list_jobs(settings_or_exit())


aws_app = typer.Typer(help="The AWS serverless profile (Lambda + EventBridge Scheduler)")
app.add_typer(aws_app, name="aws", no_args_is_help=True)


@aws_app.command("render-schedules")
def aws_render_schedules(
    fmt: Annotated[str, typer.Option("--format", help="json, or yaml to paste")] = "json",
) -> None:
    """Print the EventBridge Scheduler schedules (template resources) of the job registry."""
    from encore_backend.aws.schedules import NotExpressible, render

    if fmt not in ("json", "yaml"):
        typer.echo("--format: expected json or yaml", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(render(settings_or_exit(), fmt=fmt))
    except NotExpressible as exc:
        typer.echo(f"cannot render the schedules: {exc}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:  # found after the settings loaded (e.g. missing DynamoDB tables)
        typer.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
