"""Email use cases: queue a reply for sending, and send what is due — claimed, paced by the
shared rate limit, retried with backoff on transient failures, never sent twice.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from encore_backend.config import Settings
from encore_backend.domain.enums import EmailKind, QueueStatus
from encore_backend.providers.email import (
    EmailSender,
    build_email_sender,
    build_reply_message,
    make_unsubscribe_token,
    unsubscribe_url,
)
from encore_backend.providers.email.base import sender_domain
from encore_backend.providers.errors import ProviderError, TransientProviderError
from encore_backend.services.manager_mail import manager_message
from encore_backend.services.pacing import RunClock, backoff_seconds, run_budget, wait_for_permit

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.email")

EMAIL_LIMIT = "emails"
SENDER_KEY = "email_sender"  # ctx.extras key: an injected EmailSender (tests)
PENDING, CANCELLED, REPLY = QueueStatus.PENDING, QueueStatus.CANCELLED, EmailKind.REPLY
SEND_LEASE = timedelta(minutes=5)  # far longer than one send (SMTP timeout 30 s)
RETRY_BASE_SECONDS = 60.0
RETRY_CAP_SECONDS = 3600.0
# Without ENCORE_UNSUBSCRIBE_SECRET or ENCORE_ADMIN_TOKEN (a dev set-up), links use this key.
DEV_UNSUBSCRIBE_SECRET = "encore-dev-unsubscribe-secret"


@dataclass
class SendReport:
    """What one sender run did (kept in the run record)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    expired: list[str] = field(default_factory=list)
    out_of_budget: bool = False


def unsubscribe_secret(settings: Settings) -> str:
    """The key of unsubscribe links (the /unsubscribe page verifies with the same one)."""
    return (
        settings.encore_unsubscribe_secret or settings.encore_admin_token or DEV_UNSUBSCRIBE_SECRET
    )


def email_sender(ctx: Container) -> EmailSender:
    return ctx.extras.get(SENDER_KEY) or build_email_sender(ctx.settings)


