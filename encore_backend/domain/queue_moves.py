"""The operator's moves of a queue item (SPEC §4), the same for every queue store: from which
statuses, what the item becomes, what its reply becomes, and what the attempt log says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from encore_backend.domain.enums import QueueStatus, ReplyStatus


@dataclass(frozen=True)
class OperatorMove:
    from_statuses: tuple[str, ...]
    values: dict[str, Any]
    reply: tuple[ReplyStatus, str | None]
    outcome: tuple[str, str | None]


def cancel_move(reason: str) -> OperatorMove:
    """pending → cancelled, the reply too."""
    return OperatorMove(
        from_statuses=(QueueStatus.PENDING,),
        values={"status": QueueStatus.CANCELLED, "error": reason},
        reply=(ReplyStatus.CANCELLED, reason),
        outcome=(QueueStatus.CANCELLED, reason),
    )


def requeue_move(now: datetime) -> OperatorMove:
    """failed/cancelled → pending now with fresh attempts, the reply back to `approved`."""
    fresh = {
        "status": QueueStatus.PENDING,
        "scheduled_send_time": now,
        "next_attempt_at": None,
        "attempts": 0,
        "error": None,
        "claimed_by": None,
        "lease_expires_at": None,
    }
    return OperatorMove(
        from_statuses=(QueueStatus.FAILED, QueueStatus.CANCELLED),
        values=fresh,
        reply=(ReplyStatus.APPROVED, None),
        outcome=("requeued", None),
    )
