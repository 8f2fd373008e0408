"""Reply use cases: draft replies to new feedback, paced by the shared rate limit, and route each
draft through the SPEC §4 lifecycle (approval, auto-send with a delayed queue item, or kept).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

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
from encore_backend.providers.ai.voice import unsigned, voice_fields
from encore_backend.providers.errors import (
    ProviderConfigError,
    ProviderError,
    TransientProviderError,
)
from encore_backend.services import email_service
from encore_backend.services.pacing import (
    PermitStock,
    RunClock,
    backoff_seconds,
    run_budget,
)

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.replies")

AI_LIMIT = "ai_generations"
PROVIDER_KEY = "reply_provider"  # ctx.extras key: an injected ReplyProvider (tests)
BATCH_SIZE = 50
MAX_ATTEMPTS = 4  # provider calls per feedback within one run (transient errors)
RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 60.0
# Across runs: a feedback whose draft still fails transiently waits draft_retry_at (60 s · 2^n,
# capped), and only after MAX_DRAFT_RUNS such runs is its reply stored `failed`.
MAX_DRAFT_RUNS = 5
DRAFT_RETRY_BASE_SECONDS = 60.0
DRAFT_RETRY_CAP_SECONDS = 3600.0
DRY_RUN_MAX_IDS = 1000  # a dry run lists at most this many feedback ids (the count is exact)


@dataclass
class GenerationReport:
    """What one generator run did (kept in the run record)."""

    by_status: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    retries: int = 0
    deferred: int = 0  # feedback whose draft failed transiently: retried by a later run
    lost_races: int = 0
    out_of_budget: bool = False
    provider_down: bool = False  # a draft failed on transient errors: the run stopped there

    @property
    def stored(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Attempted:
    """A provider outcome: a checked draft, or the error to keep on a `failed` reply."""

    draft: Draft | None = None
    error: str | None = None
    transient: bool = False


class _OutOfBudget(Exception):
    """The run's time budget (or shutdown) ended a wait: the feedback waits for the next run."""


def reply_provider(ctx: Container) -> ReplyProvider:
    return ctx.extras.get(PROVIDER_KEY) or build_reply_provider(ctx.settings)


def generate_replies(
    ctx: Container,
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    max_seconds: float | None = None,
    max_items: int | None = None,
) -> GenerationReport:
    """Draft every waiting feedback, oldest first, paced by MAX_AI_GENERATIONS_PER_MINUTE,
    until the backlog is empty or the run's time budget is spent.

    Raises ProviderConfigError at the first refused key, credentials or model: nothing is
    stored for that feedback, and the backlog waits for the fix."""
    report = GenerationReport()
    if not ctx.settings.auto_generate_ai_responses:
        return report
    budget = run_budget(ctx.settings.scheduler_ai_interval_minutes, max_seconds)
    run, provider, after_id = RunClock(ctx, now, budget=budget), reply_provider(ctx), 0
    left, permits = max_items, ai_permits(ctx, run)
    since = reply_horizon(ctx.settings, now)
    try:
        while batch := ctx.replies.candidates(
            now=run.now(), after_id=after_id, limit=batch_size, created_since=since
        ):
            batch = batch if left is None else batch[:left]
            done = draft_batch(ctx, run, provider, batch, report, permits)
            if left is not None:
                left -= len(batch)
            if not done or left == 0:
                return report
            after_id = batch[-1]["feedback_id"]
        return report
    finally:
        permits.release_all()


def ai_permits(ctx: Container, run: RunClock) -> PermitStock:
    """The run's MAX_AI_GENERATIONS_PER_MINUTE permits, taken a few at a time (a take per
    draft was most of a fast provider's drafting time)."""
    return PermitStock(run, name=AI_LIMIT, limit=ctx.settings.max_ai_generations_per_minute)


def draft_batch(
    ctx: Container,
    run: RunClock,
    provider: ReplyProvider,
    batch: Sequence[Mapping[str, Any]],
    report: GenerationReport,
    permits: PermitStock | None = None,
) -> bool:
    """Draft a batch of candidates, then store the drafts together (one transaction, multi-row
    writes: a write per draft cost a commit each); False when the run must stop (as draft_one).
    Drafts made before a stop, or before a refused key raises, are stored all the same."""
    drafted: list[tuple[Mapping[str, Any], Attempted]] = []
    try:
        for row in batch:
            outcome = attempt_draft(ctx, run, provider, request_for(row), report, permits)
            if outcome is None:
                report.out_of_budget = True
                return False
            if outcome.transient:  # the provider is down: this feedback waits, the run stops
                store_replies(ctx, drafted, now=run.now(), provider=provider, report=report)
                drafted = []
                defer_or_fail(ctx, row, outcome, now=run.now(), provider=provider, report=report)
                report.provider_down = True
                return False
            drafted.append((row, outcome))
    finally:
        store_replies(ctx, drafted, now=run.now(), provider=provider, report=report)
    return True


