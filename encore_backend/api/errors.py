"""422s in FastAPI's own validation shape (raised by routes, or by validation), so clients
parse one format."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from encore_backend.services.errors import FieldError


def unprocessable(field: str, message: str, *, location: str = "body") -> HTTPException:
    """A 422 whose body is `{"detail": [{"loc": [location, field], "msg": …, "type": …}]}`."""
    detail = [{"loc": [location, field], "msg": message, "type": "value_error"}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def from_field_error(error: FieldError, *, location: str = "body") -> HTTPException:
    return unprocessable(error.field, error.message, location=location)


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: a lone surrogate a client sent, echoed back in a 422's
    `input`, is then valid output instead of a UnicodeEncodeError (a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 body, rendered so any input it echoes can be encoded."""
    assert isinstance(exc, RequestValidationError)
    detail = jsonable_encoder(exc.errors())
    return AsciiJSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail}
    )
