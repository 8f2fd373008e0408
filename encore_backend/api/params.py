"""Path and query parameters with the bounds the OpenAPI document states (out of range: 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_DB_INT = 2**63 - 1  # BIGINT: a larger number can name nothing, so it is refused up front
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # alert, reply, queue item and report ids (UUIDs)
VENUE_PATH_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"  # any stored venue id: no control characters

VenuePath = Annotated[
    str, Path(pattern=VENUE_PATH_PATTERN, description='The venue id (57 or "57" alike)')
]
FeedbackPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
ObjectPath = Annotated[str, Path(pattern=ID_PATTERN)]
Cursor = Annotated[
    str | None,
    Query(
        max_length=512,
        description="The next_cursor of the previous page (opaque); send the same filters",
    ),
]