def reply_horizon(settings: Settings, now: datetime) -> datetime:
    """The oldest feedback a run at `now` drafts for (AUTO_REPLY_MAX_AGE_HOURS): imported
    history gets no reply."""
    return now - timedelta(hours=settings.auto_reply_max_age_hours)


def draft_these(
    ctx: Container, feedback_ids: Sequence[int], *, now: datetime, max_seconds: float
) -> GenerationReport:
    """A fleet batch: draft these feedback (held for it by the tick) unless answered meanwhile,
    paced by the shared limit; stops as a run does (budget, provider down or refused)."""
    report = GenerationReport()
    run = RunClock(ctx, now, budget=timedelta(seconds=max_seconds))
    provider = reply_provider(ctx)
    for feedback_id in feedback_ids:
        row = ctx.replies.draft_source(int(feedback_id))
        if row is None or ctx.replies.for_feedback(int(feedback_id)) is not None:
            continue
        if not draft_one(ctx, run, provider, row, report):
            break
    return report


def draft_one(
    ctx: Container,
    run: RunClock,
    provider: ReplyProvider,
    row: Mapping[str, Any],
    report: GenerationReport,
) -> bool:
    """Draft and store one feedback's reply; False when the run must stop here (budget spent:
    the feedback waits; provider down: it is deferred)."""
    outcome = attempt_draft(ctx, run, provider, request_for(row), report)
    if outcome is None:
        report.out_of_budget = True
        return False
    if outcome.transient:  # the provider is down: this feedback waits, the run stops
        defer_or_fail(ctx, row, outcome, now=run.now(), provider=provider, report=report)
        report.provider_down = True
        return False
    store_reply(ctx, row, outcome, now=run.now(), provider=provider, report=report)
    return True


def preview_drafts(
    ctx: Container, *, now: datetime, batch_size: int = BATCH_SIZE
) -> dict[str, Any]:
    """What a run at `now` would draft (count, ids, per venue); calls no provider, writes
    nothing."""
    ids: list[int] = []
    by_venue: dict[str, int] = {}
    count, after_id = 0, 0
    enabled = ctx.settings.auto_generate_ai_responses
    while enabled and (
        batch := ctx.replies.candidates(
            now=now,
            after_id=after_id,
            limit=batch_size,
            created_since=reply_horizon(ctx.settings, now),
        )
    ):
        for row in batch:
            count += 1
            by_venue[row["venue_id"]] = by_venue.get(row["venue_id"], 0) + 1
            if len(ids) < DRY_RUN_MAX_IDS:
                ids.append(int(row["feedback_id"]))
        after_id = batch[-1]["feedback_id"]
    return {"would_draft": count, "feedback_ids": ids, "by_venue": by_venue}


def request_for(row: Mapping[str, Any]) -> ReplyRequest:
    """What the provider sees: the comment as data, the customer's first name only, and the
    venue's voice (tone, signature, banned phrases) normalised."""
    return ReplyRequest(
        venue_name=row["venue_name"],
        brand_voice=row["brand_voice"],
        customer_first_name=first_name_from(row["customer_name"]),
        rating=int(row["rating"]),
        comment=row["comment"],
        alert_level=row["alert_level"],
        **voice_fields(row),
    )


def attempt_draft(
    ctx: Container,
    run: RunClock,
    provider: ReplyProvider,
    request: ReplyRequest,
    report: GenerationReport,
    permits: PermitStock | None = None,
) -> Attempted | None:
    """A checked draft or the final error; None when the run's budget ends first (the feedback
    then waits for the next run). Transient errors retry with exponential backoff and jitter;
    ProviderConfigError propagates (the caller stops and stores nothing)."""

    def call() -> Draft:
        stock = permits or ai_permits(ctx, run)  # alone: a stock of one permit
        permit = stock.take()
        if permit is None:
            raise _OutOfBudget
        stock.finish(permit, used=True)  # counted at its take
        return check_draft(provider.draft(request))

    try:
        return Attempted(draft=_retrying(run, report)(call))
    except _OutOfBudget:
        return None
    except TransientProviderError as exc:
        error = f"{exc.reason} (gave up after {MAX_ATTEMPTS} attempts)"
        return Attempted(error=error, transient=True)
    except ProviderConfigError:
        raise
    except ProviderError as exc:
        return Attempted(error=exc.reason)
    except Exception as exc:  # a provider bug must not stop the whole run
        log.exception("reply provider crashed")
        return Attempted(error=f"{type(exc).__name__}: {exc}")


def _retrying(run: RunClock, report: GenerationReport) -> Retrying:
    """The in-run retry policy: MAX_ATTEMPTS calls on transient errors, paced by the run."""

    def pause(seconds: float) -> None:
        if not run.pause(seconds):
            raise _OutOfBudget

    def before_sleep(state: RetryCallState) -> None:
        report.retries += 1
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "draft attempt %s failed, retrying in %.1fs: %s",
            state.attempt_number,
            delay,
            state.outcome.exception() if state.outcome else None,
        )

    return Retrying(
        retry=retry_if_exception_type(TransientProviderError),
        stop=stop_after_attempt(MAX_ATTEMPTS),
        wait=_retry_wait,
        sleep=pause,
        before_sleep=before_sleep,
        reraise=True,
    )


