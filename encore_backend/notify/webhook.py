"""Webhook delivery of alerts and channel messages, retried with backoff, every try logged.

Every outbox row goes this way: the venue's own webhook_url and `webhook` channels get the
signed X-Encore-* headers, Slack and Teams channels a plain JSON POST (notify/channels.py makes
the bodies). After each pass a channel's health is recorded: a channel failing
CHANNEL_MAX_FAILURES passes in a row, or for CHANNEL_MAX_FAILING, is disabled (its pending
deliveries fail) until a successful test message.

A pass (one claim) makes up to TRIES_PER_PASS HTTP tries, retrying a failed connection, a 429 or
a 5xx after a short wait (one tenacity policy); a pass that still fails leaves the delivery
pending until a later run, 30 s · 2^(n-1) later (the database holds that time), and after
MAX_ATTEMPTS passes it is given up.

Delivery is at-least-once: a receiver may see the same X-Encore-Delivery id twice (a process that
died mid-POST is retried after its claim lease) and should treat it as one event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential
from tenacity.stop import stop_base

from encore_backend.domain.enums import DeliveryStatus
from encore_backend.services import pacing
from encore_backend.services.pacing import RunClock

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.notify.webhook")

EVENT = "alert.created"
MAX_ATTEMPTS = 8  # passes
TRIES_PER_PASS = 3
TRY_BASE_SECONDS = 0.5  # waits between tries of one pass: 0.5 s, 1 s
TRY_MAX_WAIT_SECONDS = 2.0
BASE_DELAY_SECONDS = 30.0
MAX_DELAY_SECONDS = 3600.0
TIMEOUT_SECONDS = 5.0
CLAIM_LEASE = timedelta(seconds=120)  # longer than one POST can take
RUN_BUDGET_SECONDS = 60.0  # a run stops starting new deliveries after this
HTTP_CLIENT_KEY = "http_client"  # ctx.extras key: an injected httpx.Client
CHANNEL_MAX_FAILURES = 10  # failed passes in a row that disable a channel
CHANNEL_MAX_FAILING = timedelta(hours=24)  # or failing for this long
USER_AGENT = "encore-webhooks/1"


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0  # failed passes this run (retried later unless given up)
    given_up: int = 0
    retried: int = 0  # failed tries retried within their pass


def event_body(alert: Mapping[str, Any]) -> str:
    """The JSON body `{"event": "alert.created", "alert": {...}}`, stored once, sent as is."""
    return json.dumps({"event": EVENT, "alert": dict(alert)}, separators=(",", ":"))


def sign(secret: str, body: bytes) -> str:
    """The X-Encore-Signature value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret` (for receivers)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header or "")


def backoff_seconds(attempts: int, *, jitter: float) -> float:
    """Delay before the next pass after `attempts` failed passes: 30 s · 2^(n-1), capped at 1 h,
    scaled down by up to 20 % (`jitter` in [0, 1)) so retries of many deliveries spread out."""
    return pacing.backoff_seconds(
        attempts, base=BASE_DELAY_SECONDS, cap=MAX_DELAY_SECONDS, jitter=jitter
    )


def headers(
    delivery_id: str, body: bytes, secret: str, now: datetime, *, event: str = EVENT
) -> dict[str, str]:
    """The signed headers of the venue's webhook and of `webhook` channels."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Encore-Event": event,
        "X-Encore-Delivery": delivery_id,
        "X-Encore-Timestamp": str(int(now.timestamp())),
        "X-Encore-Signature": sign(secret, body),
    }


def headers_for(delivery: Mapping[str, Any], body: bytes, now: datetime) -> dict[str, str]:
    """Signed X-Encore-* headers for the venue's webhook and `webhook` channels; Slack and
    Teams take a plain JSON POST."""
    if delivery.get("channel_type") in (None, "webhook"):
        event = delivery.get("event") or EVENT
        return headers(delivery["delivery_id"], body, delivery["webhook_secret"], now, event=event)
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT}


def deliver_due(
    ctx: Container, *, now: datetime, delivery_ids: Sequence[str] | None = None, limit: int = 50
) -> DeliveryStats:
    """Attempt every due delivery (or only `delivery_ids`), within a time budget."""
    stats = DeliveryStats()
    if delivery_ids is not None and not delivery_ids:
        return stats
    due = ctx.webhooks.due(now=now, limit=limit, delivery_ids=delivery_ids)
    if not due:
        return stats
    injected = ctx.extras.get(HTTP_CLIENT_KEY)
    client = injected or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    run = RunClock(ctx, now, budget=timedelta(seconds=RUN_BUDGET_SECONDS))
    try:
        for delivery in due:
            current = run.now()
            if run.left() <= 0:
                break
            if ctx.webhooks.claim(
                delivery["delivery_id"], now=current, lease_until=current + CLAIM_LEASE
            ):
                attempt(ctx, client, delivery, run=run, stats=stats)
    finally:
        if injected is None:
            client.close()
    return stats


@dataclass(frozen=True)
class Try:
    """One HTTP try: its time, status code (None without a response), error and duration."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    retryable: bool = False


def attempt(
    ctx: Container,
    client: httpx.Client,
    delivery: Mapping[str, Any],
    *,
    run: RunClock,
    stats: DeliveryStats,
) -> None:
    """One pass at a claimed delivery: POST it, retrying a refused or failed connection, a 429
    or a 5xx within the pass (one tenacity policy, every try logged); record the outcome."""
    delivery_id = delivery["delivery_id"]

    def log_try(state: RetryCallState) -> None:
        failed = _try_of(state)
        stats.retried += 1
        log.info(
            "webhook try %s failed delivery_id=%s: %s",
            state.attempt_number,
            delivery_id,
            failed.error,
        )
        ctx.webhooks.log_try(
            delivery_id,
            now=failed.at,
            status_code=failed.status_code,
            error=failed.error,
            duration_ms=failed.duration_ms,
        )

    def pause(seconds: float) -> None:
        run.pause(seconds)

    retrying = Retrying(
        retry=retry_if_result(lambda done: done.retryable),
        stop=stop_after_attempt(TRIES_PER_PASS) | StopWhenOutOfTime(run),
        wait=wait_exponential(multiplier=TRY_BASE_SECONDS, max=TRY_MAX_WAIT_SECONDS),
        sleep=pause,
        before_sleep=log_try,
        retry_error_callback=_try_of,
    )
    last = retrying(post_once, client, delivery, run=run)
    _record(ctx, delivery, last, now=run.now(), stats=stats)


class StopWhenOutOfTime(stop_base):
    """No further try when the run's budget cannot cover the longest wait, or on shutdown."""

    def __init__(self, run: RunClock) -> None:
        self.run = run

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.run.stopping.is_set() or self.run.left() < TRY_MAX_WAIT_SECONDS


def _try_of(state: RetryCallState) -> Try:
    assert state.outcome is not None
    result: Try = state.outcome.result()
    return result


def post_once(client: httpx.Client, delivery: Mapping[str, Any], *, run: RunClock) -> Try:
    """POST the stored body once, signed at the time of this try."""
    return post_at(client, delivery, at=run.now())


def post_at(client: httpx.Client, delivery: Mapping[str, Any], *, at: datetime) -> Try:
    """POST the delivery's body once with the headers of its type (signed at `at`)."""
    started = time.monotonic()
    body = delivery["payload"].encode()
    hdrs = headers_for(delivery, body, at)
    status_code, error, retryable = None, None, False
    try:
        response = client.post(delivery["url"], content=body, headers=hdrs)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:200]}"
            retryable = status_code == 429 or status_code >= 500
    except Exception as exc:  # any transport or URL problem is a failed try, not a crash
        error = f"{type(exc).__name__}: {exc}"[:500]
        retryable = isinstance(exc, httpx.TransportError) and not isinstance(
            exc, httpx.UnsupportedProtocol
        )
    duration_ms = int((time.monotonic() - started) * 1000)
    return Try(at, status_code, error, duration_ms, retryable)


def _record(
    ctx: Container,
    delivery: Mapping[str, Any],
    last: Try,
    *,
    now: datetime,
    stats: DeliveryStats,
) -> None:
    """The pass's outcome: delivered, or its last error and the next pass after a backoff."""
    attempts = int(delivery["attempts"]) + 1
    status, retry_at = next_state(attempts, error=last.error, now=now, jitter=random.random())
    stats.delivered += status == DeliveryStatus.DELIVERED
    stats.failed += last.error is not None
    stats.given_up += status == DeliveryStatus.FAILED
    if last.error is not None:
        log.warning(
            "webhook attempt %s failed delivery_id=%s: %s",
            attempts,
            delivery["delivery_id"],
            last.error,
        )
    ctx.webhooks.record_attempt(
        delivery["delivery_id"],
        now=last.at,
        status=status,
        status_code=last.status_code,
        error=last.error,
        duration_ms=last.duration_ms,
        next_attempt_at=retry_at,
    )
    if delivery.get("channel_id"):
        record_channel(ctx, delivery["channel_id"], last, now=now)


def record_channel(ctx: Container, channel_id: str, last: Try, *, now: datetime) -> None:
    """A pass's outcome on its channel's health: a success resets it, a failure counts, and
    too many disable the channel (its pending deliveries fail with it)."""
    if last.error is None:
        ctx.channels.record_success(channel_id, now=now)
        return
    disabled = ctx.channels.record_failure(
        channel_id,
        now=now,
        error=last.error,
        max_failures=CHANNEL_MAX_FAILURES,
        max_failing=CHANNEL_MAX_FAILING,
    )
    if disabled:
        log.warning("channel %s disabled after repeated failures: %s", channel_id, last.error)


def next_state(
    attempts: int, *, error: str | None, now: datetime, jitter: float
) -> tuple[DeliveryStatus, datetime | None]:
    """After attempt number `attempts`: delivered, failed for good, or pending until a retry."""
    if error is None:
        return DeliveryStatus.DELIVERED, None
    if attempts >= MAX_ATTEMPTS:
        return DeliveryStatus.FAILED, None
    return DeliveryStatus.PENDING, now + timedelta(seconds=backoff_seconds(attempts, jitter=jitter))
