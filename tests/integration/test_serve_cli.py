"""`encore serve --workers`: more than one process is refused on SQLite, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from encore_backend.cli import app as cli


@pytest.mark.parametrize("workers", ["2", "4"])
def test_more_than_one_worker_on_sqlite_is_refused(tmp_path: Path, workers: str) -> None:
    database = tmp_path / "encore.db"
    env = {"ENCORE_DATABASE_URL": f"sqlite:///{database}", "ENCORE_ADMIN_TOKEN": "t"}
    result = CliRunner().invoke(cli, ["serve", "--workers", workers], env=env)
    assert result.exit_code == 2
    assert f"--workers {workers}: SQLite has one writer" in result.output
    assert not database.exists()  # refused before migrating or serving anything


def test_zero_workers_is_a_usage_error(tmp_path: Path) -> None:
    env = {"ENCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'encore.db'}"}
    result = CliRunner().invoke(cli, ["serve", "--workers", "0"], env=env)
    assert result.exit_code == 2
    assert "--workers" in result.output
