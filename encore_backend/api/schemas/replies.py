"""Reply and email-queue bodies (SPEC §4, §6, §8)."""

from __future__ import annotations

from pydantic import BaseModel

from encore_backend.api.schemas.common import UtcTime
from encore_backend.domain.enums import EmailKind, QueueStatus, ReplyStatus


class ReplyOut(BaseModel):
    """A drafted reply; error and hold_reason say why it failed or waits for approval."""

    response_id: str
    feedback_id: int
    venue_id: str
    subject: str
    body: str
    status: ReplyStatus
    provider: str | None
    model: str | None
    error: str | None
    hold_reason: str | None
    approved_by: str | None
    created_at: UtcTime
    approved_at: UtcTime | None
    sent_at: UtcTime | None


class ReplyPage(BaseModel):
    responses: list[ReplyOut]
    next_cursor: str | None


class QueueItemOut(BaseModel):
    """One email to send: a customer's reply, or a report or alert to a manager."""

    queue_id: str
    kind: EmailKind
    feedback_id: int | None
    response_id: str | None
    report_id: str | None
    alert_id: str | None
    venue_id: str
    customer_email: str | None
    status: QueueStatus
    error: str | None
    attempts: int
    scheduled_send_time: UtcTime
    created_at: UtcTime
    sent_at: UtcTime | None


class QueuePage(BaseModel):
    items: list[QueueItemOut]
    next_cursor: str | None
