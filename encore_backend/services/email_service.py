"""Email use cases: queue a reply for sending, and send what is due — claimed, paced by the
shared rate limit, retried with backoff on transient failures, never sent twice.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from encore_backend.clock import iso_z
from encore_backend.config import Settings
from encore_backend.domain.enums import EmailKind, QueueStatus
from encore_backend.providers.email import (
    EmailSender,
    build_email_sender,
    build_reply_message,
    make_unsubscribe_token,
    unsubscribe_url,
)
from encore_backend.providers.email.base import SendResult, SendSession, sender_domain
from encore_backend.providers.errors import (
    OutcomeUnknownError,
    ProviderConfigError,
    ProviderError,
    TransientProviderError,
)
from encore_backend.services.manager_mail import (  # noqa: F401 (re-exported)
    DEV_UNSUBSCRIBE_SECRET,
    manager_message,
    unsubscribe_secret,
)
from encore_backend.services.pacing import PermitStock, RunClock, backoff_seconds, run_budget

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.email")

EMAIL_LIMIT = "emails"
SENDER_KEY = "email_sender"  # ctx.extras key: an injected EmailSender (tests)
PENDING, CANCELLED, REPLY = QueueStatus.PENDING, QueueStatus.CANCELLED, EmailKind.REPLY
SEND_LEASE = timedelta(minutes=5)  # far longer than one send (SMTP timeout 30 s)
RETRY_BASE_SECONDS = 60.0
RETRY_CAP_SECONDS = 3600.0
# Within one claim: tries of a transient failure before the hand-over, waits between them.
SEND_TRIES = 3
TRY_BASE_SECONDS = 1.0
TRY_MAX_WAIT_SECONDS = 8.0  # a provider asking for longer is left to a later run
PREVIEW_LIMIT = 100  # due items a dry run lists (the count covers them all)


@dataclass
class SendReport:
    """What one sender run did (kept in the run record)."""

    sent: int = 0
    retried: int = 0  # failed tries followed by another (in this claim or a later run)
    failed: int = 0  # parked `failed`, outcome_unknown included
    outcome_unknown: int = 0  # handed over without an answer (leases expired: `expired`)
    cancelled: int = 0
    expired: list[str] = field(default_factory=list)
    out_of_budget: bool = False

    def add(self, other: SendReport) -> None:
        """Fold one sender's report into the run's."""
        for name in ("sent", "retried", "failed", "outcome_unknown", "cancelled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.expired += other.expired
        self.out_of_budget = self.out_of_budget or other.out_of_budget


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
    max_items: int | None = None,
    patience: float | None = None,
    concurrency: int | None = None,
) -> SendReport:
    """Expire dead workers' claims, then send due items, paced by MAX_EMAILS_PER_MINUTE, until
    none is due or the run's time budget is spent. EMAIL_SEND_CONCURRENCY senders (or
    `concurrency`) work side by side, each on its own provider session (one SMTP connection),
    each item claimed and recorded on its own. A provider configuration error stops the run
    at once, the item given back untouched (then raised).

    A fleet batch passes `max_items` (claims at most that many); the fleet's tick passes
    `patience` 0 too (it sends one item if a permit is free, and never waits for one)."""
    report = SendReport(expired=ctx.email_queue.expire_leases(now=now))
    budget = run_budget(ctx.settings.scheduler_email_interval_minutes, max_seconds)
    run = RunClock(ctx, now, budget=budget)
    shared = SendRun(ctx, run, lease=lease, max_items=max_items, patience=patience)
    workers = concurrency or ctx.settings.email_send_concurrency
    try:
        parts = run_senders(shared, max(min(workers, max_items or workers), 1))
    finally:
        shared.permits.release_all()
    for part in parts:
        report.add(part)
    return report


def run_senders(shared: SendRun, workers: int) -> list[SendReport]:
    """`workers` senders side by side (the lead first); the first error raised after all end."""
    if workers == 1:
        return [shared.work(lead=True)]
    with ThreadPoolExecutor(workers, thread_name_prefix="encore-send") as pool:
        futures = [pool.submit(shared.work, lead=k == 0) for k in range(workers)]
    errors = [error for f in futures if (error := f.exception()) is not None]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


class SendRun:
    """What the senders of one run share: the run's clock, the item quota, the stop flag."""

    def __init__(
        self,
        ctx: Container,
        run: RunClock,
        *,
        lease: timedelta,
        max_items: int | None,
        patience: float | None,
    ) -> None:
        self.ctx, self.run, self.lease = ctx, run, lease
        limit = ctx.settings.max_emails_per_minute
        self.permits = PermitStock(run, name=EMAIL_LIMIT, limit=limit, patience=patience)
        self.left = max_items
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.opened = threading.Event()  # the lead has tried its first item (or ended)
        self._sender: EmailSender | None = None

    def sender(self) -> EmailSender:
        """The run's sender, built when the first item is due (its sessions are per worker)."""
        with self.lock:
            if self._sender is None:
                self._sender = email_sender(self.ctx)
            return self._sender

    def may_claim(self) -> bool:
        """One more claim within max_items, unless the run is stopping."""
        with self.lock:
            if self.stop.is_set() or self.left == 0:
                return False
            if self.left is not None:
                self.left -= 1
            return True

    def work(self, *, lead: bool) -> SendReport:
        """One sender: a session on the provider, permits taken a few at a time, items
        claimed one by one until none is due; its own report. The others start once the lead
        has tried its first item: a refused configuration stops the run at that one item."""
        report = SendReport()
        if not lead:
            self.opened.wait()
            if self.stop.is_set():
                return report
        try:
            with LazySession(self.sender) as session:
                self._loop(session, self.permits, report)
        except BaseException:
            self.stop.set()  # a refused configuration (or a crash): the others stop too
            raise
        finally:
            self.opened.set()
        return report

    def _loop(self, session: LazySession, stock: PermitStock, report: SendReport) -> None:
        while self.may_claim():
            permit = stock.take()
            if permit is None:
                report.out_of_budget = True
                return
            outcome: bool | None = None
            try:
                outcome = claim_and_send(
                    self.ctx, session, run=self.run, lease=self.lease, report=report
                )
            finally:  # unused unless the item went out (a refused configuration: nothing did)
                stock.finish(permit, used=outcome is True)
            self.opened.set()
            if outcome is None:
                self.stop.set()  # nothing is due now: the other senders end too
                return


