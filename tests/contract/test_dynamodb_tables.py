"""Table creation against moto's server: idempotent, on-demand, every index of SPEC §6."""

from __future__ import annotations

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.connection import connect
from encore_backend.storage.dynamodb.schema import TABLES, TTL_ATTRIBUTE
from encore_backend.storage.dynamodb.tables import create_tables, missing_tables


def test_create_tables_is_idempotent_and_complete(dynamo_profile: Settings) -> None:
    dynamo = connect(dynamo_profile)
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


def test_requests_are_counted_per_operation(dynamo_profile: Settings) -> None:
    dynamo = connect(dynamo_profile)
    missing_tables(dynamo)
    assert dynamo.requests["DescribeTable"] == len(TABLES)
