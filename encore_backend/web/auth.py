"""Dashboard sign-in: the API token in an HttpOnly SameSite cookie, and CSRF checks on forms.

The CSRF token of a session is an HMAC of its session token, so every process can check it
without shared state and nobody without the cookie can compute it. The sign-in form itself
(no session yet) uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from fastapi import Request
from starlette.responses import Response

from encore_backend.api.deps import SESSION_COOKIE, Principal, resolve_token
from encore_backend.domain.enums import Role

SIGNIN_CSRF_COOKIE = "encore_signin_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE = 12 * 3600
MAX_FORM_BYTES = 64 * 1024


class SignInRequired(Exception):
    """A page needs a signed-in user; the handler redirects to the sign-in page."""


class PageNotFound(Exception):
    """Not there, or not this user's (another venue's page): a 404 page, revealing nothing."""


class CsrfRejected(Exception):
    """A form post without the session's CSRF token: 403."""


def session_of(request: Request) -> tuple[str, Principal] | None:
    """The session token and its principal; None when absent, unknown or an ingest token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    principal = resolve_token(request.app.state.ctx, token)
    if principal is None or principal.role == Role.INGEST:
        return None
    return token, principal


def page_principal(request: Request) -> Principal:
    """Dependency of every page: the signed-in user, or a redirect to sign in."""
    session = session_of(request)
    if session is None:
        raise SignInRequired()
    request.state.csrf_token = csrf_for(session[0])
    request.state.principal = session[1]
    return session[1]


def admin_page(request: Request) -> Principal:
    principal = page_principal(request)
    if principal.role != Role.ADMIN:
        raise PageNotFound()
    return principal


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"encore-dashboard-csrf", hashlib.sha256).hexdigest()


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form body (first value per field); bounded in size."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRejected()
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """The session's CSRF token must come back in the form field or the header."""
    session = session_of(request)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if session is None or not hmac.compare_digest(sent.encode(), csrf_for(session[0]).encode()):
        raise CsrfRejected()


def set_signin_csrf(response: Response, value: str, *, secure: bool) -> None:
    """The sign-in form's double-submit token, as a cookie beside the hidden field."""
    response.set_cookie(
        SIGNIN_CSRF_COOKIE, value, max_age=3600, httponly=True, samesite="strict", secure=secure
    )


def signin_csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def start_session(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.delete_cookie(SIGNIN_CSRF_COOKIE)


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def is_https(request: Request) -> bool:
    """Cookies get `Secure` when served over https, or behind a proxy on an https public URL."""
    public_url = request.app.state.ctx.settings.encore_public_url
    return request.url.scheme == "https" or public_url.lower().startswith("https://")
