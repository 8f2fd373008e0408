"""`encore dynamodb create-tables` as a real command against moto's server."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from support.dynamo import CREDENTIAL_ENV, dynamo_settings

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import connect
from encore_backend.storage.dynamodb.schema import SCHEDULER_JOBS, TABLES
from encore_backend.storage.dynamodb.tables import create_tables, missing_tables

ENCORE = str(Path(sys.executable).with_name("encore"))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without our or AWS's variables (ENCORE_DERIVED_STORE left unset)."""
    prefixes = ("ENCORE_", "AWS_", "DYNAMODB_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


def create_tables_command(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [ENCORE, "dynamodb", "create-tables"]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_create_tables_creates_the_missing_ones_then_has_nothing_to_do(
    moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"cli{secrets.token_hex(4)}_"
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    dynamo = connect(dynamo_settings(Settings(_env_file=None), moto_url, prefix))  # type: ignore[call-arg]
    create_tables(dynamo, [SCHEDULER_JOBS])  # one exists already
    env = clean_env(
        DYNAMODB_ENDPOINT_URL=moto_url,
        ENCORE_DYNAMODB_TABLE_PREFIX=prefix,
        AWS_REGION="us-east-1",
        **CREDENTIAL_ENV,
    )

    first = create_tables_command(env, tmp_path)
    assert first.returncode == 0, first.stderr
    others = [dynamo.name(spec) for spec in TABLES if spec is not SCHEDULER_JOBS]
    assert first.stdout.splitlines() == [
        *(f"created {name}" for name in others),
        f"{len(others)} created, 1 already existed on {moto_url}",
    ]
    assert missing_tables(dynamo) == []

    second = create_tables_command(env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f"all {len(TABLES)} tables exist on {moto_url}; nothing to create"
    ]


def test_create_tables_without_credentials_says_so_in_one_line(
    moto_url: str, tmp_path: Path
) -> None:
    env = clean_env(
        DYNAMODB_ENDPOINT_URL=moto_url,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
    )
    result = create_tables_command(env, tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"DynamoDB on {moto_url}: Unable to locate credentials\n"


def test_the_profile_without_its_tables_refuses_to_start_naming_each_missing_one(
    moto_url: str, tmp_path: Path
) -> None:
    prefix = f"cli{secrets.token_hex(4)}_"
    env = clean_env(
        ENCORE_DERIVED_STORE="dynamodb",
        DYNAMODB_ENDPOINT_URL=moto_url,
        ENCORE_DYNAMODB_TABLE_PREFIX=prefix,
        ENCORE_DATABASE_URL=f"sqlite:///{tmp_path / 'encore.db'}",
        AWS_REGION="us-east-1",
        **CREDENTIAL_ENV,
    )
    done = subprocess.run(
        [ENCORE, "jobs"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"DynamoDB tables missing on {moto_url}: " in lines[0]
    assert all(f"{prefix}{spec.role}" in lines[0] for spec in TABLES)
    assert "encore dynamodb create-tables" in lines[0]
