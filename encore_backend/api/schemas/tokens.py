"""API token bodies (SPEC §8)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from encore_backend.api.schemas.common import InputModel, UtcTime, VenueRef
from encore_backend.domain.enums import Role


class TokenCreate(InputModel):
    """POST /api/admin/tokens: venue_id is required for venue_manager, refused for admin."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    venue_id: VenueRef | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TokenCreated(BaseModel):
    """The new token, shown this once; only its SHA-256 digest is stored."""

    token: str
    token_id: str
    role: Role
    venue_id: str | None
    name: str
    created_at: UtcTime