class LazySession:
    """A sender session opened at the first send: a worker that finds nothing due builds no
    provider client and opens no connection."""

    def __init__(self, sender: Callable[[], EmailSender]) -> None:
        self.make_sender = sender
        self.stack = ExitStack()
        self.session: SendSession | None = None
        self.name = ""

    def __enter__(self) -> LazySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def send(self, message: EmailMessage) -> SendResult:
        if self.session is None:
            sender = self.make_sender()
            self.session, self.name = self.stack.enter_context(sender.session()), sender.backend
        return self.session.send(message)

    @property
    def backend(self) -> str:
        """The backend the history records (the sender is built if it was not yet)."""
        return self.name or self.make_sender().backend


class Session(Protocol):
    """What sends one item: a sender, or a worker's (lazy) session on one."""

    @property
    def backend(self) -> str: ...

    def send(self, message: EmailMessage) -> SendResult: ...


def claim_and_send(
    ctx: Container, sender: Session, *, run: RunClock, lease: timedelta, report: SendReport
) -> bool | None:
    """Claim one due item and send it: True when it went out (or was tried), False when it
    was cancelled unsent, None when none was due. On ProviderConfigError the item goes back
    to `pending` as it was before the claim."""
    current, claim = run.now(), new_claim()
    item = ctx.email_queue.claim_next(now=current, claim=claim, lease_until=current + lease)
    if item is None:
        return None
    try:
        return send_one(ctx, sender, item, claim=claim, run=run, report=report)
    except ProviderConfigError as exc:
        log.error("email provider refused the configuration, run stopped: %s", exc)
        ctx.email_queue.release(item, claim=claim)
        raise


