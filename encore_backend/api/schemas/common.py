"""Field checks shared by the request bodies: emails, URLs, time zones."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    Strict,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from encore_backend.clock import iso_z

# Deliberately simple: one @, a dotted domain, no spaces (full RFC 5322 is not the point).
EMAIL_RE = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)


def check_email(value: str) -> str:
    """A plausible address, lower-cased (customers and managers are matched by it)."""
    value = value.strip()
    if len(value) > 320 or not EMAIL_RE.match(value):
        raise ValueError("is not a valid email address")
    return value.lower()


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if len(value) > 500:
        raise ValueError("must be at most 500 characters")
    return value


BAD_ZONE = "is not a known IANA time zone (e.g. Europe/London)"
KNOWN_ZONES = frozenset(available_timezones())


def check_timezone(value: str) -> str:
    """An IANA time zone name known to zoneinfo, e.g. Europe/London."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(BAD_ZONE) from None
    if value not in KNOWN_ZONES:  # the schema's enum: the same list the validator accepts
        raise ValueError(BAD_ZONE)
    return value


def _z(value: datetime) -> Any:
    return iso_z(value)


def _money(value: Decimal) -> Any:
    return float(value)


def venue_id_text(value: object) -> object:
    """The seed's integer ids (`"venue_id": 57`) name the venue stored as the string "57"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 57.0 is the integer 57 in JSON
    return value


VENUE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_VENUE_INT = 2**63 - 1
_VENUE_ID_INT = {"type": "integer", "minimum": 0, "maximum": MAX_VENUE_INT}


def venue_id_schema(string: dict[str, Any]) -> WithJsonSchema:
    """A venue id is a string or a non-negative integer; 57 and "57" are the same venue."""
    return WithJsonSchema({"anyOf": [{"type": "string", **string}, _VENUE_ID_INT]})


def _venue_int_bounds(value: str) -> str:
    if value.isdigit() and int(value) > MAX_VENUE_INT:
        raise ValueError(f"an integer venue id must be at most {MAX_VENUE_INT}")
    return value


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def iso_text(value: object) -> object:
    """Times sent to the API are ISO-8601 date-times (as the schema says), not epoch numbers."""
    if isinstance(value, datetime) or (isinstance(value, str) and not _NUMBER.match(value)):
        return value
    raise ValueError("must be an ISO-8601 date-time, e.g. 2026-03-10T12:00:00Z")


# A time in a request: pydantic alone would also take 0 or "0.5" as seconds since 1970.
RequestTime = Annotated[datetime, BeforeValidator(iso_text)]
# Request numbers and flags as JSON types: no "5" for 5, no 0 or "yes" for false/true.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]

Email = Annotated[
    str,
    AfterValidator(check_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),
]
# A new venue's id: lower-case letters, digits, "_" and "-" (or an integer).
NewVenueId = Annotated[
    str,
    BeforeValidator(venue_id_text),
    StringConstraints(pattern=VENUE_ID_PATTERN),
    AfterValidator(_venue_int_bounds),
    venue_id_schema({"pattern": VENUE_ID_PATTERN}),
]
# A reference to an existing venue: looser, since venues may be created by other systems.
VenueRef = Annotated[
    str,
    BeforeValidator(venue_id_text),
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_venue_int_bounds),
    venue_id_schema({"minLength": 1, "maxLength": 64}),
]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
TimeZone = Annotated[
    str,
    AfterValidator(check_timezone),
    WithJsonSchema({"type": "string", "enum": sorted(KNOWN_ZONES)}),
]
UtcTime = Annotated[datetime, PlainSerializer(_z, return_type=str)]
Money = Annotated[Decimal, PlainSerializer(_money, return_type=float)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


# Validation context of a body whose raw text was seen to hold no NUL (no "\u0000" in the
# JSON): the per-field check below is skipped (the bulk import validates millions of rows).
NUL_FREE = {"nul_free": True}


class InputModel(BaseModel):
    """A request body: no NUL character in any text. PostgreSQL cannot store one, so it would
    otherwise be a 500 there alone; here it is a 422 naming the field on every database."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if info.context is NUL_FREE:
            return value
        if _has_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value
