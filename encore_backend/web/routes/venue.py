"""The venue dashboard and its in-place actions: acknowledge alerts, approve or reject replies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from encore_backend.api.deps import Principal
from encore_backend.bootstrap import Container
from encore_backend.services import alert_service, approval_service
from encore_backend.services.errors import ConflictError, FieldError
from encore_backend.web import auth
from encore_backend.web.templating import render
from encore_backend.web.venue_view import venue_dashboard

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(auth.page_principal)]
Form = Annotated[dict[str, str], Depends(auth.read_form)]
NOTICES = {
    "acknowledged": "Alert acknowledged.",
    "approved": "Reply approved: it is queued to send now.",
    "rejected": "Reply rejected: it will not be sent.",
    "reply-conflict": "That reply was already handled by someone else.",
    "reply-invalid": "The edited reply was not accepted: it must be 1 to 5,000 characters.",
}


def ctx_of(request: Request) -> Container:
    return request.app.state.ctx  # type: ignore[no-any-return]


def visible_venue(ctx: Container, principal: Principal, venue_id: str) -> dict[str, Any]:
    """The venue, or a 404 page for an unknown venue and for another venue's alike."""
    venue = ctx.venues.get(venue_id) if principal.can_see(venue_id) else None
    if venue is None:
        raise auth.PageNotFound()
    return venue


@router.get("/venues/{venue_id}")
def venue_page(request: Request, venue_id: str, user: User, notice: str = "") -> Response:
    ctx = ctx_of(request)
    venue = visible_venue(ctx, user, venue_id)
    data = venue_dashboard(ctx, venue, now=ctx.clock.now())
    return render(request, "venue.html.j2", notice=NOTICES.get(notice), **data)


def back_to(venue_id: str, notice: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/venues/{venue_id}?notice={notice}#{anchor}", status_code=303)


@router.post("/venues/{venue_id}/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, venue_id: str, alert_id: str, user: User, form: Form) -> Response:
    """Acknowledge in place (JSON for the page's script) or with a redirect back."""
    auth.check_csrf(request, form)
    ctx = ctx_of(request)
    visible_venue(ctx, user, venue_id)
    alert = ctx.alerts.get(alert_id)
    if alert is None or alert["venue_id"] != venue_id:
        raise auth.PageNotFound()
    done = alert_service.acknowledge(ctx, alert_id=alert_id, by=user.name)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(done)
    return back_to(venue_id, "acknowledged", f"alert-{alert_id}")


def _reply_form(
    request: Request, venue_id: str, response_id: str, user: Principal, form: dict[str, str]
) -> Container:
    """Checks every reply form needs (CSRF, the venue is the user's, the reply is the venue's);
    the container to act with."""
    auth.check_csrf(request, form)
    ctx = ctx_of(request)
    visible_venue(ctx, user, venue_id)
    reply = ctx.replies.get(response_id)
    if reply is None or reply["venue_id"] != venue_id:
        raise auth.PageNotFound()
    return ctx


@router.post("/venues/{venue_id}/replies/{response_id}/approve")
def approve(request: Request, venue_id: str, response_id: str, user: User, form: Form) -> Response:
    """Approve the reply with the (possibly edited) body from the form."""
    ctx = _reply_form(request, venue_id, response_id, user, form)
    body = form.get("body", "").replace("\r\n", "\n").strip() or None
    if body is not None and len(body) > 5000:
        return back_to(venue_id, "reply-invalid", f"reply-{response_id}")
    try:
        approval_service.approve(ctx, response_id=response_id, by=user.name, body=body)
    except ConflictError:
        return back_to(venue_id, "reply-conflict", "replies")
    except FieldError:
        return back_to(venue_id, "reply-invalid", f"reply-{response_id}")
    return back_to(venue_id, "approved", "replies")


@router.post("/venues/{venue_id}/replies/{response_id}/reject")
def reject(request: Request, venue_id: str, response_id: str, user: User, form: Form) -> Response:
    ctx = _reply_form(request, venue_id, response_id, user, form)
    reason = form.get("reason", "").strip()[:1000] or None
    try:
        approval_service.reject(ctx, response_id=response_id, by=user.name, reason=reason)
    except ConflictError:
        return back_to(venue_id, "reply-conflict", "replies")
    return back_to(venue_id, "rejected", "replies")
