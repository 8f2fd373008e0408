"""Jinja2 for the pages: autoescaped templates, display filters, the common page context."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import Response

from encore_backend.web import format as fmt

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@cache
def templates() -> Jinja2Templates:
    """The template set, built on first use; everything is HTML, so autoescape is always on."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined
    )
    env.filters.update(
        ago=fmt.ago,
        next_run=fmt.next_run,
        local=fmt.local_time,
        rating=fmt.rating,
        percent=fmt.percent,
        hours=fmt.hours,
        count=fmt.count,
        duration=fmt.duration_ms,
    )
    return Jinja2Templates(env=env)


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> Response:
    """Render a page with the signed-in user and their CSRF token available to it."""
    context = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        **values,
    }
    return templates().TemplateResponse(request, name, context, status_code=status_code)
