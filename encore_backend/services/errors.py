"""Errors a service raises for bad input; the API turns them into 422s naming the field."""

from __future__ import annotations


class FieldError(ValueError):
    """Input that passed the schema but fails a check needing the database (e.g. unknown id)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConflictError(Exception):
    """The request would duplicate something that must be unique (HTTP 409)."""