def new_claim() -> str:
    """host:pid:random — names the worker in the row and makes each claim unique."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def send_one(
    ctx: Container,
    sender: Session,
    item: Mapping[str, Any],
    *,
    claim: str,
    run: RunClock,
    report: SendReport,
) -> bool:
    """Send one claimed item and record the outcome; False when it was cancelled unsent."""
    queue = ctx.email_queue
    reason = cancel_reason(item)
    if reason:
        queue.mark_cancelled(item, claim=claim, now=run.now(), reason=reason)
        report.cancelled += 1
        return False
    backend = sender.backend
    try:
        result = deliver(ctx, sender, item, claim=claim, run=run, report=report)
    except ProviderConfigError:
        raise
    except TransientProviderError as exc:
        _retry_or_fail(ctx, item, exc, claim=claim, now=run.now(), backend=backend, report=report)
    except OutcomeUnknownError as exc:
        log.warning("email %s outcome unknown, not resent: %s", item["queue_id"], exc.reason)
        queue.mark_outcome_unknown(
            item, claim=claim, now=run.now(), detail=exc.reason, backend=backend
        )
        report.failed += 1
        report.outcome_unknown += 1
    except Exception as exc:  # permanent, or unknown: never risk a second copy
        error = exc.reason if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
        log.warning("email %s failed: %s", item["queue_id"], error)
        queue.mark_failed(item, claim=claim, now=run.now(), error=error, backend=backend)
        report.failed += 1
    else:
        _record_sent(ctx, item, result, claim=claim, now=run.now())
        report.sent += 1
    return True


def deliver(
    ctx: Container,
    sender: Session,
    item: Mapping[str, Any],
    *,
    claim: str,
    run: RunClock,
    report: SendReport,
) -> SendResult:
    """Hand the item's message to the provider. Transient failures (all before the hand-over)
    are retried within this claim by one tenacity policy, each failed try logged; a wait longer
    than TRY_MAX_WAIT_SECONDS or the run's budget is left to a later run's backoff."""

    def log_try(state: RetryCallState) -> None:
        error = _failure(state)
        report.retried += 1
        log.info("email %s try %s failed: %s", item["queue_id"], state.attempt_number, error)
        ctx.email_queue.note_retry(
            item, claim=claim, now=run.now(), error=error.reason, backend=sender.backend
        )

    def pause(seconds: float) -> None:
        run.pause(seconds)

    message = message_for(ctx.settings, item, now=run.now())
    retrying = Retrying(
        retry=retry_if_exception_type(TransientProviderError),
        stop=stop_after_attempt(SEND_TRIES) | StopBeforeLongWait(run),
        wait=_try_wait,
        sleep=pause,
        before_sleep=log_try,
        reraise=True,
    )
    return retrying(sender.send, message)


class StopBeforeLongWait(stop_base):
    """Stop rather than wait past TRY_MAX_WAIT_SECONDS, the run's budget, or into a shutdown."""

    def __init__(self, run: RunClock) -> None:
        self.run = run

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self.run.stopping.is_set():
            return True
        return _try_wait(retry_state) > min(TRY_MAX_WAIT_SECONDS, self.run.left())


def _failure(state: RetryCallState) -> ProviderError:
    exc = state.outcome.exception() if state.outcome else None
    assert isinstance(exc, ProviderError)
    return exc


def _try_wait(state: RetryCallState) -> float:
    """1 s, 2 s, … between tries of one claim; never sooner than the provider's retry_after."""
    delay = backoff_seconds(
        state.attempt_number, base=TRY_BASE_SECONDS, cap=TRY_MAX_WAIT_SECONDS, jitter=0.0
    )
    return max(delay, _failure(state).retry_after or 0.0)


def _record_sent(
    ctx: Container, item: Mapping[str, Any], result: SendResult, *, claim: str, now: datetime
) -> None:
    ctx.email_queue.mark_sent(
        item,
        claim=claim,
        now=now,
        backend=result.backend,
        provider_message_id=result.provider_message_id,
    )


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
    """Back to pending with a backoff stored on the item (the next run's business), or `failed`
    after EMAIL_MAX_ATTEMPTS claims."""
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


def preview_due(ctx: Container, *, now: datetime, limit: int = PREVIEW_LIMIT) -> dict[str, Any]:
    """What a run at `now` would do, read only: the due items (recipients masked) and the
    claims whose lease has expired (they would be parked "outcome unknown")."""
    count, items = ctx.email_queue.due_items(now=now, limit=limit)
    return {
        "due": count,
        "items": [
            {
                "queue_id": item["queue_id"],
                "kind": item["kind"],
                "to": mask_address(item["customer_email"]),
                "scheduled_send_time": iso_z(item["scheduled_send_time"]),
                "attempts": item["attempts"],
            }
            for item in items
        ],
        "leases_expired": ctx.email_queue.stale_leases(now=now),
    }


def mask_address(address: str | None) -> str | None:
    """ "zoe.martin@example.com" → "z***@example.com": enough to recognise, not to harvest."""
    if not address:
        return address
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}"


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
