"""Create the tables (idempotent, on-demand billing) and name the ones missing."""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import ClientError

from encore_backend.config import ConfigError, Settings
from encore_backend.storage.dynamodb.connection import Dynamo, connect
from encore_backend.storage.dynamodb.schema import TABLES, TTL_ATTRIBUTE, Index, TableSpec


def _key_schema(hash_key: tuple[str, str], range_key: tuple[str, str] | None) -> list[dict]:
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    return schema


def _index(index: Index) -> dict:
    return {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.hash_key, index.range_key),
        "Projection": {"ProjectionType": "ALL"},
    }


def create_table_request(dynamo: Dynamo, spec: TableSpec) -> dict:
    """The CreateTable parameters of one table."""
    request = {
        "TableName": dynamo.name(spec),
        "KeySchema": _key_schema(spec.hash_key, spec.range_key),
        "AttributeDefinitions": spec.attribute_definitions(),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [_index(i) for i in spec.indexes]
    return request


def missing_tables(dynamo: Dynamo, specs: Iterable[TableSpec] = TABLES) -> list[str]:
    """Names of the tables this deployment needs that do not exist (one DescribeTable each)."""
    missing = []
    for spec in specs:
        try:
            dynamo.client.describe_table(TableName=dynamo.name(spec))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            missing.append(dynamo.name(spec))
    return missing


class MissingTables(ConfigError):
    """The DynamoDB profile cannot start: tables are missing (the message names them)."""


def require_tables(settings: Settings) -> None:
    """The start-up check of ENCORE_DERIVED_STORE=dynamodb: every table exists, or an error
    naming each missing one and the command that creates them."""
    missing = missing_tables(connect(settings))
    if missing:
        where = settings.dynamodb_endpoint_url or f"AWS {settings.aws_region}"
        raise MissingTables(
            f"DynamoDB tables missing on {where}: {', '.join(missing)}; "
            "create them with `encore dynamodb create-tables`"
        )


def create_tables(dynamo: Dynamo, specs: Iterable[TableSpec] = TABLES) -> list[str]:
    """Create the missing tables, wait until they are active and switch TTL on; the names
    created (empty when all existed)."""
    specs = list(specs)
    absent = set(missing_tables(dynamo, specs))
    created = []
    for spec in specs:
        name = dynamo.name(spec)
        if name in absent:
            dynamo.client.create_table(**create_table_request(dynamo, spec))
            created.append(name)
    for spec in specs:
        name = dynamo.name(spec)
        if name not in absent:
            continue
        dynamo.client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        if spec.ttl:
            dynamo.client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
    return created
