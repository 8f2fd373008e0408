"""Manager preferences of a venue: each manager address's choice of emails (issue 13)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from encore_backend.api.deps import Ctx, Reader, venue_or_404
from encore_backend.api.params import VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.manager_prefs import PrefIn, PrefList, PrefOut
from encore_backend.services import manager_prefs
from encore_backend.services.manager_prefs import Choice

router = APIRouter(prefix="/api/venues", tags=["manager preferences"], responses=READER)
EmailPath = Annotated[
    str, Path(min_length=3, max_length=320, description="One of the venue's manager_emails")
]


@router.get("/{venue_id}/manager-preferences", response_model=PrefList, responses=errors(404))
def list_preferences(venue_id: VenuePath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Every manager address of the venue; `standard` when it chose nothing."""
    venue = venue_or_404(ctx, principal, venue_id)
    return {"preferences": manager_prefs.list_prefs(ctx, dict(venue))}


@router.put(
    "/{venue_id}/manager-preferences/{email}", response_model=PrefOut, responses=errors(404)
)
def put_preference(
    venue_id: VenuePath, email: EmailPath, body: PrefIn, ctx: Ctx, principal: Reader
) -> dict[str, Any]:
    """Set one manager address's choice (admin, or that venue's manager)."""
    venue = dict(venue_or_404(ctx, principal, venue_id))
    address = manager_prefs.address_of(venue, email)
    if address is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a manager address of this venue")
    choice = Choice(**body.model_dump())
    return manager_prefs.set_pref(ctx, venue, address, choice, now=ctx.clock.now())
