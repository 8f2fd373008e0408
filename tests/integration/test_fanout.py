"""Fan-out on a fleet worker: the email_sender and ai_generator ticks do one item themselves,
hand the rest to batches, and the batches (the Celery tasks' own functions, run here) finish
the work with every item done once.

The Fanout here records what a tick enqueues instead of sending it to Redis; the real-process
suite (tests/reliability/test_fleet_*) runs the same batches on real workers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from reply_support import all_rows, feedback, venue
from support.smtp_server import RecordingHandler

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.fleet import tasks
from encore_backend.fleet.app import app
from encore_backend.fleet.worker_context import CTX_ATTR
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.services.fanout import FANOUT_KEY, split
from encore_backend.storage.sql import models as m


@dataclass
class RecordedFanout:
    sends: list[dict[str, float]] = field(default_factory=list)
    drafts: list[list[int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def send_emails(self, batches: int, *, items: int, seconds: float) -> int:
        self.sends += [{"items": items, "seconds": seconds}] * batches
        return batches

    def draft_replies(self, batches: Sequence[Sequence[int]], *, seconds: float) -> int:
        self.drafts += [list(ids) for ids in batches]
        self.seconds.append(seconds)
        return len(batches)


@pytest.fixture
def fanout(ctx: Container) -> Iterator[RecordedFanout]:
    """ctx as a fleet worker's container: its ticks fan out here, the tasks run on it."""
    recorded = RecordedFanout()
    ctx.extras[FANOUT_KEY] = recorded
    setattr(app, CTX_ATTR, ctx)
    yield recorded
    delattr(app, CTX_ATTR)


def lift_limits(ctx: Container) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={"max_emails_per_minute": 100_000, "max_ai_generations_per_minute": 100_000}
    )


def test_split_follows_the_rate_limit() -> None:
    assert split(0, limit_per_minute=20, item_seconds=0.05).batches == 0
    assert split(500, limit_per_minute=20, item_seconds=0.05).batches == 1  # one sender is enough
    lifted = split(500, limit_per_minute=100_000, item_seconds=0.05)
    assert (lifted.batches, lifted.per_batch) == (32, 16)  # capped; covers all 500
    assert split(3, limit_per_minute=100_000, item_seconds=1.0).batches == 3


def test_the_email_tick_sends_one_and_its_batches_send_the_rest_once(
    ctx: Container, clock: ManualClock, handler: RecordingHandler, fanout: RecordedFanout
) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    for n in range(40):
        feedback(ctx, email=f"guest{n}@example.com", name=f"guest {n}")
    del ctx.extras[FANOUT_KEY]  # draft them here, in one run
    ai_generator.run(ctx, clock.now())
    ctx.extras[FANOUT_KEY] = fanout
    lift_limits(ctx)

    result = email_sender.run(ctx, clock.now())

    assert result.details["sent"] == 1 and result.details["due"] == 39
    assert sum(batch["items"] for batch in fanout.sends) >= 39
    for batch in fanout.sends:
        tasks.send_emails.run(items=int(batch["items"]), seconds=batch["seconds"])
    recipients = [str(message["To"]) for message in handler.messages]
    assert len(recipients) == 40 == len(set(recipients))
    assert {row["status"] for row in all_rows(ctx, m.email_queue)} == {"sent"}
    tasks.send_emails.run(items=10, seconds=30.0)  # a batch delivered twice sends nothing
    assert len(handler.messages) == 40


def test_the_draft_tick_holds_what_it_hands_out_and_batches_draft_each_once(
    ctx: Container, clock: ManualClock, fanout: RecordedFanout
) -> None:
    venue(ctx)
    ids = [feedback(ctx, email=f"guest{n}@example.com") for n in range(25)]
    lift_limits(ctx)

    result = ai_generator.run(ctx, clock.now())

    assert result.items_processed == 1 and result.details["held"] == 24
    handed = sorted(i for batch in fanout.drafts for i in batch)
    assert handed == ids[1:]
    batches = len(fanout.drafts)
    again = ai_generator.run(ctx, clock.now())  # the next tick: nothing new to hand out
    assert again.details["held"] == 0 and len(fanout.drafts) == batches
    for batch in list(fanout.drafts):
        tasks.draft_replies.run(feedback_ids=batch, seconds=fanout.seconds[0])
    tasks.draft_replies.run(feedback_ids=fanout.drafts[0], seconds=30.0)  # redelivered
    replies = all_rows(ctx, m.ai_responses)
    assert sorted(r["feedback_id"] for r in replies) == ids


def test_held_feedback_returns_to_the_backlog_when_its_batch_never_ran(
    ctx: Container, clock: ManualClock, fanout: RecordedFanout
) -> None:
    venue(ctx)
    for n in range(5):
        feedback(ctx, email=f"guest{n}@example.com")
    lift_limits(ctx)
    ai_generator.run(ctx, clock.now())
    assert ctx.replies.candidates(now=clock.now()) == []  # held for the batches

    clock.advance(minutes=30)  # the worker holding them died: the hold has ended

    assert len(ctx.replies.candidates(now=clock.now())) == 4
