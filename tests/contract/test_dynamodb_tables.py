"""Table creation against moto's server: idempotent, on-demand, every index of SPEC §6."""

from __future__ import annotations

import pytest

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import connect
from encore_backend.storage.dynamodb.schema import SCHEDULER_JOBS, TABLES, TTL_ATTRIBUTE
from encore_backend.storage.dynamodb.tables import (
    MissingTables,
    create_tables,
    missing_tables,
    require_tables,
)


def test_create_tables_is_idempotent_and_complete(bare_dynamo_profile: Settings) -> None:
    dynamo = connect(bare_dynamo_profile)
    names = [dynamo.name(spec) for spec in TABLES]
    assert missing_tables(dynamo) == names
    assert create_tables(dynamo) == names
    assert create_tables(dynamo) == []
    assert missing_tables(dynamo) == []
    for spec in TABLES:
        table = dynamo.client.describe_table(TableName=dynamo.name(spec))["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {i.name for i in spec.indexes}
        ttl = dynamo.client.describe_time_to_live(TableName=dynamo.name(spec))
        status = ttl["TimeToLiveDescription"]
        if spec.ttl:
            assert status["AttributeName"] == TTL_ATTRIBUTE
            assert status["TimeToLiveStatus"] == "ENABLED"
        else:
            assert status["TimeToLiveStatus"] == "DISABLED"


def test_requests_are_counted_per_operation(bare_dynamo_profile: Settings) -> None:
    dynamo = connect(bare_dynamo_profile)
    missing_tables(dynamo)
    assert dynamo.requests["DescribeTable"] == len(TABLES)


def test_start_up_check_names_each_missing_table_and_the_command(
    bare_dynamo_profile: Settings,
) -> None:
    dynamo = connect(bare_dynamo_profile)
    create_tables(dynamo, [SCHEDULER_JOBS])
    with pytest.raises(MissingTables) as refused:
        require_tables(bare_dynamo_profile)
    missing = ", ".join(dynamo.name(spec) for spec in TABLES if spec is not SCHEDULER_JOBS)
    assert str(refused.value) == (
        f"DynamoDB tables missing on {bare_dynamo_profile.dynamodb_endpoint_url}: {missing}; "
        "create them with `encore dynamodb create-tables`"
    )
    create_tables(dynamo)
    require_tables(bare_dynamo_profile)  # all there: starts
