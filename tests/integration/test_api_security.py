"""Security headers on every response, the Secure session cookie, and the request body limit."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ADMIN, client
from factories import make_venue
from fastapi import FastAPI
from fastapi.testclient import TestClient

from encore_backend.api.app import create_app
from encore_backend.api.security import MAX_BODY_BYTES
from encore_backend.bootstrap import Container

__all__ = ["client"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ["/signin", "/static/app.css", "/static/dashboard.js", "/unsubscribe/not-a-token"]
API = ["/health", "/metrics", "/openapi.json", "/api/venues", "/api/nope", "/admin"]


@pytest.mark.parametrize("path", PAGES + API + ["/docs", "/redoc"])
def test_every_response_carries_the_headers(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", PAGES + API)
def test_pages_allow_no_inline_code(client: TestClient, path: str) -> None:
    csp = client.get(path, follow_redirects=False).headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "default-src 'self'" in csp


def test_errors_and_refusals_carry_the_headers_too(client: TestClient) -> None:
    too_big = client.post("/api/feedback", content=b"x" * (MAX_BODY_BYTES + 1), headers=ADMIN)
    for response in (
        client.get("/api/venues"),
        too_big,
        client.get("/api/venues/x", headers=ADMIN),
    ):
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def signed_in_cookie(app: FastAPI, base_url: str) -> str:
    with TestClient(app, base_url=base_url, follow_redirects=False) as web:
        form = CSRF.search(web.get("/signin").text)
        assert form is not None
        response = web.post(
            "/signin", data={"csrf_token": form.group(1), "token": "test-admin-token"}
        )
        assert response.status_code == 303, response.text
        return next(c for c in response.headers.get_list("set-cookie") if "encore_session" in c)


def test_the_session_cookie_is_secure_when_the_public_url_is_https(ctx: Container) -> None:
    ctx.settings = ctx.settings.model_copy(update={"encore_public_url": "https://encore.example"})
    cookie = signed_in_cookie(create_app(ctx, start_scheduler=False), "https://testserver")
    assert "; secure" in cookie.lower()


def test_the_session_cookie_is_not_secure_on_a_plain_http_deployment(ctx: Container) -> None:
    assert ctx.settings.encore_public_url.startswith("http://")
    cookie = signed_in_cookie(create_app(ctx, start_scheduler=False), "http://testserver")
    assert "secure" not in cookie.lower()


def test_a_20_mb_json_body_is_refused_with_413(client: TestClient, ctx: Container) -> None:
    make_venue(ctx.engine, "v1", now=ctx.clock.now())
    body = json.dumps({"venue_id": "v1", "rating": 5, "comment": "x" * 20_000_000})
    response = client.post(
        "/api/feedback", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["detail"]
    assert ctx.feedback.count() == 0


def test_a_body_just_under_the_limit_is_parsed(client: TestClient, ctx: Container) -> None:
    """The limit is on bytes, not on meaning: a big but valid-size body reaches validation."""
    body = json.dumps({"venue_id": "v1", "rating": 5, "comment": "x" * (MAX_BODY_BYTES - 100)})
    response = client.post("/api/feedback", content=body, headers=ADMIN)
    assert response.status_code == 422  # comment too long: parsed and validated


class Upload:
    """An ASGI receive that hands out a body in chunks and counts what was taken."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.left, self.chunk, self.taken = total, chunk, 0

    async def __call__(self) -> dict[str, Any]:
        size = min(self.chunk, self.left)
        self.left -= size
        self.taken += size
        return {"type": "http.request", "body": b" " * size, "more_body": self.left > 0}


def call_asgi(app: FastAPI, path: str, upload: Upload, headers: list[tuple[bytes, bytes]]) -> int:
    """Drive the app directly (no HTTP client buffering the body); the answer's status."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    worker = threading.Thread(target=asyncio.run, args=(app(scope, upload, send),))  # type: ignore[arg-type]
    worker.start()
    worker.join(60)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


@pytest.fixture
def app(ctx: Container) -> Iterator[FastAPI]:
    yield create_app(ctx, start_scheduler=False)


def test_a_declared_length_over_the_limit_is_refused_unread(app: FastAPI) -> None:
    upload = Upload(20_000_000)
    length = [(b"content-length", b"20000000"), (b"authorization", b"Bearer test-admin-token")]
    assert call_asgi(app, "/api/feedback", upload, length) == 413
    assert upload.taken == 0


@pytest.mark.parametrize("path", ["/api/feedback", "/signin"])
def test_a_chunked_body_is_cut_off_at_the_limit(app: FastAPI, path: str) -> None:
    """No Content-Length (chunked): the bytes are counted as they arrive; reading stops early."""
    upload = Upload(20_000_000)
    chunked = [(b"transfer-encoding", b"chunked"), (b"authorization", b"Bearer test-admin-token")]
    assert call_asgi(app, path, upload, chunked) == 413
    assert upload.taken <= MAX_BODY_BYTES + upload.chunk


def test_the_limit_is_stated_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert str(MAX_BODY_BYTES) in document["info"]["description"]
    post = document["paths"]["/api/feedback"]["post"]
    assert "413" in post["responses"]
