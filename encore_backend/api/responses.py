"""The error answers every route declares in the OpenAPI document (SPEC §8: every status code)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from encore_backend.api.security import MAX_BODY_BYTES


class ErrorOut(BaseModel):
    """An error answer: what went wrong, in words."""

    detail: str


ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "model": ErrorOut,
        "description": "Not carried out: the body is not UTF-8 JSON, or "
        "the request asks for what the route does not do",
    },
    401: {"model": ErrorOut, "description": "No bearer token, or an unknown one"},
    403: {"model": ErrorOut, "description": "The token's role may not call this route"},
    404: {"model": ErrorOut, "description": "Unknown, or another venue's (never revealed)"},
    409: {"model": ErrorOut, "description": "The object is not in a state that allows this"},
    413: {"model": ErrorOut, "description": f"Request body over {MAX_BODY_BYTES} bytes"},
    502: {
        "model": ErrorOut,
        "description": "The provider refuses our configuration (key, model, credentials)",
    },
    503: {"model": ErrorOut, "description": "The provider is unavailable; try again later"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The shared declarations of these status codes, for `responses=`."""
    return {code: ERRORS[code] for code in codes}


# Every route: a body over the limit is refused before routing.
ANY = errors(413)
# Routes behind a bearer token; READER/ADMIN routes also refuse other roles with 403.
AUTHENTICATED = errors(401, 413)
READER = errors(401, 403, 413)
