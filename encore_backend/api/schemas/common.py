"""Field checks shared by the request bodies: emails, URLs, time zones."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, PlainSerializer

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


def check_timezone(value: str) -> str:
    """An IANA time zone name known to zoneinfo, e.g. Europe/London."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not a known IANA time zone (e.g. Europe/London)") from None
    return value


def _z(value: datetime) -> Any:
    return iso_z(value)


def _money(value: Decimal) -> Any:
    return float(value)


Email = Annotated[str, AfterValidator(check_email)]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
UtcTime = Annotated[datetime, PlainSerializer(_z, return_type=str)]
Money = Annotated[Decimal, PlainSerializer(_money, return_type=float)]
