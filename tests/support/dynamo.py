"""DynamoDB for tests: moto's standalone server (a real HTTP endpoint, a subprocess), tables
under a unique prefix so sessions never share data, and a way to empty them: the tests of one
session reuse one set of tables (seven Scans a test instead of 27 table requests)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import Dynamo, connect
from encore_backend.storage.dynamodb.schema import TABLES, TableSpec
from encore_backend.storage.dynamodb.tables import create_tables
from support.moto_server import FAKE_CREDENTIALS

CREDENTIAL_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
}
BATCH = 25  # BatchWriteItem's limit


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


def empty_tables(dynamo: Dynamo) -> None:
    """Delete every item of the client's (existing) tables: as good as fresh for the next
    test, for a few Scans instead of seven CreateTables."""
    for spec in TABLES:
        keys = list(_keys(dynamo, spec))
        for start in range(0, len(keys), BATCH):
            requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH]]
            pending: dict[str, Any] = {dynamo.name(spec): requests}
            while pending:
                pending = dynamo.client.batch_write_item(RequestItems=pending)["UnprocessedItems"]


def _keys(dynamo: Dynamo, spec: TableSpec) -> Iterator[dict[str, Any]]:
    names = [key[0] for key in (spec.hash_key, spec.range_key) if key is not None]
    aliases = {f"#k{i}": name for i, name in enumerate(names)}
    for item in dynamo.pages(
        "scan",
        TableName=dynamo.name(spec),
        ProjectionExpression=", ".join(aliases),
        ExpressionAttributeNames=aliases,
    ):
        yield {name: item[name] for name in names}
