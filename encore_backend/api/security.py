"""Security headers on every response, and request bodies refused over a size limit (SPEC §8).

Both are plain ASGI middleware, so they cover the API, the pages, static files and error
responses alike, and a body over the limit is refused before anything reads or parses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a feedback is at most ~25 KiB of JSON


def too_large(limit: int) -> str:
    return f"request body is larger than {limit} bytes"


# The pages use one same-origin script file and one stylesheet: no inline code at all.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc pages load their bundles from a CDN and start them inline.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def policy_for(path: str) -> str:
    return DOCS_POLICY if path.startswith(DOCS_PATHS) else PAGE_POLICY


class SecurityHeaders:
    """Adds CSP (frame-ancestors 'none'), nosniff and Referrer-Policy to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in STATIC_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised by the counting receive once a streamed body passes the limit."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(413, too_large(limit))


class BodyLimit:
    """413 for a body over `limit` bytes (or the path's own limit in `path_limits`, e.g. the
    batch endpoint's): at once from Content-Length, else while it streams."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, path_limits: Mapping[str, int] = {}
    ) -> None:
        self.app = app
        self.limit = limit
        self.path_limits = dict(path_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.limit)
        if declared_length(scope) > limit:
            await refuse(send, limit)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting(receive, limit), tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await refuse(send, limit)


def declared_length(scope: Scope) -> int:
    """The Content-Length header as a number (0 when absent; over any limit when unreadable)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else 2**63
    return 0


def counting(receive: Receive, limit: int) -> Receive:
    """A receive that raises BodyTooLarge once more than `limit` body bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


async def refuse(send: Send, limit: int = MAX_BODY_BYTES) -> None:
    """The 413 answer, in the API's error shape; the connection is closed after it."""
    body = json.dumps({"detail": too_large(limit)}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
