"""Signed unsubscribe tokens for the List-Unsubscribe link: HMAC-SHA256, URL-safe, no expiry."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

_CONTEXT = b"encore-unsubscribe-v1:"
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


def _mac(payload: str, secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("unsubscribe secret must not be empty")
    return hmac.new(key, _CONTEXT + payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
