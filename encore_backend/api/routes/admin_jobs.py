"""Admin jobs API: list, run now, pause, resume, run history (SPEC §8)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from encore_backend.api import cursor as cursors
from encore_backend.api.deps import Admin, Ctx
from encore_backend.api.params import Cursor
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.registry import DryRunUnsupported, UnknownJob, get_spec
from encore_backend.scheduler.runner import JobBusy, run_job, run_record
from encore_backend.scheduler.scheduler import EngineScheduler

router = APIRouter(prefix="/api/admin/jobs", tags=["admin jobs"])


def scheduler_of(request: Request) -> EngineScheduler:
    """This process's scheduler, or a stopped one whose controls act on the shared job store."""
    running = request.app.state.scheduler
    return running if running is not None else EngineScheduler(request.app.state.ctx)


def _known(ctx: Ctx, job_id: str) -> None:
    try:
        get_spec(ctx, job_id)
    except UnknownJob:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown job id: {job_id}") from None


@router.get("")
def list_jobs(ctx: Ctx, _: Admin, request: Request) -> dict[str, Any]:
    """Every job with its trigger, next run time, pause state and newest run."""
    scheduler = scheduler_of(request)
    return {
        "scheduler": {"running": scheduler.running, "executor": ctx.settings.encore_executor},
        "jobs": scheduler.jobs(),
    }


@router.post("/{job_id}/run")
def run_now(
    ctx: Ctx, _: Admin, job_id: str, dry_run: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    """Run the job now, in this request, and return the finished run record."""
    _known(ctx, job_id)
    params = {"dry_run": True} if dry_run else None
    try:
        record = run_job(ctx, job_id, trigger=RunTrigger.MANUAL, params=params)
    except JobBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except DryRunUnsupported as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    assert record is not None  # a manual run has a unique tick key: it cannot lose a claim
    return run_record(record)


@router.post("/{job_id}/pause")
def pause(ctx: Ctx, _: Admin, job_id: str, request: Request) -> dict[str, Any]:
    """Pause in the job store: every process and every restart sees it."""
    _known(ctx, job_id)
    return scheduler_of(request).pause(job_id)


@router.post("/{job_id}/resume")
def resume(ctx: Ctx, _: Admin, job_id: str, request: Request) -> dict[str, Any]:
    _known(ctx, job_id)
    return scheduler_of(request).resume(job_id)


@router.get("/{job_id}/runs")
def runs(
    ctx: Ctx,
    _: Admin,
    job_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The job's run history, newest first; page with ?cursor= (the last page's next_cursor)."""
    _known(ctx, job_id)
    after = cursors.after(cursor, cursors.RUNS)
    rows = ctx.job_runs.list_runs(job_id=job_id, limit=limit + 1, after=after)
    records, next_cursor = cursors.page([run_record(row) for row in rows], limit, cursors.RUNS)
    return {"runs": records, "next_cursor": next_cursor}
