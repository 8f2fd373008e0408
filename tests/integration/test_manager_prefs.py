"""Manager preferences on a real database: who gets alert, report and digest emails, and when.

Given a venue with one manager per mode, when alert_detector, daily_report and weekly_report run
and email_sender sends through a real aiosmtpd server, expect each mode's emails only (critical
and high alerts, reports), quiet hours deferring all but critical, a 07:00 digest queued once in
each of two time zones over a simulated day, and a manager's one-click unsubscribe silencing
that address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from factories import make_customer, make_feedback, make_venue
from fastapi.testclient import TestClient
from reply_support import all_rows
from support.smtp_server import RecordingHandler

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.manager_prefs import Pref
from encore_backend.scheduler.jobs import alert_detector, daily_report, email_sender, weekly_report
from encore_backend.storage.sql import models as m

MODES = ("standard", "immediate", "digest", "weekly", "none")
MANAGERS = {mode: f"{mode}@venue.example" for mode in MODES}
MONDAY = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # London = UTC in March
CRITICAL = "I got food poisoning here"
HIGH = "There was a cockroach under the table"


def venue(ctx: Container, venue_id: str = "v1", tz: str = "Europe/London", **prefs: Pref) -> str:
    make_venue(
        ctx.engine,
        venue_id,
        now=MONDAY - timedelta(days=30),
        timezone=tz,
        manager_emails=list(MANAGERS.values()) if not prefs else list(prefs),
    )
    chosen = prefs or {MANAGERS[mode]: pref_of(mode) for mode in MODES if mode != "standard"}
    for address, pref in chosen.items():
        if pref is not None:
            ctx.manager_prefs.put(venue_id, address, pref, now=MONDAY)
    return venue_id


def pref_of(mode: str, quiet: tuple[int, int] | None = None) -> Pref:
    start, end = quiet or (None, None)
    hour = 7 if mode == "digest" else None
    return Pref(mode, digest_hour=hour, quiet_start_hour=start, quiet_end_hour=end)


def queued(ctx: Container, kind: str) -> list[dict[str, Any]]:
    return [q for q in all_rows(ctx, m.email_queue) if q["kind"] == kind]


def recipients_of(ctx: Container, kind: str, feedback_id: int | None = None) -> set[str]:
    return {
        q["customer_email"]
        for q in queued(ctx, kind)
        if feedback_id is None or q["feedback_id"] == feedback_id
    }


def to(message: EmailMessage) -> str:
    return message["To"].addresses[0].addr_spec


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


def test_alert_emails_follow_each_mode(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx)
    clock.set(MONDAY)
    critical = make_feedback(ctx.engine, "v1", created_at=MONDAY, rating=3, comment=CRITICAL)
    high = make_feedback(ctx.engine, "v1", created_at=MONDAY, rating=3, comment=HIGH)

    alert_detector.run(ctx, clock.now())

    assert recipients_of(ctx, "alert", critical) == {
        MANAGERS["standard"],
        MANAGERS["immediate"],
        MANAGERS["digest"],
    }
    assert recipients_of(ctx, "alert", high) == {MANAGERS["immediate"]}
    assert email_sender.run(ctx, clock.now()).details["sent"] == 4
    subjects = {(to(msg), msg["Subject"].split()[0]) for msg in handler.messages}
    assert (MANAGERS["immediate"], "High") in subjects


def test_reports_follow_each_mode(ctx: Container, clock: ManualClock) -> None:
    venue(ctx)
    clock.set(MONDAY)

    daily_report.run(ctx, clock.now(), lookback=1)
    weekly_report.run(ctx, clock.now(), lookback=1)

    reports = {r["report_id"]: r["kind"] for r in all_rows(ctx, m.reports)}
    by_kind: dict[str, set[str]] = {"daily": set(), "weekly": set()}
    for item in queued(ctx, "report"):
        by_kind[reports[item["report_id"]]].add(item["customer_email"])
    assert by_kind["daily"] == {MANAGERS["standard"], MANAGERS["immediate"]}
    assert by_kind["weekly"] == {MANAGERS[m] for m in ("standard", "immediate", "digest", "weekly")}


def test_quiet_hours_defer_a_high_alert_but_not_a_critical_one(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    night = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # 23:30 in London
    address = "night@venue.example"
    venue(ctx, **{address: pref_of("immediate", quiet=(22, 7))})
    clock.set(night)
    high = make_feedback(ctx.engine, "v1", created_at=night, rating=3, comment=HIGH)
    critical = make_feedback(ctx.engine, "v1", created_at=night, rating=3, comment=CRITICAL)

    alert_detector.run(ctx, clock.now())

    times = {q["feedback_id"]: q["scheduled_send_time"] for q in queued(ctx, "alert")}
    assert times[critical] == night
    assert times[high] == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert email_sender.run(ctx, clock.now()).details["sent"] == 1  # the critical one
    clock.set(datetime(2026, 3, 10, 6, 59, tzinfo=UTC))
    assert email_sender.run(ctx, clock.now()).details["sent"] == 0
    clock.set(datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    assert email_sender.run(ctx, clock.now()).details["sent"] == 1
    assert [msg["Subject"].split()[0] for msg in handler.messages] == ["Critical", "High"]


def test_a_digest_at_seven_in_two_time_zones(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    london, la = "ldn@venue.example", "lax@venue.example"
    venue(ctx, "ldn", "Europe/London", **{london: pref_of("digest")})
    venue(ctx, "lax", "America/Los_Angeles", **{la: pref_of("digest")})
    start = datetime(2026, 3, 10, 0, 5, tzinfo=UTC)  # daily_report fires at :05
    # In London's window (Mon 07:00 - Tue 07:00): two feedback, one bad and unanswered.
    make_feedback(ctx.engine, "ldn", created_at=start - timedelta(hours=2), rating=5)
    guest = make_customer(ctx.engine, now=start)  # a reply could reach them
    bad = make_feedback(
        ctx.engine, "ldn", created_at=start, rating=1, comment="Cold soup, rude", customer_id=guest
    )
    seen: dict[str, datetime] = {}
    for hour in range(30):
        now = start + timedelta(hours=hour)
        clock.set(now)
        daily_report.run(ctx, now)
        for item in queued(ctx, "digest"):
            seen.setdefault(item["customer_email"], now)

    # 07:05 local: London is UTC+0, Los Angeles UTC-7 (PDT since 8 March).
    assert seen == {
        london: datetime(2026, 3, 10, 7, 5, tzinfo=UTC),
        la: datetime(2026, 3, 10, 14, 5, tzinfo=UTC),
    }
    items = {q["customer_email"]: q for q in queued(ctx, "digest")}
    assert len(queued(ctx, "digest")) == 2
    assert items[london]["notice_key"] == "digest:ldn:2026-03-10"
    assert items[la]["notice_key"] == "digest:lax:2026-03-10"
    payload = items[london]["payload"]
    assert (payload["feedback"], payload["unanswered_count"]) == (2, 1)
    assert payload["unanswered"][0]["feedback_id"] == bad
    daily_report.run(ctx, datetime(2026, 3, 10, 14, 30, tzinfo=UTC))  # a rerun adds nothing
    assert len(queued(ctx, "digest")) == 2

    assert email_sender.run(ctx, clock.now()).details["sent"] == 2
    message = next(msg for msg in handler.messages if to(msg) == london)
    assert message["Subject"] == "Daily digest for Venue ldn: 2026-03-10"
    assert "Cold soup, rude" in text_of(message)
    assert "Feedback received: 2" in text_of(message)
    assert "/unsubscribe/manager/" in message["List-Unsubscribe"]


def test_a_digest_missed_while_down_is_queued_once_by_the_catch_up(
    ctx: Container, clock: ManualClock
) -> None:
    address = "ldn@venue.example"
    venue(ctx, **{address: pref_of("digest")})

    daily_report.run(ctx, datetime(2026, 3, 10, 6, 5, tzinfo=UTC))
    assert queued(ctx, "digest") == []
    daily_report.run(ctx, datetime(2026, 3, 10, 10, 40, tzinfo=UTC))  # down from 06:05 to 10:40
    daily_report.run(ctx, datetime(2026, 3, 10, 11, 5, tzinfo=UTC))
    assert [q["notice_key"] for q in queued(ctx, "digest")] == ["digest:v1:2026-03-10"]
    daily_report.run(ctx, datetime(2026, 3, 10, 14, 5, tzinfo=UTC))  # past the window: none
    assert len(queued(ctx, "digest")) == 1


def test_one_click_unsubscribe_silences_the_address(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx, **{"ana@venue.example": None, "ben@venue.example": None})  # type: ignore[arg-type]
    clock.set(MONDAY)
    make_feedback(ctx.engine, "v1", created_at=MONDAY, rating=1, comment=CRITICAL)
    alert_detector.run(ctx, clock.now())
    email_sender.run(ctx, clock.now())
    message = next(msg for msg in handler.messages if to(msg) == "ana@venue.example")
    link = message["List-Unsubscribe"].strip("<>")
    path = link.split("127.0.0.1:8000", 1)[1]
    assert path in text_of(message)  # the visible link too

    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        assert "<form" in client.get(path).text
        assert ctx.manager_prefs.for_venue("v1") == {}  # a GET changes nothing
        answer = client.post(path, content="List-Unsubscribe=One-Click")
        assert answer.status_code == 200
        assert client.post(path[:-3] + "xyz").status_code == 404  # tampered
        assert client.get(path[:-3] + "xyz").status_code == 404

    assert ctx.manager_prefs.for_venue("v1") == {"ana@venue.example": Pref("none")}
    later = MONDAY + timedelta(hours=1)
    clock.set(later)
    again = make_feedback(ctx.engine, "v1", created_at=later, rating=1, comment=CRITICAL)
    alert_detector.run(ctx, clock.now())
    assert recipients_of(ctx, "alert", again) == {"ben@venue.example"}
