"""Manager actions on replies and queue items (SPEC §4, §8): draft now, approve (optionally
edited) to send now, reject, cancel, requeue, and unsubscribe from a signed link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.clock import iso_z
from encore_backend.domain.enums import ReplyStatus
from encore_backend.providers.ai import Draft, check_draft
from encore_backend.providers.email import verify_unsubscribe_token
from encore_backend.providers.errors import ProviderError, TransientProviderError
from encore_backend.services import email_service, reply_service
from encore_backend.services.errors import ConflictError, FieldError
from encore_backend.services.pacing import RunClock, run_budget

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

APPROVABLE = (ReplyStatus.GENERATED, ReplyStatus.PENDING_APPROVAL, ReplyStatus.AUTO_APPROVED)
REJECTABLE = (*APPROVABLE, ReplyStatus.APPROVED)
REPLY_FIELDS = ("response_id", "feedback_id", "venue_id", "subject", "body", "status")
MORE_FIELDS = ("provider", "model", "error", "hold_reason", "approved_by")
QUEUE_FIELDS = ("queue_id", "feedback_id", "response_id", "venue_id", "customer_email")
QUEUE_MORE = ("status", "error", "attempts", "kind", "report_id", "alert_id")


def public_reply(row: Mapping[str, Any]) -> dict[str, Any]:
    """The reply document of SPEC §6 (plus error and hold_reason), times ISO Z."""
    doc = {k: row[k] for k in (*REPLY_FIELDS, *MORE_FIELDS)}
    doc["feedback_id"] = int(row["feedback_id"])
    for key in ("created_at", "approved_at", "sent_at"):
        doc[key] = iso_z(row[key])
    return doc


def public_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """The queue item document of SPEC §6, times ISO Z."""
    doc = {k: row[k] for k in (*QUEUE_FIELDS, *QUEUE_MORE)}
    # A report's email to a manager has no feedback (kind "report"; see models.email_queue).
    doc["feedback_id"] = None if row["feedback_id"] is None else int(row["feedback_id"])
    for key in ("scheduled_send_time", "created_at", "sent_at"):
        doc[key] = iso_z(row[key])
    return doc


def draft_now(ctx: Container, *, feedback_id: int) -> dict[str, Any]:
    """Draft one reply now (the one-by-one flow); it waits for approval or stays `generated`.
    A reply whose generation failed is replaced; ConflictError for any other existing reply.

    A provider that refuses the configuration raises ProviderConfigError, one still failing
    after the retries raises TransientProviderError (API: 502 / 503 with the provider's
    message); either way nothing is stored and a failed reply stays as it was."""
    row = ctx.replies.draft_source(feedback_id)
    if row is None:
        raise LookupError(feedback_id)
    existing = ctx.replies.for_feedback(feedback_id)
    if existing is not None and not _redraftable(ctx, existing):
        raise ConflictError(f"feedback {feedback_id} already has a reply")
    now = ctx.clock.now()
    run = RunClock(ctx, now, budget=run_budget(0, max_seconds=60))
    provider = reply_service.reply_provider(ctx)
    report = reply_service.GenerationReport()
    outcome = reply_service.attempt_draft(
        ctx, run, provider, reply_service.request_for(row), report
    )
    if outcome is None:
        raise ConflictError("the AI generation rate limit is exhausted; try again in a minute")
    if outcome.transient:
        raise TransientProviderError(outcome.error or "the AI provider is unavailable")
    if existing is not None and not ctx.replies.delete_failed(existing["response_id"]):
        raise ConflictError(f"feedback {feedback_id} already has a reply")
    manual = {**row, "auto_send_enabled": False}  # a manager asked: they approve it
    reply_service.store_reply(ctx, manual, outcome, now=run.now(), provider=provider, report=report)
    stored = ctx.replies.for_feedback(feedback_id)
    if stored is None:
        raise ConflictError(f"feedback {feedback_id} already has a reply")
    return public_reply(stored)


def _redraftable(ctx: Container, reply: Mapping[str, Any]) -> bool:
    """A reply whose generation failed (it was never queued) may be drafted again; any other
    reply may not (a failed *send* is requeued instead, never redrafted)."""
    if reply["status"] != ReplyStatus.FAILED.value:
        return False
    return ctx.email_queue.for_response(reply["response_id"]) is None


def approve(
    ctx: Container, *, response_id: str, by: str, body: str | None = None
) -> dict[str, Any]:
    """Approve (optionally with an edited body) and queue it to send now.

    An edited body gets the draft checks (empty, length, placeholders) but not the hold
    reasons (compensation, banned phrases): it is the manager's own words and decision."""
    reply = _reply(ctx, response_id)
    if body is not None:
        body = _checked_body(reply, body)
    now = ctx.clock.now()
    changes = {"approved_by": by, "approved_at": now, "error": None, "hold_reason": None}
    if body is not None:
        changes["body"] = body
    if not ctx.replies.update_status(
        response_id, status=ReplyStatus.APPROVED, from_statuses=APPROVABLE, **changes
    ):
        raise ConflictError(f"a reply in status {reply['status']!r} cannot be approved")
    source = ctx.replies.draft_source(int(reply["feedback_id"])) or {}
    values = email_service.new_queue_item(
        ctx.settings, reply=reply, customer=source, send_at=now, now=now
    )
    item = ctx.email_queue.queue_reply(values)
    if item is not None and item["status"] == email_service.CANCELLED:
        ctx.replies.update_status(
            response_id,
            status=ReplyStatus.CANCELLED,
            from_statuses=(ReplyStatus.APPROVED,),
            error=item["error"],
        )
    return public_reply(_reply(ctx, response_id))


