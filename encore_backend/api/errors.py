"""422s raised by routes in FastAPI's own validation shape, so clients parse one format."""

from __future__ import annotations

from fastapi import HTTPException, status

from encore_backend.services.errors import FieldError


def unprocessable(field: str, message: str, *, location: str = "body") -> HTTPException:
    """A 422 whose body is `{"detail": [{"loc": [location, field], "msg": …, "type": …}]}`."""
    detail = [{"loc": [location, field], "msg": message, "type": "value_error"}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def from_field_error(error: FieldError, *, location: str = "body") -> HTTPException:
    return unprocessable(error.field, error.message, location=location)
