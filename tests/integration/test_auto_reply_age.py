"""AUTO_REPLY_MAX_AGE_HOURS: ai_generator drafts (and so auto-sends) no reply for feedback
created longer ago than the setting before the run's `now` (imported history)."""

from __future__ import annotations

from datetime import timedelta

from reply_support import feedback, venue

from encore_backend.bootstrap import Container
from encore_backend.scheduler.jobs import ai_generator


def test_old_feedback_gets_no_auto_reply_and_recent_does(ctx: Container) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    recent = feedback(ctx, age=timedelta(hours=71))
    old = feedback(ctx, age=timedelta(hours=73))
    now = ctx.clock.now()

    preview = ai_generator.run(ctx, now, dry_run=True)
    assert preview.details["feedback_ids"] == [recent]

    ai_generator.run(ctx, now)

    reply = ctx.replies.for_feedback(recent)
    assert reply is not None and reply["status"] == "auto_approved"
    assert ctx.replies.for_feedback(old) is None
    old_row = ctx.feedback.get(old)
    assert old_row is not None and old_row["status"] == "new"


def test_the_limit_is_the_setting(ctx: Container) -> None:
    ctx.settings = ctx.settings.model_copy(update={"auto_reply_max_age_hours": 1})
    venue(ctx)
    two_hours = feedback(ctx, age=timedelta(hours=2))
    half_hour = feedback(ctx, age=timedelta(minutes=30))

    ai_generator.run(ctx, ctx.clock.now())

    assert ctx.replies.for_feedback(two_hours) is None
    assert ctx.replies.for_feedback(half_hour) is not None
