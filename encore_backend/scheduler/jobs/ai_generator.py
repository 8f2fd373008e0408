"""Job `ai_generator`: draft replies for new feedback, per venue settings (SPEC §3, §4).

`encore run-job ai_generator --dry-run` passes dry_run=True: the run record then lists the
feedback a run would draft (count, ids, per venue); no provider is called, nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services import reply_service

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One paced generator pass from `now`; params: batch_size, max_seconds, dry_run."""
    batch_size = int(params.get("batch_size", reply_service.BATCH_SIZE))
    if params.get("dry_run"):
        preview = reply_service.preview_drafts(ctx, now=now, batch_size=batch_size)
        return JobResult(
            items_processed=preview["would_draft"], details={"dry_run": True, **preview}
        )
    report = reply_service.generate_replies(
        ctx, now=now, batch_size=batch_size, max_seconds=params.get("max_seconds")
    )
    return JobResult(
        items_processed=report.stored,
        details={
            **report.by_status,
            "queued": report.queued,
            "retries": report.retries,
            "deferred": report.deferred,
            "lost_races": report.lost_races,
            "out_of_budget": report.out_of_budget,
            "provider_down": report.provider_down,
        },
    )
