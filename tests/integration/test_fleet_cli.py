"""`encore worker` and `encore beat` refuse, with exit status 2 and one clear line, to start
outside the celery profile or on a queue the fleet does not have."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from encore_backend.cli import app as cli


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment of our own, run away from any .env."""
    monkeypatch.chdir(tmp_path)
    return {
        "ENCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "ENCORE_EXECUTOR": "apscheduler",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # never reached: nothing listens there
    }


@pytest.mark.parametrize("command", [["worker"], ["worker", "--concurrency", "2"], ["beat"]])
def test_the_fleets_commands_need_the_celery_profile(
    env: dict[str, str], command: list[str]
) -> None:
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 2
    line = f"encore {command[0]} needs ENCORE_EXECUTOR=celery (now apscheduler"
    assert result.output.strip().startswith(line), result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("queues", [["--queues", "encore.nope"], ["--queues", "encore.ticks,mail"]])
def test_a_worker_on_an_unknown_queue_is_refused(env: dict[str, str], queues: list[str]) -> None:
    result = CliRunner().invoke(cli, ["worker", *queues], env={**env, "ENCORE_EXECUTOR": "celery"})
    assert result.exit_code == 2
    unknown = queues[1].split(",")[-1]
    assert result.output.strip() == (
        f"--queues: unknown {unknown}; expected encore.ticks, encore.sends, encore.drafts"
    ), result.output


def test_a_broker_that_is_not_redis_is_a_configuration_error(env: dict[str, str]) -> None:
    amqp = {**env, "ENCORE_EXECUTOR": "celery", "CELERY_BROKER_URL": "amqp://127.0.0.1//"}
    result = CliRunner().invoke(cli, ["beat"], env=amqp)
    assert result.exit_code == 2
    assert result.output.startswith("configuration error: CELERY_BROKER_URL: expected redis://")
