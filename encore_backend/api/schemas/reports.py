"""Report bodies (SPEC §6, §8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from encore_backend.api.schemas.common import UtcTime


class ReportOut(BaseModel):
    """A daily or weekly report over [period_start, period_end) in the venue's local days."""

    report_id: str
    venue_id: str
    kind: Literal["daily", "weekly"]
    period_start: UtcTime
    period_end: UtcTime
    generated_at: UtcTime
    content: dict[str, Any]


class ReportPage(BaseModel):
    reports: list[ReportOut]
    next_cursor: str | None
