"""Emails to managers through the reply queue: daily/weekly reports and critical alerts.

Given venues with two managers, when daily_report or alert_detector runs and then email_sender
sends through a real aiosmtpd server, expect one email per manager and report (or alert), none
twice on reruns, none when the venue switched its reports off, escaped comments in the HTML, and
the queue's retries applying to them as to replies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from factories import make_customer, make_feedback, make_venue
from reply_support import all_rows
from support.smtp_server import RecordingHandler

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.scheduler.jobs import alert_detector, daily_report, email_sender, weekly_report
from encore_backend.services import cleanup_service
from encore_backend.storage.sql import models as m

MANAGERS = ["ana@venue.example", "ben@venue.example"]
# Monday 2026-03-09 07:00 UTC: past 06:00 in London (UTC+0 in March), Sunday's report is due.
MONDAY = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
SUNDAY_NOON = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
NASTY = '<script>alert(1)</script> & "the soup" made me sick'


def venue(ctx: Container, venue_id: str = "v1", **settings: Any) -> str:
    created = MONDAY - timedelta(days=30)
    return make_venue(
        ctx.engine,
        venue_id,
        now=created,
        timezone="Europe/London",
        manager_emails=MANAGERS,
        settings=settings,
    )


def items(ctx: Container, kind: str) -> list[dict[str, Any]]:
    return [q for q in all_rows(ctx, m.email_queue) if q["kind"] == kind]


def to(message: EmailMessage) -> str:
    return message["To"].addresses[0].addr_spec


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return part.get_content()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


def test_a_daily_report_is_emailed_once_to_each_manager(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx)
    make_feedback(ctx.engine, "v1", created_at=SUNDAY_NOON, rating=1, comment=NASTY)
    make_feedback(ctx.engine, "v1", created_at=SUNDAY_NOON, rating=5, comment="Lovely staff")
    clock.set(MONDAY)

    assert daily_report.run(ctx, clock.now(), lookback=1).items_processed == 1
    daily_report.run(ctx, clock.now(), lookback=1)  # a rerun queues nothing more
    queued = items(ctx, "report")
    assert sorted(q["customer_email"] for q in queued) == MANAGERS
    assert all(q["status"] == "pending" and q["feedback_id"] is None for q in queued)

    result = email_sender.run(ctx, clock.now())

    assert result.details["sent"] == 2
    assert sorted(to(msg) for msg in handler.messages) == MANAGERS
    message = handler.messages[0]
    assert message["Subject"].startswith("Daily report for Venue v1")
    assert "2026-03-08" in message["Subject"]
    assert "/unsubscribe/manager/" in message["List-Unsubscribe"]  # one-click (issue 13)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, text = html_of(message), text_of(message)
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert NASTY in text
    assert "/venues/v1" in html
    assert {q["status"] for q in items(ctx, "report")} == {"sent"}
    assert email_sender.run(ctx, clock.now()).details["sent"] == 0  # nothing twice


def test_reports_switched_off_are_stored_but_not_emailed(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx, daily_report_enabled=False)
    make_feedback(ctx.engine, "v1", created_at=SUNDAY_NOON, rating=4)
    clock.set(MONDAY)

    assert daily_report.run(ctx, clock.now(), lookback=1).items_processed == 1
    assert weekly_report.run(ctx, clock.now(), lookback=1).items_processed == 1

    kinds = {q["report_id"] for q in items(ctx, "report")}
    weekly = [r for r in all_rows(ctx, m.reports) if r["kind"] == "weekly"]
    assert kinds == {weekly[0]["report_id"]}  # the weekly one, still switched on
    assert len(items(ctx, "report")) == len(MANAGERS)


def test_a_catch_up_stores_every_missed_report_but_emails_the_newest(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx)
    clock.set(MONDAY)

    created = daily_report.run(ctx, clock.now(), lookback=3).items_processed

    assert created == 3
    newest = max(all_rows(ctx, m.reports), key=lambda r: r["period_start"])
    assert {q["report_id"] for q in items(ctx, "report")} == {newest["report_id"]}
    assert len(items(ctx, "report")) == len(MANAGERS)


def test_older_reports_stored_after_the_newest_are_not_emailed(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    """An hourly run (lookback 1) stores and mails the newest day; a catch-up run at the same
    time then stores the older days and must not mail the newest of *those*."""
    venue(ctx)
    clock.set(MONDAY)
    assert daily_report.run(ctx, clock.now(), lookback=1).items_processed == 1
    first = {q["queue_id"] for q in items(ctx, "report")}

    assert daily_report.run(ctx, clock.now(), lookback=3).items_processed == 2

    assert {q["queue_id"] for q in items(ctx, "report")} == first


def test_a_fresh_critical_alert_emails_each_manager_once(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx)
    clock.set(MONDAY)
    customer = make_customer(ctx.engine, now=MONDAY, name="Dana")
    fresh = make_feedback(
        ctx.engine,
        "v1",
        created_at=MONDAY - timedelta(minutes=5),
        rating=1,
        comment=NASTY,
        customer_id=customer,
    )
    old = make_feedback(
        ctx.engine,
        "v1",
        created_at=MONDAY - timedelta(days=3),
        rating=1,
        comment="I got food poisoning",
    )
    make_feedback(ctx.engine, "v1", created_at=MONDAY, rating=2, comment="The staff were rude")

    alert_detector.run(ctx, clock.now())
    alert_detector.run(ctx, clock.now())  # a rerun finds nothing new

    queued = items(ctx, "alert")
    assert sorted(q["customer_email"] for q in queued) == MANAGERS
    assert {q["feedback_id"] for q in queued} == {fresh}  # old history and non-critical: none
    assert old not in {q["feedback_id"] for q in queued}

    handler.faults.append("451")  # the first attempt is deferred: retried like a reply
    first = email_sender.run(ctx, clock.now())
    clock.advance(hours=2)
    second = email_sender.run(ctx, clock.now())

    assert first.details["retried"] == 1
    assert first.details["sent"] + second.details["sent"] == 2
    assert sorted(to(msg) for msg in handler.messages) == MANAGERS
    message = handler.messages[0]
    assert message["Subject"].startswith("Critical alert at Venue v1")
    assert "&lt;script&gt;" in html_of(message) and "<script>" not in html_of(message)
    assert "Dana" in text_of(message)
    history = [ctx.email_queue.history(q["queue_id"]) for q in items(ctx, "alert")]
    assert sorted(len(h) for h in history) == [1, 2]  # one retry, then sent


def test_the_orphan_check_keeps_manager_emails(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx)
    clock.set(MONDAY)
    daily_report.run(ctx, clock.now(), lookback=1)
    before = {q["queue_id"] for q in items(ctx, "report")}
    assert len(before) == len(MANAGERS)

    counts = cleanup_service.run_cleanup(ctx, now=clock.now())

    assert counts["orphan_queue_items"] == 0  # no feedback or reply is not an orphan
    assert {q["queue_id"] for q in items(ctx, "report")} == before
