"""Feedback bodies (SPEC §8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from encore_backend.api.schemas.common import (
    Email,
    InputModel,
    Int,
    Money,
    RequestTime,
    UtcTime,
    VenueRef,
)
from encore_backend.domain.enums import FeedbackStatus

MAX_COMMENT_CHARS = 5000
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tier = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=32)]


class CustomerIn(InputModel):
    """Who left the feedback; matched to an existing customer by lower-cased email."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    name: Name | None = None
    lifetime_value: Decimal | None = Field(
        None, ge=0, le=Decimal("9999999999.99"), decimal_places=2
    )
    tier: Tier | None = None


class FeedbackCreate(InputModel):
    """POST /api/feedback; an empty comment is allowed (a bare rating is still feedback)."""

    model_config = ConfigDict(extra="forbid")

    venue_id: VenueRef
    rating: Int = Field(ge=1, le=5)
    comment: str = Field("", max_length=MAX_COMMENT_CHARS)
    customer: CustomerIn | None = None
    created_at: RequestTime | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class CustomerOut(BaseModel):
    customer_id: int
    email: str | None
    name: str | None
    lifetime_value: Money | None
    tier: str | None


class FeedbackOut(BaseModel):
    feedback_id: int
    venue_id: str
    rating: int
    comment: str
    status: FeedbackStatus
    created_at: UtcTime
    ingested_at: UtcTime
    external_id: str | None
    customer: CustomerOut | None
    # Set when the feedback went unanswered past the venue's response deadline (response_sla).
    escalated_at: UtcTime | None = None


class FeedbackPage(BaseModel):
    """One page, newest first; pass next_cursor as ?cursor= (or next_before_id as ?before_id=)
    for the next (null: no more)."""

    feedback: list[FeedbackOut]
    next_before_id: int | None
    next_cursor: str | None
