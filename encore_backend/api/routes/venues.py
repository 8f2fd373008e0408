"""Venues and their settings (SPEC §8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from encore_backend.api.deps import Admin, Ctx, Reader, venue_or_404
from encore_backend.api.params import VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.venues import (
    SettingsOut,
    SettingsPatch,
    VenueCreate,
    VenueCreated,
    VenueList,
    VenueOut,
)
from encore_backend.domain.enums import Role
from encore_backend.services import venue_service
from encore_backend.services.errors import ConflictError

router = APIRouter(prefix="/api/venues", tags=["venues"], responses=READER)
NOT_FOUND = errors(404)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=VenueCreated, responses=errors(400, 409)
)
def create_venue(body: VenueCreate, ctx: Ctx, _admin: Admin) -> dict[str, Any]:
    """Create a venue; the response is the only place its webhook secret is shown."""
    try:
        return venue_service.create_venue(ctx, **body.model_dump())
    except ConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("", response_model=VenueList)
def list_venues(ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Admins see every venue, a venue manager only their own."""
    only = None if principal.role == Role.ADMIN else principal.venue_id
    return {"venues": venue_service.list_venues(ctx, venue_id=only)}


@router.get("/{venue_id}", response_model=VenueOut, responses=NOT_FOUND)
def get_venue(venue_id: VenuePath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    return venue_service.public_venue(venue_or_404(ctx, principal, venue_id))


@router.get("/{venue_id}/settings", response_model=SettingsOut, responses=NOT_FOUND)
def get_settings(venue_id: VenuePath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    venue_or_404(ctx, principal, venue_id)
    return _settings_or_404(ctx.venues.get_settings(venue_id))


@router.patch("/{venue_id}/settings", response_model=SettingsOut, responses=errors(400, 404))
def patch_settings(
    venue_id: VenuePath, body: SettingsPatch, ctx: Ctx, principal: Reader
) -> dict[str, Any]:
    """Partial update; the body is validated whole first, so a bad field writes nothing."""
    venue_or_404(ctx, principal, venue_id)
    updated = venue_service.update_settings(ctx, venue_id=venue_id, changes=body.changes())
    return _settings_or_404(updated)


def _settings_or_404(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "venue not found")
    return row
