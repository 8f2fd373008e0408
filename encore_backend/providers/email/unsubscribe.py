"""Signed unsubscribe tokens for the List-Unsubscribe link: HMAC-SHA256, URL-safe, no expiry.

A customer's token names (customer, address); a manager's names (venue, address) and is signed
under another context, so neither kind of token passes for the other."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

_CONTEXT = b"encore-unsubscribe-v1:"
_MANAGER_CONTEXT = b"encore-manager-unsubscribe-v1:"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class UnsubscribeClaim:
    """Whom a valid token unsubscribes."""

    customer_id: str
    email: str


def make_unsubscribe_token(*, customer_id: str | int, email: str, secret: str | bytes) -> str:
    """`<payload>.<mac>`, both base64url without padding; the email is lower-cased."""
    body = json.dumps({"c": str(customer_id), "e": email.strip().lower()}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_b64(_mac(payload, secret))}"


def verify_unsubscribe_token(token: str, *, secret: str | bytes) -> UnsubscribeClaim | None:
    """The claim when the token is intact and signed with this secret, else None."""
    payload, dot, signature = token.strip().partition(".")
    if not dot or not payload:
        return None
    try:
        # Compared as text: base64's unused low bits would let altered links decode alike.
        expected = _b64(_mac(payload, secret))
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        data = json.loads(_unb64(payload))
        return UnsubscribeClaim(customer_id=str(data["c"]), email=str(data["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def unsubscribe_url(public_url: str, token: str) -> str:
    """{ENCORE_PUBLIC_URL}/unsubscribe/{token}."""
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


@dataclass(frozen=True)
class ManagerUnsubscribeClaim:
    """Which venue's manager address a valid manager token switches off."""

    venue_id: str
    email: str


def make_manager_unsubscribe_token(*, venue_id: str, email: str, secret: str | bytes) -> str:
    """As a customer's token, for (venue, lower-cased manager address)."""
    body = json.dumps({"v": str(venue_id), "e": email.strip().lower()}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_b64(_mac(payload, secret, _MANAGER_CONTEXT))}"


def verify_manager_unsubscribe_token(
    token: str, *, secret: str | bytes
) -> ManagerUnsubscribeClaim | None:
    """The claim when the manager token is intact and signed with this secret, else None."""
    payload, dot, signature = token.strip().partition(".")
    if not dot or not payload:
        return None
    try:
        expected = _b64(_mac(payload, secret, _MANAGER_CONTEXT))
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        data = json.loads(_unb64(payload))
        return ManagerUnsubscribeClaim(venue_id=str(data["v"]), email=str(data["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def manager_unsubscribe_url(public_url: str, token: str) -> str:
    """{ENCORE_PUBLIC_URL}/unsubscribe/manager/{token}."""
    return f"{public_url.rstrip('/')}/unsubscribe/manager/{token}"


def _mac(payload: str, secret: str | bytes, context: bytes = _CONTEXT) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("unsubscribe secret must not be empty")
    return hmac.new(key, context + payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
