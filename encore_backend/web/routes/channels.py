"""The venue's notification channels page: list with status, add, delete, send a test."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from encore_backend.api.deps import Principal
from encore_backend.api.schemas.channels import ChannelCreate
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import ALERT_LEVEL_ORDER
from encore_backend.notify.channels import CHANNEL_TYPES, DEFAULT_LEVELS
from encore_backend.services import channel_service
from encore_backend.web import auth
from encore_backend.web.routes.venue import ctx_of, visible_venue
from encore_backend.web.templating import render

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(auth.page_principal)]
NOTICES = {
    "added": "Channel added.",
    "deleted": "Channel removed.",
    "invalid": "The channel was not added: choose a type, an http(s) URL and at least one level.",
    "test-ok": "Test message delivered.",
    "test-failed": "The test message was not delivered.",
}


async def read_fields(request: Request) -> dict[str, list[str]]:
    """A urlencoded form with every value of each field (the level checkboxes repeat)."""
    body = await request.body()
    if len(body) > auth.MAX_FORM_BYTES:
        raise auth.CsrfRejected()
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


Fields = Annotated[dict[str, list[str]], Depends(read_fields)]


def first(fields: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in fields.items()}


def back(venue_id: str, notice: str, error: str | None = None) -> RedirectResponse:
    query = {"notice": notice, **({"error": error[:200]} if error else {})}
    return RedirectResponse(f"/venues/{venue_id}/channels?{urlencode(query)}", status_code=303)


@router.get("/venues/{venue_id}/channels")
def channels_page(request: Request, venue_id: str, user: User, notice: str = "") -> Response:
    ctx = ctx_of(request)
    venue = visible_venue(ctx, user, venue_id)
    return render(
        request,
        "channels.html.j2",
        notice=NOTICES.get(notice),
        venue=venue,
        channels=channel_service.list_channels(ctx, venue_id),
        types=CHANNEL_TYPES,
        levels=[level.value for level in ALERT_LEVEL_ORDER],
        default_levels=DEFAULT_LEVELS,
        error=request.query_params.get("error"),
    )


@router.post("/venues/{venue_id}/channels")
def add_channel(request: Request, venue_id: str, user: User, fields: Fields) -> Response:
    auth.check_csrf(request, first(fields))
    ctx = ctx_of(request)
    visible_venue(ctx, user, venue_id)
    try:
        body = ChannelCreate.model_validate(
            {
                "type": first(fields).get("type", ""),
                "url": first(fields).get("url", ""),
                "levels": fields.get("levels", []),
                "name": first(fields).get("name", "").strip() or None,
            }
        )
    except ValidationError:
        return back(venue_id, "invalid")
    channel_service.create_channel(ctx, venue_id=venue_id, **body.fields())
    return back(venue_id, "added")


def _owned(
    request: Request, venue_id: str, channel_id: str, user: Principal, fields: Fields
) -> tuple[Container, dict[str, Any], dict[str, Any]]:
    """Checks of every channel form (CSRF, the venue is the user's, the channel the venue's)."""
    auth.check_csrf(request, first(fields))
    ctx = ctx_of(request)
    venue = visible_venue(ctx, user, venue_id)
    channel = channel_service.channel_of(ctx, venue_id, channel_id)
    if channel is None:
        raise auth.PageNotFound()
    return ctx, venue, channel


@router.post("/venues/{venue_id}/channels/{channel_id}/delete")
def delete_channel(
    request: Request, venue_id: str, channel_id: str, user: User, fields: Fields
) -> Response:
    ctx, _venue, _channel = _owned(request, venue_id, channel_id, user, fields)
    ctx.channels.delete(channel_id)
    return back(venue_id, "deleted")


@router.post("/venues/{venue_id}/channels/{channel_id}/test")
def test_channel(
    request: Request, venue_id: str, channel_id: str, user: User, fields: Fields
) -> Response:
    ctx, venue, channel = _owned(request, venue_id, channel_id, user, fields)
    result = channel_service.send_test(ctx, venue, channel)
    return back(venue_id, "test-ok" if result.ok else "test-failed", result.error)
