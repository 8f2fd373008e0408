"""One DynamoDB client per process, the profile's table names, and a count of requests.

The count (per operation) is what the benchmark reports: requests per job run and per email
must grow with venues and items, never with stored feedback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config

from encore_backend.config import Settings
from encore_backend.storage.dynamodb.schema import TableSpec

CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 4}
)


class Dynamo:
    """A DynamoDB client, the table prefix, and how many requests of each kind were made."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.requests: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1

    def name(self, spec: TableSpec) -> str:
        """The table's name in this deployment."""
        return f"{self.prefix}{spec.role}"

    def pages(self, operation: str, **params: Any) -> Iterator[Mapping[str, Any]]:
        """Every item of a Query (or, for tools only, a Scan), following LastEvaluatedKey."""
        while True:
            page = getattr(self.client, operation)(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params = {**params, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def connect(settings: Settings) -> Dynamo:
    """The client for ENCORE_DERIVED_STORE=dynamodb: AWS, or DYNAMODB_ENDPOINT_URL if set."""
    client = boto3.session.Session().client(
        "dynamodb",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint_url,
        config=CLIENT_CONFIG,
    )
    return Dynamo(client, settings.encore_dynamodb_table_prefix)
