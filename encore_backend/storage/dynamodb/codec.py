"""Python values ↔ DynamoDB attribute values.

Times are ISO-8601 UTC strings with a fixed six-digit fraction and `Z`, so they sort as text
in the order they happened; floats travel as `Decimal` (DynamoDB has no binary floats); a None
attribute is not stored at all, which keeps sparse indexes sparse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from encore_backend.clock import as_utc

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def iso(moment: datetime) -> str:
    """A UTC instant as sortable text."""
    return as_utc(moment).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """A value DynamoDB accepts: datetimes as text, floats as Decimal, nested maps and lists."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def python(value: Any) -> Any:
    """Back from DynamoDB: Decimal as int when whole, else float; nested maps and lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [python(v) for v in value]
    return value


def encode(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A document as a low-level item (None attributes left out)."""
    return {k: _serializer.serialize(plain(v)) for k, v in doc.items() if v is not None}


def encode_value(value: Any) -> Any:
    return _serializer.serialize(plain(value))


def decode(
    item: Mapping[str, Any], *, fields: Iterable[str] = (), times: Iterable[str] = ()
) -> dict[str, Any]:
    """A low-level item as a document: every name in `fields` present (None when absent) and
    the `times` parsed back to aware UTC datetimes."""
    doc = {k: python(_deserializer.deserialize(v)) for k, v in item.items()}
    for name in fields:
        doc.setdefault(name, None)
    for name in times:
        if isinstance(doc.get(name), str):
            doc[name] = parse_time(doc[name])
    return doc
