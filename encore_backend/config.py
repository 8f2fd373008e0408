"""Settings: every environment variable of SPEC §2, typed and validated once at start-up."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """A bad environment value; the message is one line naming the variable."""


class Settings(BaseSettings):
    """The engine's configuration. Loaded once in `load_settings` and passed down."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # The seed's variables, with the seed's defaults.
    scheduler_enabled: bool = True
    scheduler_stats_interval_minutes: float = Field(5, gt=0)
    scheduler_alert_interval_minutes: float = Field(5, gt=0)
    scheduler_ai_interval_minutes: float = Field(10, gt=0)
    scheduler_email_interval_minutes: float = Field(5, gt=0)
    scheduler_daily_report_hour: int = Field(6, ge=0, le=23)
    auto_generate_ai_responses: bool = True
    auto_send_emails: bool = True
    default_auto_send_delay_minutes: int = Field(30, ge=0)
    max_ai_generations_per_minute: int = Field(10, gt=0)
    max_emails_per_minute: int = Field(20, gt=0)

    # Added by the spec.
    encore_database_url: str = "sqlite:///var/encore.db"
    encore_admin_token: str | None = None
    encore_derived_store: Literal["sql", "dynamodb"] = "sql"
    aws_region: str = "us-east-1"
    dynamodb_endpoint_url: str | None = None  # DynamoDB Local or an emulator; None = AWS
    encore_dynamodb_table_prefix: str = Field("encore_", pattern=r"^[A-Za-z0-9_.-]{0,200}$")
    ai_provider: Literal["template", "bedrock", "openai"] = "template"
    bedrock_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_api_key: str | None = None
    openai_model: str = "llama3.1"
    email_backend: Literal["outbox", "smtp", "ses"] = "outbox"
    encore_outbox_dir: str = "var/outbox"
    email_from: str = "Encore <no-reply@encore.local>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, gt=0, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_max_attempts: int = Field(5, gt=0)
    # Added by issue 12: senders working the email queue side by side in one sender run.
    email_send_concurrency: int = Field(4, ge=1, le=32)
    encore_executor: Literal["apscheduler", "celery"] = "apscheduler"
    # The Celery profile's broker; RedBeat keeps the schedule and its lock in the same Redis.
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
    scheduler_cleanup_weekday: str = "sun"
    scheduler_cleanup_hour: int = Field(3, ge=0, le=23)
    alert_archive_days: int = Field(90, gt=0)
    email_failed_retention_days: int = Field(30, gt=0)
    # ai_generator drafts no reply for feedback created longer ago (imported history).
    auto_reply_max_age_hours: float = Field(72, gt=0)
    high_value_customer_min_spend: Decimal = Field(Decimal("1000"), ge=0)
    encore_public_url: str = "http://127.0.0.1:8000"
    # Signs unsubscribe links; falls back to ENCORE_ADMIN_TOKEN (rotating that breaks old links).
    encore_unsubscribe_secret: str | None = None

    @field_validator("celery_broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError(
                "expected redis://… (RedBeat keeps the schedule and its lock in Redis)"
            )
        return value

    @field_validator("scheduler_cleanup_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in WEEKDAYS:
            raise ValueError(f"expected one of {', '.join(WEEKDAYS)}")
        return day

    @field_validator("encore_database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "mysql", "mariadb", "postgresql")):
            raise ValueError("expected sqlite:///…, mysql+pymysql://… or postgresql+psycopg://…")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env`); raise ConfigError naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message} (got {first.get('input')!r})") from None
