"""email_sender against a real aiosmtpd server with injected faults, and the queue's guarantees.

Given replies queued by the real generator (template provider, auto-send), when the sender job
runs at a manual clock's time, expect sends, retries, failures and cancellations as SPEC §4 says,
every attempt in email_history, and the stats fed by what was sent.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from reply_support import all_rows, feedback, feedback_row, use_manual_sleep, venue
from support.smtp_server import RecordingHandler

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.providers.email import verify_unsubscribe_token
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.services.email_service import unsubscribe_secret
from encore_backend.services.stats_service import compute_stats
from encore_backend.storage.sql import models as m


def queue_one(ctx: Container, *, delay: int = 0, **kwargs: object) -> dict:
    """A reply drafted and queued by the real generator; returns its queue item."""
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=delay)
    fid = feedback(ctx, **kwargs)  # type: ignore[arg-type]
    ai_generator.run(ctx, ctx.clock.now())
    item = ctx.email_queue.get(_only_item(ctx, fid))
    assert item is not None and item["status"] == "pending"
    return item


def _only_item(ctx: Container, feedback_id: int) -> str:
    [item] = [q for q in all_rows(ctx, m.email_queue) if q["feedback_id"] == feedback_id]
    return str(item["queue_id"])


def outcomes(ctx: Container, queue_id: str) -> list[str]:
    return [h["outcome"] for h in ctx.email_queue.history(queue_id)]


def test_a_due_reply_is_sent_once_with_the_contract_headers(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    item = queue_one(ctx, delay=30)
    assert email_sender.run(ctx, clock.now()).items_processed == 0  # not due yet
    clock.advance(minutes=30)

    result = email_sender.run(ctx, clock.now())

    assert result.details["sent"] == 1
    [message] = handler.messages
    assert message["Message-ID"] == item["message_id"]
    assert message["To"].addresses[0].addr_spec == item["customer_email"]
    assert message["From"].addresses[0].addr_spec == "no-reply@encore.local"
    assert message["Reply-To"].addresses[0].addr_spec == "boss@v1.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).split("<", 1)[1].split(">", 1)[0]
    claim = verify_unsubscribe_token(
        link.rsplit("/", 1)[1], secret=unsubscribe_secret(ctx.settings)
    )
    assert claim is not None and claim.email == item["customer_email"]
    assert email_sender.run(ctx, clock.now() + timedelta(hours=1)).items_processed == 0
    assert len(handler.messages) == 1


def test_a_sent_reply_moves_item_reply_feedback_and_stats(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    item = queue_one(ctx, age=timedelta(hours=3))
    before = compute_stats(store=ctx.stats, now=clock.now())["v1"]
    assert before["pending_responses"] == 1 and before["sent_today"] == 0

    email_sender.run(ctx, clock.now())

    now = clock.now()
    sent = ctx.email_queue.get(item["queue_id"])
    assert sent is not None and sent["status"] == "sent" and sent["sent_at"] == now
    assert sent["attempts"] == 1 and sent["claimed_by"] is None
    reply = ctx.replies.get(item["response_id"])
    assert reply is not None and reply["status"] == "sent" and reply["sent_at"] == now
    fb = feedback_row(ctx, item["feedback_id"])
    assert fb["status"] == "responded" and fb["responded_at"] == now
    assert fb["response_seconds"] == 3 * 3600
    assert outcomes(ctx, item["queue_id"]) == ["sent"]
    after = compute_stats(store=ctx.stats, now=now)["v1"]
    assert after["pending_responses"] == 0 and after["sent_today"] == 1
    assert after["response_rate"] == 1.0 and after["avg_response_time_hours"] == 3.0


@pytest.mark.parametrize("fault", ["421", "451"])
def test_a_transient_failure_is_retried_within_the_claim_then_sent(
    ctx: Container, clock: ManualClock, handler: RecordingHandler, fault: str
) -> None:
    item = queue_one(ctx)
    sleeps = use_manual_sleep(ctx, clock)
    handler.faults.append(fault)

    result = email_sender.run(ctx, clock.now())

    assert (result.details["sent"], result.details["retried"]) == (1, 1)
    assert sleeps == [1.0]  # tenacity's wait, on the injected (manual) sleep
    done = ctx.email_queue.get(item["queue_id"])
    assert done is not None and done["status"] == "sent" and done["attempts"] == 1
    assert [m["Message-ID"] for m in handler.messages] == [item["message_id"]]
    assert outcomes(ctx, item["queue_id"]) == ["retry", "sent"]


@pytest.mark.parametrize("fault", ["421", "451"])
def test_transient_failures_outlasting_the_claim_wait_for_a_later_run(
    ctx: Container, clock: ManualClock, handler: RecordingHandler, fault: str
) -> None:
    item = queue_one(ctx)
    sleeps = use_manual_sleep(ctx, clock)
    handler.faults.extend([fault] * 3)

    first = email_sender.run(ctx, clock.now())

    waiting = ctx.email_queue.get(item["queue_id"])
    assert first.details["retried"] == 3 and handler.messages == [] and sleeps == [1.0, 2.0]
    assert waiting is not None and waiting["status"] == "pending" and waiting["attempts"] == 1
    assert waiting["next_attempt_at"] > clock.now()  # backoff: not retried in the same breath
    assert email_sender.run(ctx, clock.now()).items_processed == 0
    clock.advance(minutes=10)
    email_sender.run(ctx, clock.now())

    done = ctx.email_queue.get(item["queue_id"])
    assert done is not None and done["status"] == "sent" and done["attempts"] == 2
    assert [m["Message-ID"] for m in handler.messages] == [item["message_id"]]
    assert outcomes(ctx, item["queue_id"]) == ["retry", "retry", "retry", "sent"]


@pytest.mark.parametrize("fault", ["550", "rcpt550"])
def test_permanent_smtp_failures_fail_at_once(
    ctx: Container, clock: ManualClock, handler: RecordingHandler, fault: str
) -> None:
    item = queue_one(ctx)
    handler.faults.append(fault)

    email_sender.run(ctx, clock.now())
    clock.advance(hours=2)
    email_sender.run(ctx, clock.now())

    failed = ctx.email_queue.get(item["queue_id"])
    assert failed is not None and failed["status"] == "failed" and failed["attempts"] == 1
    assert "550" in failed["error"]
    reply = ctx.replies.get(item["response_id"])
    assert reply is not None and reply["status"] == "failed" and "550" in reply["error"]
    assert feedback_row(ctx, item["feedback_id"])["status"] == "pending"
    assert handler.messages == [] and outcomes(ctx, item["queue_id"]) == ["failed"]


def test_after_email_max_attempts_the_item_fails_with_the_error(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"email_max_attempts": 3})
    item = queue_one(ctx)
    handler.faults.extend(["451"] * 12)

    for _ in range(5):
        email_sender.run(ctx, clock.now())
        clock.advance(hours=2)

    failed = ctx.email_queue.get(item["queue_id"])
    assert failed is not None and failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["error"].startswith("SMTP 451") and "after 3 attempts" in failed["error"]
    assert outcomes(ctx, item["queue_id"]) == ["retry"] * 8 + ["failed"]  # 3 claims of 3 tries
    assert handler.messages == [] and len(handler.faults) == 3


def test_nothing_is_lost_across_a_mix_of_faults(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    for _ in range(8):
        feedback(ctx)
    ai_generator.run(ctx, clock.now())
    # by transaction: a 421 retried then a drop after the data (unknown), a 451 retried then a
    # 550 (failed), a drop (unknown); the other five go through.
    handler.faults.extend(["421", "drop", "451", "550", "drop"])

    for _ in range(6):
        email_sender.run(ctx, clock.now())
        clock.advance(minutes=30)

    items = all_rows(ctx, m.email_queue)
    errors = sorted(i["error"][:8] for i in items if i["status"] == "failed")
    assert errors == ["SMTP 550", "outcome unknown"[:8], "outcome unknown"[:8]]
    assert sorted(i["status"] for i in items) == ["failed"] * 3 + ["sent"] * 5
    received = [str(msg["Message-ID"]) for msg in handler.messages]
    assert sorted(received) == sorted(i["message_id"] for i in items if i["status"] == "sent")


def test_a_customer_who_unsubscribed_during_the_delay_gets_nothing(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    item = queue_one(ctx, delay=30)
    with ctx.engine.begin() as conn:
        conn.execute(m.customers.update().values(unsubscribed_at=clock.now()))
    clock.advance(minutes=31)

    email_sender.run(ctx, clock.now())

    cancelled = ctx.email_queue.get(item["queue_id"])
    assert cancelled is not None and cancelled["status"] == "cancelled"
    assert cancelled["error"] == "customer unsubscribed"
    assert ctx.replies.get(item["response_id"])["status"] == "cancelled"  # type: ignore[index]
    assert handler.messages == []


def test_two_claims_never_take_one_item(ctx: Container, clock: ManualClock) -> None:
    item = queue_one(ctx)
    now = clock.now()
    lease = now + timedelta(minutes=5)

    first = ctx.email_queue.claim_next(now=now, claim="worker-a", lease_until=lease)
    second = ctx.email_queue.claim_next(now=now, claim="worker-b", lease_until=lease)

    assert first is not None and first["queue_id"] == item["queue_id"]
    assert second is None
    assert ctx.email_queue.get(item["queue_id"])["claimed_by"] == "worker-a"  # type: ignore[index]


def test_an_item_left_sending_past_its_lease_fails_outcome_unknown_and_is_not_resent(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    item = queue_one(ctx)
    now = clock.now()
    # A worker claims it and dies before recording anything.
    ctx.email_queue.claim_next(now=now, claim="dead:1:x", lease_until=now + timedelta(minutes=5))

    clock.advance(minutes=4)
    assert email_sender.run(ctx, clock.now()).details["outcome_unknown"] == 0
    assert ctx.email_queue.get(item["queue_id"])["status"] == "sending"  # type: ignore[index]
    clock.advance(minutes=2)
    reaped = email_sender.run(ctx, clock.now())
    clock.advance(hours=3)
    email_sender.run(ctx, clock.now())

    assert reaped.details["outcome_unknown"] == 1
    failed = ctx.email_queue.get(item["queue_id"])
    assert failed is not None and failed["status"] == "failed"
    assert failed["error"] == "outcome unknown" and failed["attempts"] == 1
    reply = ctx.replies.get(item["response_id"])
    assert reply is not None and reply["status"] == "failed"
    assert handler.messages == [] and outcomes(ctx, item["queue_id"]) == ["outcome_unknown"]


def test_a_send_that_finishes_after_its_lease_was_reaped_is_recorded_sent(
    ctx: Container, clock: ManualClock
) -> None:
    item = queue_one(ctx)
    now = clock.now()
    claimed = ctx.email_queue.claim_next(now=now, claim="slow:1:x", lease_until=now)
    assert claimed is not None
    later = now + timedelta(minutes=1)
    assert ctx.email_queue.expire_leases(now=later) == [item["queue_id"]]

    assert ctx.email_queue.mark_sent(
        claimed, claim="slow:1:x", now=later, backend="smtp", provider_message_id=None
    )

    done = ctx.email_queue.get(item["queue_id"])
    assert done is not None and done["status"] == "sent" and done["error"] is None
    assert outcomes(ctx, item["queue_id"]) == ["outcome_unknown", "sent"]
