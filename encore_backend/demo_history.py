"""Demo data's past: feedback older than a few days was answered, as at a venue that has been
using the product for weeks.

Without this every demo row would wait for a draft, and at MAX_AI_GENERATIONS_PER_MINUTE=10 a
new review posted during a demo would sit behind hours of two-month-old backlog, while the
dashboards showed a 0% response rate. Replies come from the template provider; those to
customers with an address are `sent` (feedback `responded`, with a response time), the others
`cancelled` for want of an address (feedback `pending`), exactly where the live pipeline would
have left them. The last few days stay new, for the jobs to pick up.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from encore_backend.bootstrap import Container
from encore_backend.domain.enums import FeedbackStatus, ReplyStatus
from encore_backend.providers.ai import ReplyRequest
from encore_backend.providers.ai.template import TemplateReplyProvider
from encore_backend.providers.ai.voice import voice_fields

ANSWERED_BEFORE = timedelta(days=3)  # feedback older than this was handled
NO_ADDRESS = "customer has no email address"


def answer_history(ctx: Container, rng: random.Random, venue_id: str, venue_name: str) -> int:
    """Store the replies of the venue's older feedback; how many were written."""
    now = ctx.clock.now()
    rows = ctx.replies.unanswered_before(venue_id, now - ANSWERED_BEFORE)
    provider = TemplateReplyProvider()
    replies, changes = [], []
    for row in rows:
        reply, change = _answered(rng, provider, row, venue_name, now)
        replies.append(reply)
        changes.append(change)
    ctx.replies.import_history(replies, changes)
    return len(replies)


def _answered(
    rng: random.Random,
    provider: TemplateReplyProvider,
    row: dict[str, Any],
    venue_name: str,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reply row and the feedback change of one old feedback."""
    request = ReplyRequest(
        venue_name=venue_name,
        brand_voice=row["brand_voice"],
        customer_first_name=row["customer_name"],
        rating=int(row["rating"]),
        comment=row["comment"] or "",
        **voice_fields(row),
    )
    draft = provider.draft(request)
    drafted = row["created_at"] + timedelta(minutes=rng.randint(5, 90))
    sent = min(drafted + timedelta(hours=rng.uniform(0.5, 20)), now)
    reachable = bool(row["customer_email"])
    reply = {
        "response_id": str(uuid.uuid4()),
        "feedback_id": row["feedback_id"],
        "venue_id": row["venue_id"],
        "subject": draft.subject,
        "body": draft.body,
        "status": (ReplyStatus.SENT if reachable else ReplyStatus.CANCELLED).value,
        "provider": draft.provider,
        "model": draft.model,
        "error": None if reachable else NO_ADDRESS,
        "created_at": drafted,
        "approved_by": "demo manager" if reachable else None,
        "approved_at": drafted if reachable else None,
        "sent_at": sent if reachable else None,
    }
    change = {
        "feedback_id": row["feedback_id"],
        "status": (FeedbackStatus.RESPONDED if reachable else FeedbackStatus.PENDING).value,
        "responded_at": sent if reachable else None,
        "response_seconds": int((sent - row["created_at"]).total_seconds()) if reachable else None,
    }
    return reply, change
