"""The Lambda entry module as the runtime calls it: settings from the environment and Secrets
Manager (moto's server), one container per warm environment, the real clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from sqlalchemy import Engine
from support.lambda_context import (
    FakeLambdaContext,
    http_api_event,
    on_lambda_thread,
    tick_event,
)
from support.moto_server import FAKE_CREDENTIALS, moto_server

from encore_backend import lambda_handler
from encore_backend.aws import http, warm
from encore_backend.aws.secrets import secret_settings
from encore_backend.bootstrap import build
from encore_backend.clock import SystemClock, iso_z
from encore_backend.config import ConfigError, Settings


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def secrets(moto: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Secrets Manager client on moto; boto3 in this process is pointed at it too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_REGION", FAKE_CREDENTIALS["region_name"])
    return boto3.client("secretsmanager", endpoint_url=moto, **FAKE_CREDENTIALS)


def new_secret(secrets: Any, value: str) -> str:
    return str(secrets.create_secret(Name=f"encore-{uuid.uuid4().hex}", SecretString=value)["ARN"])


@pytest.fixture
def builds(
    secrets: Any, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> Iterator[list[Settings]]:
    """The function's environment (secret ARNs, no database URL); the settings of every
    container built while the test runs."""
    monkeypatch.chdir(tmp_path)  # no .env file here
    monkeypatch.delenv("ENCORE_DATABASE_URL", raising=False)
    monkeypatch.setenv("ENCORE_DATABASE_URL_SECRET_ARN", new_secret(secrets, db_url))
    monkeypatch.setenv("ENCORE_UNSUBSCRIBE_SECRET_ARN", new_secret(secrets, "links-key\n"))
    built: list[Settings] = []

    def counting_build(settings: Settings) -> Any:
        built.append(settings)
        return build(settings)

    monkeypatch.setattr(warm, "build", counting_build)
    warm.container.cache_clear()
    http.warm_function.cache_clear()
    yield built
    if built:
        warm.container().engine.dispose()
    warm.container.cache_clear()
    http.warm_function.cache_clear()


def test_a_warm_environment_builds_its_container_once(builds: list[Settings], db_url: str) -> None:
    clock = SystemClock()
    event = tick_event("stats_aggregator", iso_z(clock.now().replace(microsecond=0)))

    first = lambda_handler.handler(event, FakeLambdaContext(clock, request_id="cold"))
    again = lambda_handler.handler(event, FakeLambdaContext(clock, request_id="warm"))
    health = on_lambda_thread(
        lambda_handler.http_handler,
        http_api_event("GET", "/health"),
        FakeLambdaContext(clock, function_name="encore-http"),
    )

    assert (first["outcome"], first["status"]) == ("ran", "success")
    assert again["outcome"] == "already_ran" and again["run_id"] == first["run_id"]
    assert health["statusCode"] == 200
    assert len(builds) == 1  # three invocations, one container
    (settings,) = builds
    assert settings.encore_database_url == db_url  # read from Secrets Manager
    assert settings.encore_unsubscribe_secret == "links-key"


def test_an_unreadable_secret_stops_the_cold_start_naming_the_variable(secrets: Any) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:encore-gone-AbCdEf"
    environ = {"ENCORE_DATABASE_URL_SECRET_ARN": missing, "AWS_REGION": "us-east-1"}
    with pytest.raises(ConfigError, match=r"^ENCORE_DATABASE_URL_SECRET_ARN: cannot read secret"):
        secret_settings(environ)


def test_without_secret_arns_the_environment_alone_configures() -> None:
    assert secret_settings({"ENCORE_DATABASE_URL": "sqlite:///x.db"}) == {}
