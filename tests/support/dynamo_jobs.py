"""The job store's DynamoDB table alone, for tests that need no SQL database."""

from __future__ import annotations

import pytest

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import Dynamo, connect
from encore_backend.storage.dynamodb.schema import SCHEDULER_JOBS
from encore_backend.storage.dynamodb.tables import create_tables
from support.dynamo import CREDENTIAL_ENV, dynamo_settings


def jobs_table(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Dynamo:
    """A client on a fresh `scheduler_jobs` table under its own prefix (moto's credentials set
    for this test only)."""
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    dynamo = connect(dynamo_settings(Settings(_env_file=None), moto_url))  # type: ignore[call-arg]
    create_tables(dynamo, [SCHEDULER_JOBS])
    return dynamo
