"""Admin-issued API tokens (SPEC §8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from encore_backend.api.deps import Admin, Ctx
from encore_backend.api.errors import from_field_error
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.tokens import TokenCreate, TokenCreated
from encore_backend.services import token_service
from encore_backend.services.errors import FieldError

router = APIRouter(prefix="/api/admin/tokens", tags=["tokens"], responses=READER)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, responses=errors(400)
)
def create_token(body: TokenCreate, ctx: Ctx, _admin: Admin) -> dict[str, Any]:
    """Issue a token; it is shown in this response only and stored as a SHA-256 digest."""
    try:
        return token_service.create_token(
            ctx, role=body.role, name=body.name, venue_id=body.venue_id
        )
    except FieldError as exc:
        raise from_field_error(exc) from None
