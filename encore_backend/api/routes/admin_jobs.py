"""Admin jobs API: list, run now, pause, resume, run history (SPEC §8)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from encore_backend.api import cursor as cursors
from encore_backend.api.deps import Admin, Ctx
from encore_backend.api.params import Cursor
from encore_backend.scheduler.control import RunQueued, SchedulerControl, scheduler_control
from encore_backend.scheduler.registry import DryRunUnsupported, UnknownJob, get_spec
from encore_backend.scheduler.runner import JobBusy, run_record

router = APIRouter(prefix="/api/admin/jobs", tags=["admin jobs"])


def scheduler_of(request: Request) -> SchedulerControl:
    """This process's scheduler, or a stopped one whose controls act on the shared job store."""
    running = request.app.state.scheduler
    return running if running is not None else scheduler_control(request.app.state.ctx)


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


@router.post("/{job_id}/run", responses={202: {"description": "queued on the fleet"}})
def run_now(
    ctx: Ctx,
    _: Admin,
    job_id: str,
    request: Request,
    response: Response,
    dry_run: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    """Run the job now and return the finished run record (in this request; on the Celery
    fleet, on a worker: 202 with the task id if it has not finished within a minute)."""
    _known(ctx, job_id)
    try:
        return scheduler_of(request).run_now(job_id, dry_run=dry_run)
    except JobBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except DryRunUnsupported as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except RunQueued as exc:
        response.status_code = status.HTTP_202_ACCEPTED
        return {"status": "queued", "job_id": job_id, "task_id": exc.task_id, "detail": str(exc)}


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
