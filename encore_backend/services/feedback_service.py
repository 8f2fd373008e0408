"""Feedback use cases: idempotent ingestion, reads, and the alert scan right after ingestion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread

from encore_backend.bootstrap import Container
from encore_backend.clock import as_utc
from encore_backend.services.alert_signal import run_detector, running_signal
from encore_backend.services.errors import FieldError

MAX_CLOCK_SKEW = timedelta(minutes=5)
KNOWN_VENUES_KEY = "known_venues"  # ctx.extras key: venue ids seen to exist
CUSTOMER_KEYS = ("email", "name", "lifetime_value", "tier")


def ingest_feedback(
    ctx: Container,
    *,
    venue_id: str,
    rating: int,
    comment: str,
    customer: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
    external_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store one feedback (and upsert its customer); (feedback, created). A repeated
    external_id for the venue returns the first feedback with created=False."""
    now = ctx.clock.now()
    if not venue_exists(ctx, venue_id):
        raise unknown_venue(venue_id)
    created_at = creation_time(created_at, now=now)
    given = {k: v for k, v in (customer or {}).items() if k in CUSTOMER_KEYS and v is not None}
    row, created = ctx.feedback.ingest(
        feedback={
            "venue_id": venue_id,
            "rating": rating,
            "comment": comment,
            "created_at": created_at,
            "external_id": external_id,
        },
        customer=given or None,
        now=now,
    )
    return public_feedback(row), created


def unknown_venue(venue_id: str) -> FieldError:
    return FieldError("venue_id", f"venue {venue_id!r} does not exist")


def creation_time(created_at: datetime | None, *, now: datetime) -> datetime:
    """When the feedback was given, in UTC (`now` when not said); FieldError when it is ahead of
    `now` by more than the allowed clock skew."""
    at = as_utc(created_at) if created_at is not None else now
    if at > now + MAX_CLOCK_SKEW:
        raise FieldError("created_at", "may not be more than 5 minutes in the future")
    return at


def venue_exists(ctx: Container, venue_id: str) -> bool:
    """Whether the venue exists; one found is remembered for the process (venues are never
    deleted), which spares each ingested feedback a query."""
    known: set[str] = ctx.extras.setdefault(KNOWN_VENUES_KEY, set())
    if venue_id in known:
        return True
    if not ctx.venues.exists(venue_id):
        return False
    known.add(venue_id)
    return True


def public_feedback(row: Mapping[str, Any]) -> dict[str, Any]:
    """A feedback row as the API shows it, the customer nested."""
    customer = None
    if row["customer_id"] is not None:
        customer = {"customer_id": row["customer_id"], **{k: row[k] for k in CUSTOMER_KEYS}}
    keys = ("feedback_id", "venue_id", "rating", "comment", "status", "created_at")
    return {
        **{k: row[k] for k in keys},
        "ingested_at": row["ingested_at"],
        "external_id": row["external_id"],
        "customer": customer,
        "escalated_at": row.get("escalated_at"),
    }


def get_feedback(ctx: Container, *, feedback_id: int) -> dict[str, Any] | None:
    row = ctx.feedback.get(feedback_id)
    return public_feedback(row) if row else None


def list_feedback(
    ctx: Container,
    *,
    venue_id: str,
    limit: int,
    before_id: int | None = None,
    rating: int | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """One page, newest first, with the id to page on from (None on the last page)."""
    rows = ctx.feedback.list_for_venue(
        venue_id, limit=limit + 1, before_id=before_id, rating=rating, status=status
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_before_id = rows[-1]["feedback_id"] if more else None
    return {"feedback": [public_feedback(r) for r in rows], "next_before_id": next_before_id}


async def detect_alerts_after_ingest(ctx: Container, feedback_ids: Sequence[int]) -> None:
    """A background task after the response: queue the ids for the detector thread and wait
    for their batch without holding a thread (the connection's next request is not held
    either; test clients and Lambda invocations end with the alerts written). Without a
    detector thread the scan runs inline in the thread pool. Failures are logged; the
    scheduled scan catches up."""
    if not feedback_ids:
        return
    detector = running_signal(ctx)
    if detector is None:
        await anyio.to_thread.run_sync(run_detector, ctx, [int(i) for i in feedback_ids])
    else:
        await detector.detect(feedback_ids)
