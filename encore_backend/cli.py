"""The `encore` command. Each command loads settings once and delegates to the package."""

from __future__ import annotations

import sys

import typer

from encore_backend.config import ConfigError, Settings, load_settings

app = typer.Typer(help="Encore automation engine", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database commands", no_args_is_help=True)
token_app = typer.Typer(help="API tokens", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")


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
    from encore_backend.storage.sql.engine import make_engine
    from encore_backend.storage.sql.migrate import upgrade

    settings = settings_or_exit()
    upgrade(make_engine(settings.encore_database_url))
    typer.echo("database is up to date")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
