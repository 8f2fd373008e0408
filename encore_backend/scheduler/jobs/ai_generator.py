"""Job `ai_generator`: draft replies for new feedback, per venue settings (SPEC §3, §4)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services import reply_service

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One paced generator pass from `now`; params: batch_size, max_seconds."""
    report = reply_service.generate_replies(
        ctx,
        now=now,
        batch_size=int(params.get("batch_size", reply_service.BATCH_SIZE)),
        max_seconds=params.get("max_seconds"),
    )
    return JobResult(
        items_processed=report.stored,
        details={
            **report.by_status,
            "queued": report.queued,
            "retries": report.retries,
            "lost_races": report.lost_races,
            "out_of_budget": report.out_of_budget,
            "provider_down": report.provider_down,
        },
    )
