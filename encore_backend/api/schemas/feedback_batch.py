"""POST /api/feedback/batch bodies: up to 1,000 feedback, one result per item."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from encore_backend.services.feedback_batch import MAX_BATCH_ITEMS


class FeedbackBatchIn(BaseModel):
    """Each item has the POST /api/feedback shape. Items are checked one by one (a bad item is
    refused in the results, the others are stored), so the list is not validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[
        list[SkipValidation[Any]],
        Field(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            description=(
                "Each item a POST /api/feedback body (FeedbackCreate). Any item is accepted "
                "here: each is checked on its own and a bad one is refused in the results."
            ),
        ),
    ]


class ItemErrorOut(BaseModel):
    """Why an item was refused: the field with the item's index, e.g. `items[3].rating`."""

    field: str
    message: str


class BatchItemOut(BaseModel):
    """`created` (stored now), `duplicate` (its external_id was stored before, at the venue:
    feedback_id is the first one's) or `refused` (error says why; nothing stored)."""

    index: int
    status: Literal["created", "duplicate", "refused"]
    feedback_id: int | None = None
    error: ItemErrorOut | None = None


class FeedbackBatchOut(BaseModel):
    """One result per item, in the order sent, and the counts of each status."""

    results: list[BatchItemOut]
    created: int
    duplicate: int
    refused: int
