"""Reply use cases: draft replies to new feedback, paced by the shared rate limit, and route each
draft through the SPEC §4 lifecycle (approval, auto-send with a delayed queue item, or kept).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.config import Settings
from encore_backend.domain.enums import ReplyStatus
from encore_backend.providers.ai import (
    Draft,
    ReplyProvider,
    ReplyRequest,
    build_reply_provider,
    check_draft,
    first_name_from,
    needs_approval,
)
from encore_backend.providers.errors import ProviderError, TransientProviderError
from encore_backend.services import email_service
from encore_backend.services.pacing import RunClock, backoff_seconds, run_budget, wait_for_permit

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.replies")

AI_LIMIT = "ai_generations"
PROVIDER_KEY = "reply_provider"  # ctx.extras key: an injected ReplyProvider (tests)
BATCH_SIZE = 50
MAX_ATTEMPTS = 4  # provider calls per feedback within a run before the reply is `failed`
RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 60.0


@dataclass
class GenerationReport:
    """What one generator run did (kept in the run record)."""

    by_status: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    retries: int = 0
    lost_races: int = 0
    out_of_budget: bool = False
    provider_down: bool = False  # a reply failed on transient errors: the run stopped there

    @property
    def stored(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Attempted:
    """A provider outcome: a checked draft, or the error to keep on a `failed` reply."""

    draft: Draft | None = None
    error: str | None = None
    transient: bool = False


def reply_provider(ctx: Container) -> ReplyProvider:
    return ctx.extras.get(PROVIDER_KEY) or build_reply_provider(ctx.settings)


def generate_replies(
    ctx: Container, *, now: datetime, batch_size: int = BATCH_SIZE, max_seconds: float | None = None
) -> GenerationReport:
    """Draft every waiting feedback, oldest first, paced by MAX_AI_GENERATIONS_PER_MINUTE,
    until the backlog is empty or the run's time budget is spent."""
    report = GenerationReport()
    if not ctx.settings.auto_generate_ai_responses:
        return report
    budget = run_budget(ctx.settings.scheduler_ai_interval_minutes, max_seconds)
    run, provider, after_id = RunClock(ctx, now, budget=budget), reply_provider(ctx), 0
    while batch := ctx.replies.candidates(after_id=after_id, limit=batch_size):
        for row in batch:
            outcome = attempt_draft(ctx, run, provider, request_for(row), report)
            if outcome is None:
                report.out_of_budget = True
                return report
            store_reply(ctx, row, outcome, now=run.now(), provider=provider, report=report)
            after_id = row["feedback_id"]
            if outcome.transient:  # the provider is down: fail one reply per run, not dozens
                report.provider_down = True
                return report
    return report


def request_for(row: Mapping[str, Any]) -> ReplyRequest:
    """What the provider sees: the comment as data, the customer's first name only."""
    return ReplyRequest(
        venue_name=row["venue_name"],
        brand_voice=row["brand_voice"],
        customer_first_name=first_name_from(row["customer_name"]),
        rating=int(row["rating"]),
        comment=row["comment"],
        alert_level=row["alert_level"],
    )


def attempt_draft(
    ctx: Container,
    run: RunClock,
    provider: ReplyProvider,
    request: ReplyRequest,
    report: GenerationReport,
) -> Attempted | None:
    """A checked draft or the final error; None when the run's budget ends first (the feedback
    then waits for the next run). Transient errors retry with exponential backoff and jitter."""
    limit = ctx.settings.max_ai_generations_per_minute
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if wait_for_permit(run, name=AI_LIMIT, limit=limit) is None:
            return None
        try:
            return Attempted(draft=check_draft(provider.draft(request)))
        except TransientProviderError as exc:
            if attempt == MAX_ATTEMPTS:
                error = f"{exc.reason} (gave up after {attempt} attempts)"
                return Attempted(error=error, transient=True)
            delay = backoff_seconds(
                attempt,
                base=RETRY_BASE_SECONDS,
                cap=RETRY_CAP_SECONDS,
                jitter=random.random(),
                retry_after=exc.retry_after,
            )
            log.warning("draft attempt %s failed, retrying in %.1fs: %s", attempt, delay, exc)
            report.retries += 1
            if not run.pause(delay):
                return None
        except ProviderError as exc:
            return Attempted(error=exc.reason)
        except Exception as exc:  # a provider bug must not stop the whole run
            log.exception("reply provider crashed")
            return Attempted(error=f"{type(exc).__name__}: {exc}")
    return None  # not reached: the last attempt returns


def route_draft(
    *, settings: Settings, venue: Mapping[str, Any], body: str, alert_level: str | None
) -> tuple[ReplyStatus, str | None]:
    """SPEC §4: (status, why it waits for approval). Compensation offers and critical alerts
    always wait; else the venue's require_approval, then auto-send, else `generated`."""
    reasons = needs_approval(body, alert_level)
    if venue["require_approval"]:
        reasons = ["the venue requires approval", *reasons]
    if reasons:
        return ReplyStatus.PENDING_APPROVAL, "; ".join(reasons)
    if venue["auto_send_enabled"] and settings.auto_send_emails:
        return ReplyStatus.AUTO_APPROVED, None
    return ReplyStatus.GENERATED, None


def store_reply(
    ctx: Container,
    row: Mapping[str, Any],
    outcome: Attempted,
    *,
    now: datetime,
    provider: ReplyProvider,
    report: GenerationReport,
) -> None:
    """Save the reply (and its queue item when auto-sent); count what happened."""
    reply = _reply_row(row, outcome, now=now, provider=provider)
    queue_item = None
    if outcome.draft is not None:
        body, level = outcome.draft.body, row["alert_level"]
        status, hold = route_draft(settings=ctx.settings, venue=row, body=body, alert_level=level)
        reply.update(status=status.value, hold_reason=hold)
        if status == ReplyStatus.AUTO_APPROVED:
            delay = timedelta(minutes=int(row["auto_send_delay_minutes"]))
            queue_item = email_service.new_queue_item(
                ctx.settings, reply=reply, customer=row, send_at=now + delay, now=now
            )
            if queue_item["status"] == email_service.CANCELLED:
                reply["status"] = ReplyStatus.CANCELLED.value
                reply["error"] = queue_item["error"]
    if not ctx.replies.save(reply=reply, queue_item=queue_item):
        report.lost_races += 1
        return
    report.by_status[reply["status"]] = report.by_status.get(reply["status"], 0) + 1
    report.queued += queue_item is not None and queue_item["status"] == email_service.PENDING


def _reply_row(
    row: Mapping[str, Any], outcome: Attempted, *, now: datetime, provider: ReplyProvider
) -> dict[str, Any]:
    draft = outcome.draft
    return {
        "response_id": str(uuid.uuid4()),
        "feedback_id": row["feedback_id"],
        "venue_id": row["venue_id"],
        "subject": draft.subject if draft else "",
        "body": draft.body if draft else "",
        "status": ReplyStatus.FAILED.value,
        "provider": draft.provider if draft else str(getattr(provider, "name", "unknown")),
        "model": draft.model if draft else None,
        "error": outcome.error,
        "created_at": now,
    }
