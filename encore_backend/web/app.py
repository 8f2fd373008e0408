"""Hooks the dashboards into the FastAPI app: pages, static files and their error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from encore_backend.web import auth
from encore_backend.web.routes import admin, session, settings, venue
from encore_backend.web.routes import channels as channel_pages
from encore_backend.web.templating import STATIC_DIR, render


async def to_signin(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


async def not_found(request: Request, _exc: Exception) -> Response:
    return render(
        request,
        "message.html.j2",
        404,
        title="Not found",
        text="There is no such page, or it is not yours to see.",
    )


async def csrf_rejected(request: Request, _exc: Exception) -> Response:
    return render(
        request,
        "message.html.j2",
        403,
        title="Form expired",
        text="That form was not accepted (its security token was missing or stale). "
        "Go back, reload the page and try again.",
    )


def install_web(app: FastAPI) -> None:
    """Mount /static, add the page routers (including "/") and the pages' error handlers."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (session, venue, settings, admin, channel_pages):
        app.include_router(module.router)
    app.add_exception_handler(auth.SignInRequired, to_signin)
    app.add_exception_handler(auth.PageNotFound, not_found)
    app.add_exception_handler(auth.CsrfRejected, csrf_rejected)
