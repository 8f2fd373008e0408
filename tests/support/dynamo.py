"""DynamoDB for tests: moto's standalone server (a real HTTP endpoint, a subprocess) and a
fresh set of tables per test under a unique prefix, so tests and sessions never share data."""

from __future__ import annotations

import secrets

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import Dynamo, connect
from encore_backend.storage.dynamodb.tables import create_tables
from support.moto_server import FAKE_CREDENTIALS

CREDENTIAL_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
}


def dynamo_settings(settings: Settings, endpoint: str, prefix: str | None = None) -> Settings:
    """`settings` switched to the DynamoDB profile on `endpoint`, with its own table prefix."""
    return settings.model_copy(
        update={
            "encore_derived_store": "dynamodb",
            "dynamodb_endpoint_url": endpoint,
            "aws_region": FAKE_CREDENTIALS["region_name"],
            "encore_dynamodb_table_prefix": prefix or f"t{secrets.token_hex(4)}_",
        }
    )


def fresh_tables(settings: Settings) -> Dynamo:
    """A client on the profile of `settings` with every table created."""
    dynamo = connect(settings)
    create_tables(dynamo)
    return dynamo
