"""Replies and the email queue (SPEC §8): list, draft now, approve, reject, cancel, requeue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import ConfigDict, StringConstraints

from encore_backend.api import cursor as cursors
from encore_backend.api.deps import Admin, Ctx, Principal, Reader, check_venue, venue_or_404
from encore_backend.api.errors import from_field_error
from encore_backend.api.params import Cursor, FeedbackPath, ObjectPath, VenuePath
from encore_backend.api.responses import READER, errors
from encore_backend.api.schemas.common import InputModel
from encore_backend.api.schemas.replies import QueueItemOut, QueuePage, ReplyOut, ReplyPage
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import ReplyStatus
from encore_backend.providers.errors import ProviderConfigError, TransientProviderError
from encore_backend.services import approval_service
from encore_backend.services.errors import ConflictError, FieldError

router = APIRouter(tags=["replies"], responses=READER)
NOT_FOUND = errors(404)
CHANGES = errors(404, 409)
CHANGES_WITH_BODY = errors(400, 404, 409)
QueueStatus = Annotated[str, StringConstraints(pattern="^(pending|sending|sent|failed|cancelled)$")]
T = TypeVar("T")


class ApproveBody(InputModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(min_length=1, max_length=5000)] | None = None


class RejectBody(InputModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


@router.get("/api/venues/{venue_id}/responses", response_model=ReplyPage, responses=NOT_FOUND)
def list_responses(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    status_: Annotated[ReplyStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The venue's replies, newest first, optionally of one status; page with ?cursor=."""
    venue_or_404(ctx, principal, venue_id)
    rows = ctx.replies.list_for_venue(
        venue_id,
        status=status_.value if status_ else None,
        limit=limit + 1,
        after=cursors.after(cursor, cursors.REPLIES),
    )
    docs = [approval_service.public_reply(r) for r in rows]
    replies, next_cursor = cursors.page(docs, limit, cursors.REPLIES)
    return {"responses": replies, "next_cursor": next_cursor}


@router.post(
    "/api/feedback/{feedback_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ReplyOut,
    responses={**CHANGES, **errors(502, 503)},
)
def draft_response(feedback_id: FeedbackPath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Draft a reply to one feedback now; it then waits for approval (or stays generated)."""
    row = ctx.feedback.get(feedback_id)
    check_venue(principal, row["venue_id"] if row else None)
    return _call(lambda: approval_service.draft_now(ctx, feedback_id=feedback_id))


@router.post(
    "/api/responses/{response_id}/approve", response_model=ReplyOut, responses=CHANGES_WITH_BODY
)
def approve_response(
    response_id: ObjectPath, ctx: Ctx, principal: Reader, body: ApproveBody | None = None
) -> dict[str, Any]:
    """Approve (optionally with an edited body): queued to send now."""
    _visible_reply(ctx, principal, response_id)
    text = body.body if body else None
    return _call(
        lambda: approval_service.approve(ctx, response_id=response_id, by=principal.name, body=text)
    )


@router.post(
    "/api/responses/{response_id}/reject", response_model=ReplyOut, responses=CHANGES_WITH_BODY
)
def reject_response(
    response_id: ObjectPath, ctx: Ctx, principal: Reader, body: RejectBody | None = None
) -> dict[str, Any]:
    """Reject: the reply is never sent; a pending queue item is cancelled."""
    _visible_reply(ctx, principal, response_id)
    reason = body.reason if body else None
    return _call(
        lambda: approval_service.reject(
            ctx, response_id=response_id, by=principal.name, reason=reason
        )
    )


@router.get("/api/venues/{venue_id}/email-queue", response_model=QueuePage, responses=NOT_FOUND)
def list_queue(
    venue_id: VenuePath,
    ctx: Ctx,
    principal: Reader,
    status_: Annotated[QueueStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The venue's queue items, latest scheduled first; page with ?cursor=."""
    venue_or_404(ctx, principal, venue_id)
    after = cursors.after(cursor, cursors.QUEUE)
    rows = ctx.email_queue.list_for_venue(venue_id, status=status_, limit=limit + 1, after=after)
    docs = [approval_service.public_item(r) for r in rows]
    items, next_cursor = cursors.page(docs, limit, cursors.QUEUE)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/api/email-queue/{queue_id}/cancel", response_model=QueueItemOut, responses=CHANGES)
def cancel_item(queue_id: ObjectPath, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Cancel a pending item (409 once it is being sent or done)."""
    item = ctx.email_queue.get(queue_id)
    check_venue(principal, item["venue_id"] if item else None)
    return _call(lambda: approval_service.cancel_item(ctx, queue_id=queue_id, by=principal.name))


@router.post("/api/email-queue/{queue_id}/requeue", response_model=QueueItemOut, responses=CHANGES)
def requeue_item(queue_id: ObjectPath, ctx: Ctx, principal: Admin) -> dict[str, Any]:
    """Send a failed or cancelled item again, now (an operator's decision)."""
    if ctx.email_queue.get(queue_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "queue item not found")
    return _call(lambda: approval_service.requeue_item(ctx, queue_id=queue_id))


def _visible_reply(ctx: Container, principal: Principal, response_id: str) -> None:
    reply = ctx.replies.get(response_id)
    check_venue(principal, reply["venue_id"] if reply else None)


def _call(action: Callable[[], T]) -> T:
    """Service errors as HTTP: 404 unknown, 409 wrong state, 422 bad field, 502 a provider
    refusing our configuration, 503 a provider down (the reply is not stored either way)."""
    try:
        return action()
    except ProviderConfigError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    except TransientProviderError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from None
    except ConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except FieldError as exc:
        raise from_field_error(exc) from None
