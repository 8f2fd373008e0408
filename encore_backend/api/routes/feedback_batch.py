"""Bulk feedback ingestion: POST /api/feedback/batch (SPEC §8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import JSONResponse

from encore_backend.api.deps import Ctx, CurrentPrincipal, Principal
from encore_backend.api.responses import ErrorOut, errors
from encore_backend.api.schemas.feedback_batch import FeedbackBatchIn, FeedbackBatchOut
from encore_backend.services import feedback_batch as batches
from encore_backend.services.feedback_service import detect_alerts_after_ingest

PATH = "/api/feedback/batch"
# A full batch: 1,000 items whose 5,000-character comments are sent as \\uXXXX escapes (6 bytes
# a character) fit, with room for the other fields.
MAX_BODY_BYTES = 32 * 1024 * 1024

router = APIRouter(tags=["feedback"])


@router.post(
    PATH,
    response_model=FeedbackBatchOut,
    responses={
        **errors(401, 400),
        413: {"model": ErrorOut, "description": f"Request body over {MAX_BODY_BYTES} bytes"},
    },
)
def post_feedback_batch(
    body: FeedbackBatchIn, ctx: Ctx, principal: CurrentPrincipal, tasks: BackgroundTasks
) -> Any:
    """Ingest up to 1,000 feedback (admin, ingest, or the venue's manager: a manager's item for
    another venue is refused, the others stored). Alerts are checked right after, in one run."""
    raw_items: list[Any] = body.items
    parsed = [batches.parse_item(item) for item in raw_items]
    results = batches.ingest_batch(ctx, parsed, may_submit=_submit_scope(principal))
    tasks.add_task(detect_alerts_after_ingest, ctx, batches.created_ids(results))
    return JSONResponse(_payload(results), background=tasks)


def _submit_scope(principal: Principal) -> Callable[[str], bool] | None:
    """Managers and venue-bound ingest tokens submit for their own venue only."""
    return (lambda venue_id: venue_id == principal.venue_id) if principal.venue_bound else None


def _payload(results: list[batches.ItemResult]) -> dict[str, Any]:
    counts = {s.value: 0 for s in batches.ItemStatus}
    out = []
    for r in results:
        counts[r.status.value] += 1
        item: dict[str, Any] = {"index": r.index, "status": r.status.value}
        if r.feedback_id is not None:
            item["feedback_id"] = r.feedback_id
        if r.error is not None:
            field = ".".join(p for p in (f"items[{r.index}]", r.error.field) if p)
            item["error"] = {"field": field, "message": r.error.message}
        out.append(item)
    return {"results": out, **counts}
