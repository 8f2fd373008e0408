"""ai_generator: SPEC §4 transitions per settings, forced approval, retries, one reply per feedback.

Given venues and scanned feedback written into the database, when the job runs at a manual
clock's time, expect the replies, queue items and feedback statuses of SPEC §4.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from reply_support import (
    ScriptedProvider,
    add_alert,
    all_rows,
    feedback,
    feedback_row,
    use_manual_sleep,
    use_provider,
    venue,
)

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.providers.errors import (
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
)
from encore_backend.scheduler.jobs import ai_generator
from encore_backend.storage.sql import models as m


def settings(ctx: Container, **values: object) -> None:
    ctx.settings = ctx.settings.model_copy(update=values)


@pytest.mark.parametrize(
    ("require_approval", "venue_auto_send", "global_auto_send", "expected", "queued"),
    [
        (False, False, True, "generated", False),
        (False, True, True, "auto_approved", True),
        (False, True, False, "generated", False),
        (True, True, True, "pending_approval", False),
        (True, False, False, "pending_approval", False),
    ],
)
def test_status_follows_the_settings(
    ctx: Container,
    require_approval: bool,
    venue_auto_send: bool,
    global_auto_send: bool,
    expected: str,
    queued: bool,
) -> None:
    settings(ctx, auto_send_emails=global_auto_send)
    venue(
        ctx,
        require_approval=require_approval,
        auto_send_enabled=venue_auto_send,
        auto_send_delay_minutes=45,
    )
    fid = feedback(ctx)
    now = ctx.clock.now()

    result = ai_generator.run(ctx, now)  # the real template provider

    assert result.items_processed == 1
    reply = ctx.replies.for_feedback(fid)
    assert reply is not None
    assert reply["status"] == expected
    assert reply["provider"] == "template" and "Anna" in reply["body"]
    assert feedback_row(ctx, fid)["status"] == "pending"
    queue = all_rows(ctx, m.email_queue)
    if queued:
        [item] = queue
        assert item["status"] == "pending" and item["response_id"] == reply["response_id"]
        assert item["scheduled_send_time"] == now + timedelta(minutes=45)
        assert item["customer_email"].startswith("anna+")
    else:
        assert queue == []


@pytest.mark.parametrize(
    "switch",
    ["ai_generation_enabled", "auto_generate_responses", "AUTO_GENERATE_AI_RESPONSES", "unscanned"],
)
def test_nothing_is_drafted_when_generation_is_off(ctx: Container, switch: str) -> None:
    if switch == "AUTO_GENERATE_AI_RESPONSES":
        settings(ctx, auto_generate_ai_responses=False)
    venue(ctx, **({switch: False} if switch.islower() and switch != "unscanned" else {}))
    fid = feedback(ctx, scanned=switch != "unscanned")

    assert ai_generator.run(ctx, ctx.clock.now()).items_processed == 0

    assert ctx.replies.for_feedback(fid) is None
    assert feedback_row(ctx, fid)["status"] == "new"


def test_a_compensation_offer_waits_for_approval_whatever_the_settings(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    use_provider(ctx, ScriptedProvider(clock, ["Sorry! We'll refund you in full."]))
    fid = feedback(ctx, rating=2)

    ai_generator.run(ctx, clock.now())

    reply = ctx.replies.for_feedback(fid)
    assert reply is not None and reply["status"] == "pending_approval"
    assert "refund" in reply["hold_reason"]
    assert all_rows(ctx, m.email_queue) == []


def test_a_critical_alert_waits_for_approval_whatever_the_settings(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    fid = feedback(ctx, rating=1, comment="I was sick all night after the fish.")
    calm = feedback(ctx, rating=5)
    add_alert(ctx, fid, level="critical")
    add_alert(ctx, calm, level="high")

    ai_generator.run(ctx, clock.now())

    held, sent = ctx.replies.for_feedback(fid), ctx.replies.for_feedback(calm)
    assert held is not None and held["status"] == "pending_approval"
    assert "critical alert" in held["hold_reason"]
    assert sent is not None and sent["status"] == "auto_approved"
    assert [q["feedback_id"] for q in all_rows(ctx, m.email_queue)] == [calm]


def test_transient_errors_are_retried_with_backoff_then_succeed(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    sleeps = use_manual_sleep(ctx, clock)
    script = [TransientProviderError("throttled", retry_after=7.0), TransientProviderError("503")]
    provider = ScriptedProvider(clock, script)
    use_provider(ctx, provider)
    fid = feedback(ctx)

    result = ai_generator.run(ctx, clock.now())

    assert len(provider.calls) == 3
    assert sleeps[0] >= 7.0  # the provider's retry_after is honoured
    assert 1.6 <= sleeps[1] <= 4.0  # 2 s · 2^1 less up to 20 % jitter
    reply = ctx.replies.for_feedback(fid)
    assert reply is not None and reply["status"] == "generated" and reply["error"] is None
    assert result.details["retries"] == 2


def test_after_the_attempts_a_transient_error_defers_the_feedback_and_stops_the_run(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    use_manual_sleep(ctx, clock)
    provider = ScriptedProvider(clock, [TransientProviderError("bedrock 503")] * 4)
    use_provider(ctx, provider)
    fid, waiting = feedback(ctx), feedback(ctx)

    first = ai_generator.run(ctx, clock.now())

    assert ctx.replies.for_feedback(fid) is None  # no `failed` reply: a later run retries
    row = feedback_row(ctx, fid)
    assert row["status"] == "new" and row["draft_attempts"] == 1
    assert row["draft_error"] == "bedrock 503 (gave up after 4 attempts)"
    assert row["draft_retry_at"] > clock.now()
    # The provider looks down: the run stops instead of burning the whole backlog.
    assert first.details["provider_down"] is True and len(provider.calls) == 4
    assert ctx.replies.for_feedback(waiting) is None
    second = ai_generator.run(ctx, clock.now())  # the provider is back; `fid` still waits
    assert second.items_processed == 1 and ctx.replies.for_feedback(waiting) is not None
    assert ctx.replies.for_feedback(fid) is None
    clock.set(row["draft_retry_at"])
    third = ai_generator.run(ctx, clock.now())
    assert third.items_processed == 1
    assert ctx.replies.for_feedback(fid)["status"] == "generated"  # type: ignore[index]
    assert feedback_row(ctx, fid)["draft_attempts"] == 0


def test_a_configuration_error_stops_the_run_before_anything_is_stored(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    refused = ProviderConfigError("openai HTTP 401: bad key", provider="AI provider")
    provider = ScriptedProvider(clock, [refused])
    use_provider(ctx, provider)
    ids = [feedback(ctx) for _ in range(3)]

    with pytest.raises(ProviderConfigError, match="AI provider: openai HTTP 401"):
        ai_generator.run(ctx, clock.now())

    assert len(provider.calls) == 1 and all_rows(ctx, m.ai_responses) == []
    assert [feedback_row(ctx, fid)["draft_attempts"] for fid in ids] == [0, 0, 0]
    assert ai_generator.run(ctx, clock.now()).items_processed == 3  # fixed: all drafted


def test_a_permanent_error_fails_at_once(ctx: Container, clock: ManualClock) -> None:
    venue(ctx)
    provider = ScriptedProvider(clock, [PermanentProviderError("invalid model id"), "[Name] hi"])
    use_provider(ctx, provider)
    bad, placeholder = feedback(ctx), feedback(ctx)

    ai_generator.run(ctx, clock.now())

    assert len(provider.calls) == 2
    assert ctx.replies.for_feedback(bad)["error"] == "invalid model id"  # type: ignore[index]
    rejected = ctx.replies.for_feedback(placeholder)
    assert rejected is not None and rejected["status"] == "failed"
    assert "placeholder" in rejected["error"]


@pytest.mark.parametrize("case", ["no_address", "unsubscribed", "no_customer"])
def test_customers_who_cannot_be_written_to_get_a_cancelled_item(ctx: Container, case: str) -> None:
    venue(ctx, auto_send_enabled=True)
    fid = feedback(
        ctx,
        email=None if case == "no_address" else "x@example.com",
        unsubscribed=case == "unsubscribed",
        no_customer=case == "no_customer",
    )

    ai_generator.run(ctx, ctx.clock.now())

    [item] = all_rows(ctx, m.email_queue)
    assert item["status"] == "cancelled"
    expected = "customer unsubscribed" if case == "unsubscribed" else "no email address"
    assert expected in item["error"]
    reply = ctx.replies.for_feedback(fid)
    assert reply is not None and reply["status"] == "cancelled"


def test_rerunning_creates_no_second_reply(ctx: Container) -> None:
    venue(ctx, auto_send_enabled=True)
    ids = [feedback(ctx) for _ in range(3)]

    first = ai_generator.run(ctx, ctx.clock.now())
    again = ai_generator.run(ctx, ctx.clock.now())

    assert (first.items_processed, again.items_processed) == (3, 0)
    assert sorted(r["feedback_id"] for r in all_rows(ctx, m.ai_responses)) == sorted(ids)
    assert len(all_rows(ctx, m.email_queue)) == 3


def test_racing_generators_store_exactly_one_reply_per_feedback(ctx: Container) -> None:
    settings(ctx, max_ai_generations_per_minute=1000)
    venue(ctx, auto_send_enabled=True)
    ids = [feedback(ctx) for _ in range(12)]
    errors: list[BaseException] = []

    def generate() -> None:
        try:
            ai_generator.run(ctx, ctx.clock.now())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    replies = all_rows(ctx, m.ai_responses)
    assert sorted(r["feedback_id"] for r in replies) == sorted(ids)
    assert len(all_rows(ctx, m.email_queue)) == len(ids)


def test_the_second_save_for_one_feedback_loses(ctx: Container) -> None:
    venue(ctx)
    fid = feedback(ctx)
    row = {
        "feedback_id": fid,
        "venue_id": "v1",
        "subject": "s",
        "body": "b",
        "status": "generated",
        "provider": "template",
        "created_at": ctx.clock.now(),
    }
    assert ctx.replies.save(reply={**row, "response_id": "r-1"}) is True
    assert ctx.replies.save(reply={**row, "response_id": "r-2"}) is False
    assert [r["response_id"] for r in all_rows(ctx, m.ai_responses)] == ["r-1"]
