"""Settings: the seed's defaults, fractional intervals, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from encore_backend.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("SCHEDULER_STATS_INTERVAL_MINUTES", "AI_PROVIDER", "SMTP_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_seed_defaults() -> None:
    settings = load_settings()
    assert settings.scheduler_enabled is True
    assert settings.scheduler_stats_interval_minutes == 5
    assert settings.scheduler_ai_interval_minutes == 10
    assert settings.scheduler_daily_report_hour == 6
    assert settings.default_auto_send_delay_minutes == 30
    assert settings.max_ai_generations_per_minute == 10
    assert settings.max_emails_per_minute == 20
    assert settings.encore_database_url == "sqlite:///var/encore.db"
    assert settings.scheduler_cleanup_weekday == "sun"
    assert settings.high_value_customer_min_spend == Decimal("1000")


def test_fractional_interval_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_STATS_INTERVAL_MINUTES", "0.05")
    assert load_settings().scheduler_stats_interval_minutes * 60 == pytest.approx(3)


def test_dotenv_file_is_honoured(tmp_path) -> None:
    (tmp_path / ".env").write_text("MAX_EMAILS_PER_MINUTE=7\n")
    assert load_settings().max_emails_per_minute == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCHEDULER_STATS_INTERVAL_MINUTES", "0"),
        ("SCHEDULER_STATS_INTERVAL_MINUTES", "soon"),
        ("AI_PROVIDER", "gpt"),
        ("SMTP_PORT", "70000"),
        ("SCHEDULER_CLEANUP_WEEKDAY", "someday"),
        ("ENCORE_DATABASE_URL", "oracle://x"),
        ("SCHEDULER_DAILY_REPORT_HOUR", "24"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_cli_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"AI_PROVIDER": "gpt", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "encore_backend.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "AI_PROVIDER" in lines[0]


def test_the_celery_profile_is_accepted_with_a_redis_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENCORE_EXECUTOR", "celery")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    settings = load_settings()
    assert (settings.encore_executor, settings.celery_broker_url) == (
        "celery",
        "redis://127.0.0.1:6379/3",
    )


def test_a_broker_redbeat_cannot_use_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest@127.0.0.1//")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert str(excinfo.value).startswith("CELERY_BROKER_URL: expected redis://")
