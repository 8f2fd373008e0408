"""The fixed vocabularies of SPEC §3, §4 and §6."""

from __future__ import annotations

from enum import StrEnum


class AlertLevel(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe: critical=4 … info=0."""
        return len(ALERT_LEVEL_ORDER) - 1 - ALERT_LEVEL_ORDER.index(self)


ALERT_LEVEL_ORDER = (
    AlertLevel.CRITICAL,
    AlertLevel.HIGH,
    AlertLevel.MEDIUM,
    AlertLevel.LOW,
    AlertLevel.INFO,
)


class ReplyTone(StrEnum):
    """A venue's reply voice (setting `reply_tone`)."""

    WARM = "warm"
    FORMAL = "formal"
    PLAYFUL = "playful"


class Role(StrEnum):
    ADMIN = "admin"
    VENUE_MANAGER = "venue_manager"
    INGEST = "ingest"


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    EVENT = "event"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSED = "missed"


class FeedbackStatus(StrEnum):
    NEW = "new"
    PENDING = "pending"
    RESPONDED = "responded"


class ReplyStatus(StrEnum):
    GENERATED = "generated"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    AUTO_APPROVED = "auto_approved"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


PENDING_REPLY_STATUSES = (
    ReplyStatus.GENERATED,
    ReplyStatus.PENDING_APPROVAL,
    ReplyStatus.APPROVED,
    ReplyStatus.AUTO_APPROVED,
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class EmailKind(StrEnum):
    """What an email queue item carries: a customer reply, or a report or alert to a manager."""

    REPLY = "reply"
    REPORT = "report"
    ALERT = "alert"
    ESCALATION = "escalation"  # bad feedback still unanswered past its deadline (notice_key)
    DIGEST = "digest"


class QueueStatus(StrEnum):
    """An email queue item's status (SPEC §4)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
