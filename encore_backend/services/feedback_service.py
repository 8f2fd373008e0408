"""Feedback use cases: idempotent ingestion, reads, and the alert scan right after ingestion."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from encore_backend.bootstrap import Container
from encore_backend.clock import as_utc
from encore_backend.domain.enums import RunTrigger
from encore_backend.services.errors import FieldError

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW = timedelta(minutes=5)
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
    if not ctx.venues.exists(venue_id):
        raise FieldError("venue_id", f"venue {venue_id!r} does not exist")
    created_at = as_utc(created_at) if created_at is not None else now
    if created_at > now + MAX_CLOCK_SKEW:
        raise FieldError("created_at", "may not be more than 5 minutes in the future")
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


def detect_alerts_after_ingest(ctx: Container, feedback_id: int) -> None:
    """Run the alert detector for one new feedback; failures are logged, the scan catches up."""
    try:
        from encore_backend.scheduler.runner import run_job

        run_job(
            ctx, "alert_detector", trigger=RunTrigger.EVENT, params={"feedback_ids": [feedback_id]}
        )
    except Exception:
        log.exception("alert detection after ingesting feedback %s failed", feedback_id)
