"""The signed unsubscribe links: of every customer email (/unsubscribe/{token}) and of every
manager email (/unsubscribe/manager/{token}, which sets that address's preference to `none`):
a page (GET) and one-click (POST, RFC 8058)."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from encore_backend.api.deps import Ctx
from encore_backend.api.responses import ANY
from encore_backend.providers.email import verify_unsubscribe_token
from encore_backend.services import approval_service, manager_prefs
from encore_backend.services.email_service import unsubscribe_secret

router = APIRouter(tags=["unsubscribe"], responses=ANY)
INVALID: dict[int | str, dict[str, Any]] = {
    404: {"description": "The link is not valid", "content": {"text/html": {}}}
}
PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
    "<link rel='stylesheet' href='/static/app.css'></head>"
    "<body><main class='standalone'>{body}</main></body></html>"
)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=INVALID)
def unsubscribe_page(token: str, ctx: Ctx) -> HTMLResponse:
    """A confirmation button (a GET never unsubscribes: mail scanners follow links)."""
    if verify_unsubscribe_token(token, secret=unsubscribe_secret(ctx.settings)) is None:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    form = (
        f"<form method='post' action='/unsubscribe/{escape(token)}'>"
        "<p>Stop receiving replies to your feedback by email?</p>"
        "<button type='submit'>Unsubscribe</button></form>"
    )
    return _page("Unsubscribe", form, 200)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, responses=INVALID)
def unsubscribe(token: str, ctx: Ctx) -> HTMLResponse:
    """RFC 8058 one-click (List-Unsubscribe=One-Click) and the page's button."""
    if not approval_service.unsubscribe(ctx, token=token, now=ctx.clock.now()):
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    return _page("Unsubscribed", "<p>You will get no more emails from us.</p>", 200)


@router.get("/unsubscribe/manager/{token}", response_class=HTMLResponse, responses=INVALID)
def manager_unsubscribe_page(token: str, ctx: Ctx) -> HTMLResponse:
    """A manager's confirmation button (a GET never changes anything)."""
    if not manager_prefs.claim_is_valid(ctx, token):
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    form = (
        f"<form method='post' action='/unsubscribe/manager/{escape(token)}'>"
        "<p>Stop all emails about this venue (alerts, reports and digests) to this address? "
        "You can choose again on the venue's settings page.</p>"
        "<button type='submit'>Unsubscribe</button></form>"
    )
    return _page("Unsubscribe", form, 200)


@router.post("/unsubscribe/manager/{token}", response_class=HTMLResponse, responses=INVALID)
def manager_unsubscribe(token: str, ctx: Ctx) -> HTMLResponse:
    """One-click (List-Unsubscribe=One-Click) and the page's button: the address's mode is
    `none` from now on."""
    if not manager_prefs.unsubscribe(ctx, token=token, now=ctx.clock.now()):
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    return _page("Unsubscribed", "<p>This address gets no more emails about this venue.</p>", 200)


def _page(title: str, body: str, code: int) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), body=body), status_code=code)