def _checked_body(reply: Mapping[str, Any], body: str) -> str:
    draft = Draft(subject=reply["subject"] or "Thank you", body=body, provider="", model="")
    try:
        return check_draft(draft).body
    except ProviderError as exc:
        raise FieldError("body", exc.reason) from None


def reject(ctx: Container, *, response_id: str, by: str, reason: str | None) -> dict[str, Any]:
    """Reject a reply; a pending queue item is cancelled."""
    reply = _reply(ctx, response_id)
    text = f"rejected by {by}" + (f": {reason}" if reason else "")
    if not ctx.replies.update_status(
        response_id, status=ReplyStatus.REJECTED, from_statuses=REJECTABLE, error=text
    ):
        raise ConflictError(f"a reply in status {reply['status']!r} cannot be rejected")
    item = ctx.email_queue.for_response(response_id)
    if item is not None:
        ctx.email_queue.cancel(item["queue_id"], now=ctx.clock.now(), reason="reply rejected")
        ctx.replies.update_status(
            response_id, status=ReplyStatus.REJECTED, from_statuses=(ReplyStatus.CANCELLED,)
        )
    return public_reply(_reply(ctx, response_id))


def _reply(ctx: Container, response_id: str) -> dict[str, Any]:
    reply = ctx.replies.get(response_id)
    if reply is None:
        raise LookupError(response_id)
    return reply


def cancel_item(ctx: Container, *, queue_id: str, by: str) -> dict[str, Any]:
    if not ctx.email_queue.cancel(queue_id, now=ctx.clock.now(), reason=f"cancelled by {by}"):
        raise ConflictError("only a pending item can be cancelled")
    return public_item(ctx.email_queue.get(queue_id) or {})


def requeue_item(ctx: Container, *, queue_id: str) -> dict[str, Any]:
    if not ctx.email_queue.requeue(queue_id, now=ctx.clock.now()):
        raise ConflictError("only a failed or cancelled item can be requeued")
    return public_item(ctx.email_queue.get(queue_id) or {})


def unsubscribe(ctx: Container, *, token: str, now: datetime) -> bool:
    """Mark the customer a signed link names; False for a bad token or unknown customer."""
    claim = verify_unsubscribe_token(token, secret=email_service.unsubscribe_secret(ctx.settings))
    if claim is None or not claim.customer_id.isdigit():
        return False
    return ctx.email_queue.unsubscribe(
        customer_id=int(claim.customer_id), email=claim.email, now=now
    )
