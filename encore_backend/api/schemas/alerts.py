"""Alert bodies (SPEC §6, §8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from encore_backend.api.schemas.common import UtcTime
from encore_backend.domain.enums import AlertLevel


class AlertOut(BaseModel):
    """An alert: at most one per feedback, at the level of its highest reason."""

    alert_id: str
    venue_id: str
    feedback_id: int
    level: AlertLevel
    title: str
    description: str
    reasons: list[dict[str, Any]]
    detected_at: UtcTime
    is_read: bool
    acknowledged_by: str | None
    acknowledged_at: UtcTime | None
    archived_at: UtcTime | None
    escalated_at: UtcTime | None = None


class AlertPage(BaseModel):
    """Newest first; next_cursor is null on the last page."""

    alerts: list[AlertOut]
    next_cursor: str | None