def _retry_wait(state: RetryCallState) -> float:
    """2 s · 2^(n-1) capped at 60 s, less up to 20 % jitter, never sooner than Retry-After."""
    exc = state.outcome.exception() if state.outcome else None
    return backoff_seconds(
        state.attempt_number,
        base=RETRY_BASE_SECONDS,
        cap=RETRY_CAP_SECONDS,
        jitter=random.random(),
        retry_after=getattr(exc, "retry_after", None),
    )


def draft_retry_delay(runs: int) -> timedelta:
    """How long a feedback waits after its `runs`-th run failed transiently (60 s · 2^(n-1),
    capped at an hour, less up to 20 % jitter so a backlog does not retry in lockstep)."""
    seconds = backoff_seconds(
        runs, base=DRAFT_RETRY_BASE_SECONDS, cap=DRAFT_RETRY_CAP_SECONDS, jitter=random.random()
    )
    return timedelta(seconds=seconds)


def defer_or_fail(
    ctx: Container,
    row: Mapping[str, Any],
    outcome: Attempted,
    *,
    now: datetime,
    provider: ReplyProvider,
    report: GenerationReport,
) -> None:
    """A transient failure: the feedback waits for a later run, or after MAX_DRAFT_RUNS runs its
    reply is stored `failed` with the error."""
    runs = int(row.get("draft_attempts") or 0) + 1
    error = outcome.error or "transient provider error"
    if runs < MAX_DRAFT_RUNS:
        retry_at = now + draft_retry_delay(runs)
        ctx.feedback.defer_draft(int(row["feedback_id"]), retry_at=retry_at, error=error)
        report.deferred += 1
        log.warning("draft deferred feedback_id=%s run=%s: %s", row["feedback_id"], runs, error)
        return
    ctx.feedback.defer_draft(int(row["feedback_id"]), retry_at=None, error=error)
    final = Attempted(error=f"{error}; failed in {runs} runs")
    store_reply(ctx, row, final, now=now, provider=provider, report=report)


def route_draft(
    *,
    settings: Settings,
    venue: Mapping[str, Any],
    body: str,
    alert_level: str | None,
    subject: str = "",
) -> tuple[ReplyStatus, str | None]:
    """SPEC §4: (status, why it waits for approval). Compensation offers, critical alerts and
    the venue's banned phrases (in the subject or the body, whichever provider wrote it) always
    wait; else the venue's require_approval, then auto-send, else `generated`.

    The venue's own signature is left out of the banned-phrase check (it is the venue's words,
    and would otherwise hold every draft). A manager approving with an edited body is not
    re-checked either (approval_service.approve): those are the manager's own words, sent on
    the manager's decision."""
    voice = voice_fields(venue)
    text = f"{subject}\n\n{unsigned(body, voice['signature'])}"
    reasons = needs_approval(text, alert_level, banned_phrases=voice["banned_phrases"])
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
    store_replies(ctx, [(row, outcome)], now=now, provider=provider, report=report)


def store_replies(
    ctx: Container,
    drafted: Sequence[tuple[Mapping[str, Any], Attempted]],
    *,
    now: datetime,
    provider: ReplyProvider,
    report: GenerationReport,
) -> None:
    """Save these replies (and their queue items) in one store call; count what happened."""
    if not drafted:
        return
    rows = [_routed(ctx, row, outcome, now=now, provider=provider) for row, outcome in drafted]
    saved = ctx.replies.save_many(rows)
    for (reply, queue_item), stored in zip(rows, saved, strict=True):
        if not stored:
            report.lost_races += 1
            continue
        report.by_status[reply["status"]] = report.by_status.get(reply["status"], 0) + 1
        report.queued += queue_item is not None and queue_item["status"] == email_service.PENDING


def _routed(
    ctx: Container,
    row: Mapping[str, Any],
    outcome: Attempted,
    *,
    now: datetime,
    provider: ReplyProvider,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The reply row routed per SPEC §4, and its queue item when it is auto-sent."""
    reply = _reply_row(row, outcome, now=now, provider=provider)
    queue_item = None
    if outcome.draft is not None:
        draft, level = outcome.draft, row["alert_level"]
        status, hold = route_draft(
            settings=ctx.settings,
            venue=row,
            body=draft.body,
            alert_level=level,
            subject=draft.subject,
        )
        reply.update(status=status.value, hold_reason=hold)
        if status == ReplyStatus.AUTO_APPROVED:
            delay = timedelta(minutes=int(row["auto_send_delay_minutes"]))
            queue_item = email_service.new_queue_item(
                ctx.settings, reply=reply, customer=row, send_at=now + delay, now=now
            )
            if queue_item["status"] == email_service.CANCELLED:
                reply["status"] = ReplyStatus.CANCELLED.value
                reply["error"] = queue_item["error"]
    return reply, queue_item


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
