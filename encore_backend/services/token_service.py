"""API tokens: issued once in clear, kept only as a digest."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from encore_backend.api.deps import hash_token
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role
from encore_backend.services.errors import FieldError

TOKEN_PREFIX = "enc_"


def check_scope(ctx: Container, *, role: Role, venue_id: str | None) -> None:
    """A manager token needs an existing venue; an admin token has none; ingest may have one."""
    if role == Role.ADMIN and venue_id is not None:
        raise FieldError("venue_id", "must be omitted for an admin token")
    if role == Role.VENUE_MANAGER and venue_id is None:
        raise FieldError("venue_id", "is required for a venue_manager token")
    if venue_id is not None and not ctx.venues.exists(venue_id):
        raise FieldError("venue_id", f"venue {venue_id!r} does not exist")


def create_token(
    ctx: Container, *, role: Role, name: str, venue_id: str | None = None
) -> dict[str, Any]:
    """A new token; the returned dict holds the raw token, the database only its digest."""
    check_scope(ctx, role=role, venue_id=venue_id)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ctx.tokens.create(
        token_id=str(uuid.uuid4()),
        name=name,
        role=str(role),
        venue_id=venue_id,
        token_hash=hash_token(raw),
        now=ctx.clock.now(),
    )
    return {**row, "token": raw}