def new_queue_item(
    settings: Settings,
    *,
    reply: Mapping[str, Any],
    customer: Mapping[str, Any],
    send_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The queue row for a reply: `pending`, or `cancelled` with the reason when the customer
    cannot be written to. The Message-ID is fixed here, so every attempt carries the same one."""
    queue_id = str(uuid.uuid4())
    reason = cancel_reason(customer)
    return {
        "queue_id": queue_id,
        "kind": REPLY,
        "feedback_id": reply["feedback_id"],
        "response_id": reply["response_id"],
        "venue_id": reply["venue_id"],
        "customer_email": customer.get("customer_email"),
        "scheduled_send_time": send_at,
        "status": CANCELLED if reason else PENDING,
        "error": reason,
        "created_at": now,
        "attempts": 0,
        "message_id": f"<{queue_id}@{sender_domain(settings.email_from)}>",
    }


def cancel_reason(customer: Mapping[str, Any]) -> str | None:
    """Why this recipient must get no email, if so (managers never unsubscribe)."""
    if customer.get("kind", REPLY) != REPLY:
        return None if customer.get("customer_email") else "no recipient address"
    if customer.get("customer_id") is None or not customer.get("customer_email"):
        return "customer has no email address"
    if customer.get("unsubscribed_at") is not None:
        return "customer unsubscribed"
    return None


def send_due(
    ctx: Container,
    *,
    now: datetime,
    max_seconds: float | None = None,
    lease: timedelta = SEND_LEASE,
) -> SendReport:
    """Expire dead workers' claims, then send due items one by one, paced by
    MAX_EMAILS_PER_MINUTE, until none is due or the run's time budget is spent."""
    report = SendReport(expired=ctx.email_queue.expire_leases(now=now))
    budget = run_budget(ctx.settings.scheduler_email_interval_minutes, max_seconds)
    run, sender, limit = RunClock(ctx, now, budget=budget), None, ctx.settings.max_emails_per_minute
    while ctx.email_queue.has_due(now=run.now()):
        permit = wait_for_permit(run, name=EMAIL_LIMIT, limit=limit)
        if permit is None:
            report.out_of_budget = True
            break
        current, claim = run.now(), new_claim()
        item = ctx.email_queue.claim_next(now=current, claim=claim, lease_until=current + lease)
        if item is not None:
            sender = sender or email_sender(ctx)
            if send_one(ctx, sender, item, claim=claim, now=current, report=report):
                continue
        ctx.rate_limits.release(permit)  # nothing went out under this permit
    return report


def new_claim() -> str:
    """host:pid:random — names the worker in the row and makes each claim unique."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def send_one(
    ctx: Container,
    sender: EmailSender,
    item: Mapping[str, Any],
    *,
    claim: str,
    now: datetime,
    report: SendReport,
) -> bool:
    """Send one claimed item and record the outcome; False when it was cancelled unsent."""
    queue = ctx.email_queue
    reason = cancel_reason(item)
    if reason:
        queue.mark_cancelled(item, claim=claim, now=now, reason=reason)
        report.cancelled += 1
        return False
    try:
        result = sender.send(message_for(ctx.settings, item, now=now))
    except TransientProviderError as exc:
        _retry_or_fail(ctx, item, exc, claim=claim, now=now, backend=sender.backend, report=report)
    except Exception as exc:  # permanent, or unknown: never risk a second copy
        error = exc.reason if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
        log.warning("email %s failed: %s", item["queue_id"], error)
        queue.mark_failed(item, claim=claim, now=now, error=error, backend=sender.backend)
        report.failed += 1
    else:
        queue.mark_sent(
            item,
            claim=claim,
            now=now,
            backend=result.backend,
            provider_message_id=result.provider_message_id,
        )
        report.sent += 1
    return True


def _retry_or_fail(
    ctx: Container,
    item: Mapping[str, Any],
    exc: TransientProviderError,
    *,
    claim: str,
    now: datetime,
    backend: str,
    report: SendReport,
) -> None:
    """Back to pending with a backoff, or `failed` after EMAIL_MAX_ATTEMPTS."""
    attempts = int(item["attempts"]) + 1
    if attempts >= ctx.settings.email_max_attempts:
        error = f"{exc.reason} (gave up after {attempts} attempts)"
        ctx.email_queue.mark_failed(item, claim=claim, now=now, error=error, backend=backend)
        report.failed += 1
        return
    delay = backoff_seconds(
        attempts,
        base=RETRY_BASE_SECONDS,
        cap=RETRY_CAP_SECONDS,
        jitter=random.random(),
        retry_after=exc.retry_after,
    )
    retry_at = now + timedelta(seconds=delay)
    log.info("email %s attempt %s failed: %s", item["queue_id"], attempts, exc)
    ctx.email_queue.mark_retry(
        item, claim=claim, now=now, error=exc.reason, next_attempt_at=retry_at, backend=backend
    )
    report.retried += 1


def message_for(settings: Settings, item: Mapping[str, Any], *, now: datetime) -> EmailMessage:
    """The email a claimed item carries: a customer reply, or a report or alert to a manager."""
    if item["kind"] == REPLY:
        return reply_message(settings, item, now=now)
    return manager_message(settings, item, now=now)


def reply_message(settings: Settings, item: Mapping[str, Any], *, now: datetime) -> EmailMessage:
    """The customer's email: the reply, their quoted comment, Reply-To a venue manager and a
    signed one-click unsubscribe link; the queue item's fixed Message-ID."""
    token = make_unsubscribe_token(
        customer_id=item["customer_id"],
        email=item["customer_email"],
        secret=unsubscribe_secret(settings),
    )
    managers = list(item["manager_emails"] or [])
    return build_reply_message(
        subject=item["subject"],
        body=item["body"],
        to=item["customer_email"],
        to_name=item["customer_name"],
        from_addr=settings.email_from,
        venue_name=item["venue_name"],
        unsubscribe_url=unsubscribe_url(settings.encore_public_url, token),
        date=now,
        reply_to=managers[0] if managers else None,
        comment=item["comment"],
        message_id=item["message_id"],
        headers={"X-Encore-Queue-Id": item["queue_id"]},
    )
