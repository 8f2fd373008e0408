"""The reply pipeline through the services, with replies and the queue in SQL or in DynamoDB.

Given a venue that auto-sends, feedback from reachable customers, one without an address and
one that raised a critical alert, when ai_generator and email_sender run (SMTP: a real aiosmtpd
server) and a manager approves the held draft and rejects nothing else, expect each reply and
each manager alert received once, the statuses of SPEC §4 on replies, items and feedback, and
reruns that send nothing more; a failed draft is drafted again on demand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from reply_support import ScriptedProvider, use_manual_sleep, use_provider
from support.queue_setup import alert_with_emails, feedback, venue
from support.smtp_server import RecordingHandler, smtp_server

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.providers.errors import PermanentProviderError
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.services import approval_service


@pytest.fixture
def smtp(store_ctx: Container, clock: ManualClock) -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        store_ctx.settings = store_ctx.settings.model_copy(
            update={"email_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        )
        use_manual_sleep(store_ctx, clock)
        yield handler


def received(handler: RecordingHandler) -> Counter[str]:
    return Counter(str(m["X-Encore-Queue-Id"]) for m in handler.messages)


def reply_of(ctx: Container, feedback_id: int) -> dict:
    found = ctx.replies.for_feedback(feedback_id)
    assert found is not None
    return found


def test_drafted_queued_approved_and_sent_once(
    store_ctx: Container, clock: ManualClock, smtp: RecordingHandler
) -> None:
    ctx = store_ctx
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    plain = [feedback(ctx) for _ in range(3)]
    unreachable = feedback(ctx, email=None)
    critical = feedback(ctx, comment="I was sick all night.", rating=1, alert_scanned_at=None)
    alert_with_emails(ctx, critical)
    use_provider(ctx, ScriptedProvider(clock))

    drafted = ai_generator.run(ctx, clock.now())
    assert drafted.items_processed == 5
    assert [reply_of(ctx, f)["status"] for f in plain] == ["auto_approved"] * 3
    assert reply_of(ctx, unreachable)["status"] == "cancelled"
    held = reply_of(ctx, critical)
    assert held["status"] == "pending_approval"
    assert ai_generator.run(ctx, clock.now()).items_processed == 0

    first = email_sender.run(ctx, clock.now())
    assert first.details["sent"] == 5  # 3 replies, 2 alerts; the unreachable one never queued
    approval_service.approve(ctx, response_id=held["response_id"], by="ana")
    second = email_sender.run(ctx, clock.now())
    assert second.details["sent"] == 1
    assert email_sender.run(ctx, clock.now()).items_processed == 0

    counts = received(smtp)
    assert len(counts) == 6 and set(counts.values()) == {1}
    for fid in [*plain, critical]:
        assert reply_of(ctx, fid)["status"] == "sent"
        row = ctx.feedback.get(fid)
        assert row is not None and row["status"] == "responded"
    item = ctx.email_queue.for_response(reply_of(ctx, unreachable)["response_id"])
    assert item is not None and item["status"] == "cancelled"
    assert ctx.email_queue.count_by_status() == {"sent": 6, "cancelled": 1}


def test_a_failed_draft_is_drafted_again_on_demand(
    store_ctx: Container, clock: ManualClock, smtp: RecordingHandler
) -> None:
    ctx = store_ctx
    venue(ctx)
    fid = feedback(ctx)
    use_provider(ctx, ScriptedProvider(clock, [PermanentProviderError("400 bad request")]))
    ai_generator.run(ctx, clock.now())
    failed = reply_of(ctx, fid)
    assert failed["status"] == "failed"
    row = ctx.feedback.get(fid)
    assert row is not None and row["status"] == "new"

    redrafted = approval_service.draft_now(ctx, feedback_id=fid)
    assert redrafted["status"] == "generated"
    assert redrafted["response_id"] != failed["response_id"]
    assert ctx.replies.get(failed["response_id"]) is None
    approval_service.approve(ctx, response_id=redrafted["response_id"], by="ana")
    rejected = approval_service.reject(
        ctx, response_id=redrafted["response_id"], by="ana", reason="tone"
    )
    assert rejected["status"] == "rejected"
    item = ctx.email_queue.for_response(redrafted["response_id"])
    assert item is not None and item["status"] == "cancelled"
    assert email_sender.run(ctx, clock.now()).items_processed == 0
    assert smtp.messages == []
