"""Bulk ingestion (POST /api/feedback/batch, `encore import`): many feedback per transaction.

Each item passes the same rules as POST /api/feedback (the `FeedbackCreate` schema, the venue
exists, created_at not in the future); a refused item is reported and the others are stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from encore_backend.api.schemas.common import NUL_FREE
from encore_backend.api.schemas.feedback import FeedbackCreate
from encore_backend.bootstrap import Container
from encore_backend.services.errors import FieldError
from encore_backend.services.feedback_service import creation_time, unknown_venue, venue_exists

log = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 1000
Pair = tuple[dict[str, Any], dict[str, Any] | None]


class ItemStatus(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


@dataclass(frozen=True)
class ItemResult:
    """One item's outcome; `error.field` is relative to the item (e.g. "customer.email")."""

    index: int
    status: ItemStatus
    feedback_id: int | None = None
    error: FieldError | None = None


def parse_item(raw: object) -> FeedbackCreate | FieldError:
    """The item checked by the API's own schema, or its first field error."""
    try:
        return FeedbackCreate.model_validate(raw)
    except ValidationError as exc:
        return field_error(exc)


def parse_json(text: str | bytes) -> FeedbackCreate | FieldError:
    """`parse_item` of a JSON text (pydantic parses and checks it in one pass: faster)."""
    raw = text.encode() if isinstance(text, str) else text
    context = None if b"\\u0000" in raw or b"\x00" in raw else NUL_FREE
    try:
        return FeedbackCreate.model_validate_json(text, context=context)
    except ValidationError as exc:
        return field_error(exc)


def field_error(exc: ValidationError) -> FieldError:
    """The first error as a FieldError: its location dotted ("customer.email"; "" for the item
    as a whole), with pydantic's message (the text the API's 422 carries)."""
    first = exc.errors(include_url=False)[0]
    return FieldError(".".join(str(p) for p in first["loc"]), first["msg"])


def ingest_batch(
    ctx: Container,
    items: Sequence[FeedbackCreate | FieldError],
    *,
    may_submit: Callable[[str], bool] | None = None,
) -> list[ItemResult]:
    """Store the valid items in one transaction; one result per item, in order. An item for
    a venue the caller may not submit to (`may_submit` False) is refused like an unknown one."""
    now = ctx.clock.now()
    known = _known_venues(ctx, items)
    checked = [_checked(item, known, may_submit, now) for item in items]
    pairs = [p for p in checked if not isinstance(p, FieldError)]
    stored = iter(ctx.feedback.ingest_many(pairs, now=now) if pairs else [])
    results = []
    for index, outcome in enumerate(checked):
        if isinstance(outcome, FieldError):
            results.append(ItemResult(index, ItemStatus.REFUSED, error=outcome))
            continue
        feedback_id, created = next(stored)
        status = ItemStatus.CREATED if created else ItemStatus.DUPLICATE
        results.append(ItemResult(index, status, feedback_id=feedback_id))
    return results


def _known_venues(ctx: Container, items: Sequence[FeedbackCreate | FieldError]) -> set[str]:
    """The batch's venues that exist (the single-item path's check and its process memory)."""
    wanted = {i.venue_id for i in items if isinstance(i, FeedbackCreate)}
    return {venue_id for venue_id in wanted if venue_exists(ctx, venue_id)}


def _checked(
    item: FeedbackCreate | FieldError,
    known: set[str],
    may_submit: Callable[[str], bool] | None,
    now: datetime,
) -> Pair | FieldError:
    """The item's (feedback, customer) for the store, or why it is refused."""
    if isinstance(item, FieldError):
        return item
    if item.venue_id not in known or (may_submit is not None and not may_submit(item.venue_id)):
        return unknown_venue(item.venue_id)
    try:
        created_at = creation_time(item.created_at, now=now)
    except FieldError as refused:
        return refused
    feedback = {
        "venue_id": item.venue_id,
        "rating": item.rating,
        "comment": item.comment,
        "created_at": created_at,
        "external_id": item.external_id,
    }
    customer = item.customer.model_dump(exclude_none=True) if item.customer else None
    return feedback, customer or None


def created_ids(results: Sequence[ItemResult]) -> list[int]:
    return [r.feedback_id for r in results if r.status == ItemStatus.CREATED and r.feedback_id]
