"""Sign-in, sign-out and the front door."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from encore_backend.api.deps import Principal, resolve_token
from encore_backend.domain.enums import Role
from encore_backend.web import auth
from encore_backend.web.templating import render

router = APIRouter(include_in_schema=False)
Form = Annotated[dict[str, str], Depends(auth.read_form)]


def home_of(principal: Principal) -> str:
    """Where a user lands: the console for admins, their venue for managers."""
    if principal.role == Role.ADMIN:
        return "/admin"
    return f"/venues/{principal.venue_id}"


def safe_next(value: str | None) -> str | None:
    """Only a local path (never //host or a scheme) may be a redirect target."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return None


@router.get("/")
def front_door(request: Request) -> RedirectResponse:
    session = auth.session_of(request)
    return RedirectResponse(home_of(session[1]) if session else "/signin", status_code=303)


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:
    return _signin_form(request, next=safe_next(next))


def _signin_form(
    request: Request, *, next: str | None, error: str | None = None, status_code: int = 200
) -> Response:
    """The form with a fresh double-submit CSRF token (field and cookie)."""
    token = secrets.token_urlsafe(24)
    page = render(
        request, "signin.html.j2", status_code, next=next or "", error=error, signin_csrf=token
    )
    auth.set_signin_csrf(page, token, secure=auth.is_https(request))
    return page


@router.post("/signin")
def sign_in(request: Request, form: Form) -> Response:
    """Check the CSRF pair and the token; set the session cookie and go home."""
    next_page = safe_next(form.get("next"))
    if not auth.signin_csrf_ok(request, form):
        return _signin_form(
            request, next=next_page, error="The form expired. Please try again.", status_code=403
        )
    principal = resolve_token(request.app.state.ctx, form.get("token", "").strip())
    if principal is None or principal.role == Role.INGEST:
        return _signin_form(
            request,
            next=next_page,
            error="That token is not valid for the dashboards.",
            status_code=401,
        )
    response = RedirectResponse(next_page or home_of(principal), status_code=303)
    auth.start_session(response, form["token"].strip(), secure=auth.is_https(request))
    return response


@router.post("/signout")
def sign_out(request: Request, form: Form) -> Response:
    auth.check_csrf(request, form)
    response = RedirectResponse("/signin", status_code=303)
    auth.end_session(response)
    return response
