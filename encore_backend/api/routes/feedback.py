"""Feedback ingestion and reads (SPEC §8)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from encore_backend.api import cursor as cursors
from encore_backend.api.deps import (
    Ctx,
    CurrentPrincipal,
    Principal,
    Reader,
    check_venue,
    venue_or_404,
)
from encore_backend.api.errors import from_field_error
from encore_backend.api.params import MAX_DB_INT, Cursor, FeedbackPath, VenuePath
from encore_backend.api.responses import AUTHENTICATED, errors
from encore_backend.api.schemas.feedback import FeedbackCreate, FeedbackOut, FeedbackPage
from encore_backend.domain.enums import FeedbackStatus
from encore_backend.services import feedback_service
from encore_backend.services.errors import FieldError

router = APIRouter(tags=["feedback"], responses=AUTHENTICATED)
READ_ERRORS = errors(403, 404)


@router.post(
    "/api/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses={
        200: {"model": FeedbackOut, "description": "This external_id was seen before"},
        **errors(400, 404),
    },
)
def post_feedback(
    body: FeedbackCreate, ctx: Ctx, principal: CurrentPrincipal, tasks: BackgroundTasks
) -> Any:
    """Ingest feedback (admin, ingest, or the venue's manager); alerts are checked right after."""
    _check_can_submit(principal, body.venue_id)
    try:
        row, created = feedback_service.ingest_feedback(ctx, **_ingest_args(body))
    except FieldError as exc:
        raise from_field_error(exc) from None
    if created:
        tasks.add_task(feedback_service.detect_alerts_after_ingest, ctx, [row["feedback_id"]])
    payload = jsonable_encoder(FeedbackOut.model_validate(row).model_dump(mode="json"))
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return JSONResponse(payload, status_code=code, background=tasks)


def _check_can_submit(principal: Principal, venue_id: str) -> None:
    """Managers (and venue-bound ingest tokens) get 404 for another venue, as for reads."""
    if principal.venue_bound and principal.venue_id != venue_id:
        check_venue(principal, None)


def _ingest_args(body: FeedbackCreate) -> dict[str, Any]:
    customer = body.customer.model_dump() if body.customer else None
    return {
        "venue_id": body.venue_id,
        "rating": body.rating,
        "comment": body.comment,
        "customer": customer,
        "created_at": body.created_at,
        "external_id": body.external_id,
    }


@router.get("/api/venues/{venue_id}/feedback", response_model=FeedbackPage, responses=READ_ERRORS)
def list_feedback(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    status_: Annotated[FeedbackStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Newest first; page with ?cursor=<next_cursor> (or ?before_id=<next_before_id>)."""
    venue_or_404(ctx, principal, venue_id)
    if cursor is not None:
        (before_id,) = cursors.FEEDBACK.decode(cursor)
    found = feedback_service.list_feedback(
        ctx, venue_id=venue_id, limit=limit, before_id=before_id, rating=rating, status=status_
    )
    last = found["next_before_id"]
    found["next_cursor"] = None if last is None else cursors.FEEDBACK.encode({"feedback_id": last})
    return found


@router.get("/api/feedback/{feedback_id}", response_model=FeedbackOut, responses=READ_ERRORS)
def get_feedback(feedback_id: FeedbackPath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """One feedback; 404 when it belongs to a venue the caller cannot see."""
    row = feedback_service.get_feedback(ctx, feedback_id=feedback_id)
    if row is None or not principal.can_see(row["venue_id"]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "feedback not found")
    return row
