"""A venue's notification channels (SPEC §8): list, add, remove, send a test message."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from encore_backend.api.deps import Ctx, Reader, venue_or_404
from encore_backend.api.params import ObjectPath, VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.channels import (
    ChannelCreate,
    ChannelList,
    ChannelOut,
    ChannelTestOut,
)
from encore_backend.bootstrap import Container
from encore_backend.services import channel_service

router = APIRouter(prefix="/api/venues/{venue_id}/channels", tags=["channels"], responses=READER)
NOT_FOUND = errors(404)


@router.get("", response_model=ChannelList, responses=NOT_FOUND)
def list_channels(venue_id: VenuePath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """The venue's channels, oldest first, with their status (active, failing, disabled)."""
    venue_or_404(ctx, principal, venue_id)
    return {"channels": channel_service.list_channels(ctx, venue_id)}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ChannelOut, responses=errors(400, 404)
)
def create_channel(
    venue_id: VenuePath, body: ChannelCreate, ctx: Ctx, principal: Reader
) -> dict[str, Any]:
    """Add a Slack, Teams or signed-webhook channel for the alert levels it lists (default
    critical and high)."""
    venue_or_404(ctx, principal, venue_id)
    return channel_service.create_channel(ctx, venue_id=venue_id, **body.fields())


@router.delete(
    "/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
)
def delete_channel(
    venue_id: VenuePath, channel_id: ObjectPath, ctx: Ctx, principal: Reader
) -> Response:
    """Remove the channel; its deliveries not sent yet are dropped with it."""
    venue_or_404(ctx, principal, venue_id)
    _channel_or_404(ctx, venue_id, channel_id)
    ctx.channels.delete(channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{channel_id}/test", response_model=ChannelTestOut, responses=NOT_FOUND)
def test_channel(
    venue_id: VenuePath, channel_id: ObjectPath, ctx: Ctx, principal: Reader
) -> dict[str, Any]:
    """Send a test message now (one try, 5 s timeout). 200 either way: `ok` says whether the
    receiver took it. A success re-enables a channel disabled after repeated failures."""
    venue = venue_or_404(ctx, principal, venue_id)
    channel = _channel_or_404(ctx, venue_id, channel_id)
    result = channel_service.send_test(ctx, venue, channel)
    fresh = _channel_or_404(ctx, venue_id, channel_id)
    return {
        "ok": result.ok,
        "status_code": result.status_code,
        "error": result.error,
        "channel": channel_service.public_channel(fresh),
    }


def _channel_or_404(ctx: Container, venue_id: str, channel_id: str) -> dict[str, Any]:
    channel = channel_service.channel_of(ctx, venue_id, channel_id)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "channel not found")
    return channel
