"""The admin console: venues, jobs (run now, pause, resume), run history, email queue health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from encore_backend.api.deps import Principal
from encore_backend.api.routes.admin_jobs import scheduler_of
from encore_backend.bootstrap import Container
from encore_backend.scheduler.control import RunQueued
from encore_backend.scheduler.registry import registry_for
from encore_backend.scheduler.runner import JobBusy
from encore_backend.services import approval_service
from encore_backend.services.errors import ConflictError
from encore_backend.web import auth
from encore_backend.web.admin_view import admin_console
from encore_backend.web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)
AdminUser = Annotated[Principal, Depends(auth.admin_page)]
Form = Annotated[dict[str, str], Depends(auth.read_form)]
HISTORY_ROWS = 50


def ctx_of(request: Request) -> Container:
    return request.app.state.ctx  # type: ignore[no-any-return]


def known_job(ctx: Container, job_id: str) -> str:
    if job_id not in registry_for(ctx):
        raise auth.PageNotFound()
    return job_id


JOB_NOTICES = {
    "paused": "{job} paused.",
    "resumed": "{job} resumed.",
    "busy": "{job} is already running elsewhere; try again when it finishes.",
    "queued": "{job} is queued on the workers; its run appears below when it finishes.",
}
QUEUE_NOTICES = {
    "requeued": "The email is queued to send again now.",
    "requeue-refused": "Only a failed or cancelled email can be requeued.",
}


def notice_for(ctx: Container, request: Request) -> str | None:
    """The outcome of the last action, rebuilt from ids in the query (never echoed text)."""
    query = request.query_params
    if query.get("ran", "").isdigit():
        run = ctx.job_runs.get(int(query["ran"]))
        if run is not None:
            items = run["items_processed"] or 0
            return f"{run['job_id']} run {run['run_id']}: {run['status']}, {items} items."
    jobs = registry_for(ctx)
    for action, text in JOB_NOTICES.items():
        if query.get(action) in jobs:
            return text.format(job=query[action])
    return next((text for key, text in QUEUE_NOTICES.items() if key in query), None)


@router.get("")
def console(request: Request, user: AdminUser) -> Response:
    ctx = ctx_of(request)
    data = admin_console(ctx, scheduler_of(request), now=ctx.clock.now())
    return render(request, "admin.html.j2", notice=notice_for(ctx, request), **data)


@router.get("/jobs/{job_id}")
def job_history(request: Request, job_id: str, user: AdminUser) -> Response:
    ctx = ctx_of(request)
    runs = ctx.job_runs.list_runs(job_id=known_job(ctx, job_id), limit=HISTORY_ROWS)
    return render(request, "job_runs.html.j2", job_id=job_id, runs=runs, now=ctx.clock.now())


def back(query: str, job_id: str = "") -> RedirectResponse:
    anchor = f"#job-{job_id}" if job_id else ""
    return RedirectResponse(f"/admin?{query}{anchor}", status_code=303)


@router.post("/jobs/{job_id}/run")
def run_now(request: Request, job_id: str, user: AdminUser, form: Form) -> Response:
    """Run the job now (as the API does: here, or on a fleet worker), then show its run."""
    auth.check_csrf(request, form)
    ctx = ctx_of(request)
    try:
        record = scheduler_of(request).run_now(known_job(ctx, job_id))
    except JobBusy:
        return back(f"busy={job_id}", job_id)
    except RunQueued:
        return back(f"queued={job_id}", job_id)
    return back(f"ran={record['run_id']}", job_id)


@router.post("/jobs/{job_id}/{action}")
def pause_or_resume(
    request: Request, job_id: str, action: str, user: AdminUser, form: Form
) -> Response:
    auth.check_csrf(request, form)
    scheduler = scheduler_of(request)
    known_job(ctx_of(request), job_id)
    if action == "pause":
        scheduler.pause(job_id)
        return back(f"paused={job_id}", job_id)
    if action == "resume":
        scheduler.resume(job_id)
        return back(f"resumed={job_id}", job_id)
    raise auth.PageNotFound()


@router.post("/email-queue/{queue_id}/requeue")
def requeue(request: Request, queue_id: str, user: AdminUser, form: Form) -> Response:
    auth.check_csrf(request, form)
    try:
        approval_service.requeue_item(ctx_of(request), queue_id=queue_id)
    except ConflictError:
        return back("requeue-refused=1")
    return back("requeued=1")
