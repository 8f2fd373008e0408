"""Signed webhook delivery of alerts, retried with exponential backoff, every attempt logged.

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

from encore_backend.domain.enums import DeliveryStatus

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.notify.webhook")

EVENT = "alert.created"
MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 30.0
MAX_DELAY_SECONDS = 3600.0
TIMEOUT_SECONDS = 5.0
CLAIM_LEASE = timedelta(seconds=120)  # longer than one POST can take
RUN_BUDGET_SECONDS = 60.0  # a run stops starting new deliveries after this
HTTP_CLIENT_KEY = "http_client"  # ctx.extras key: an injected httpx.Client


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0  # failed attempts this run (retried later unless given up)
    given_up: int = 0


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
    """Delay before the next try after `attempts` failures: 30 s · 2^(n-1), capped at 1 h,
    scaled down by up to 20 % (`jitter` in [0, 1)) so retries of many deliveries spread out."""
    delay = min(BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0), MAX_DELAY_SECONDS)
    return delay * (1 - 0.2 * jitter)


def headers(delivery_id: str, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "encore-webhooks/1",
        "X-Encore-Event": EVENT,
        "X-Encore-Delivery": delivery_id,
        "X-Encore-Timestamp": str(int(now.timestamp())),
        "X-Encore-Signature": sign(secret, body),
    }


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
    started = time.monotonic()
    try:
        for delivery in due:
            if time.monotonic() - started > RUN_BUDGET_SECONDS:
                break
            if ctx.webhooks.claim(delivery["delivery_id"], now=now, lease_until=now + CLAIM_LEASE):
                attempt(ctx, client, delivery, now=now, stats=stats)
    finally:
        if injected is None:
            client.close()
    return stats


def attempt(
    ctx: Container,
    client: httpx.Client,
    delivery: Mapping[str, Any],
    *,
    now: datetime,
    stats: DeliveryStats,
) -> None:
    """POST one delivery and record the outcome."""
    body = delivery["payload"].encode()
    hdrs = headers(delivery["delivery_id"], body, delivery["webhook_secret"], now)
    status_code, error = None, None
    started = time.monotonic()
    try:
        response = client.post(delivery["url"], content=body, headers=hdrs)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:200]}"
    except Exception as exc:  # any transport or URL problem is a failed attempt, not a crash
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    _record(ctx, delivery, now=now, code=status_code, error=error, ms=duration_ms, stats=stats)


def _record(
    ctx: Container,
    delivery: Mapping[str, Any],
    *,
    now: datetime,
    code: int | None,
    error: str | None,
    ms: int,
    stats: DeliveryStats,
) -> None:
    attempts = int(delivery["attempts"]) + 1
    status, retry_at = next_state(attempts, error=error, now=now, jitter=random.random())
    stats.delivered += status == DeliveryStatus.DELIVERED
    stats.failed += error is not None
    stats.given_up += status == DeliveryStatus.FAILED
    if error is not None:
        log.warning(
            "webhook attempt %s failed delivery_id=%s: %s", attempts, delivery["delivery_id"], error
        )
    ctx.webhooks.record_attempt(
        delivery["delivery_id"],
        now=now,
        status=status,
        status_code=code,
        error=error,
        duration_ms=ms,
        next_attempt_at=retry_at,
    )


def next_state(
    attempts: int, *, error: str | None, now: datetime, jitter: float
) -> tuple[DeliveryStatus, datetime | None]:
    """After attempt number `attempts`: delivered, failed for good, or pending until a retry."""
    if error is None:
        return DeliveryStatus.DELIVERED, None
    if attempts >= MAX_ATTEMPTS:
        return DeliveryStatus.FAILED, None
    return DeliveryStatus.PENDING, now + timedelta(seconds=backoff_seconds(attempts, jitter=jitter))
