"""The response deadline (job response_sla) on real databases, with a manual clock.

Given bad feedback (rated 1-2, or raising a high or critical alert) at venues with two managers,
when response_sla runs, expect each feedback escalated exactly once when `response_sla_hours` of
the venue's local clock have passed without a sent reply (23 elapsed hours across a spring-forward
change), never before and never when answered in time; one escalation email per manager, sent by
email_sender to a real SMTP server; one `feedback.escalated` webhook to a real HTTP receiver;
reruns, a racing second run and a catch-up after a 3-day outage adding nothing; a dry run writing
nothing; and in the DynamoDB profile the DynamoDB alert marked and the email queued once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import make_customer, make_feedback, make_venue
from reply_support import all_rows, use_manual_sleep
from sqlalchemy import select, update
from support.derived import queued_emails
from support.smtp_server import RecordingHandler
from support.webhook_receiver import WebhookReceiver

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock, iso_z
from encore_backend.domain.manager_prefs import Pref
from encore_backend.domain.response_deadline import due_at
from encore_backend.scheduler.jobs import alert_detector, email_sender, response_sla
from encore_backend.services import alert_service, feedback_service, sla_service
from encore_backend.services.alert_service import alert_id_for
from encore_backend.services.report_service import produce_reports
from encore_backend.services.stats_service import refresh_snapshots
from encore_backend.storage.sql import models as m

MANAGERS = ["ana@venue.example", "ben@venue.example"]
LONDON = "Europe/London"
# Clocks in London go forward at 01:00 UTC on Sunday 29 March 2026 (GMT → BST).
BEFORE_CHANGE = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday 12:00 GMT
DUE_AFTER_CHANGE = datetime(2026, 3, 29, 11, 0, tzinfo=UTC)  # Sunday 12:00 BST: 23 h later
TICK = timedelta(microseconds=1)
F = m.feedback.c


def venue(ctx: Container, venue_id: str = "v1", *, hook: str | None = None, **settings: Any) -> str:
    return make_venue(
        ctx.engine,
        venue_id,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        timezone=LONDON,
        manager_emails=MANAGERS,
        webhook_url=hook,
        settings=settings,
    )


def bad(ctx: Container, created_at: datetime, *, rating: int = 1, comment: str = "") -> int:
    """Bad feedback from a customer a reply can reach (an address, subscribed)."""
    text = comment or "Cold food and nobody came to the table."
    guest = make_customer(ctx.engine, now=created_at)
    return make_feedback(
        ctx.engine, "v1", created_at=created_at, rating=rating, comment=text, customer_id=guest
    )


def escalated(ctx: Container) -> dict[int, datetime]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(F.feedback_id, F.escalated_at).where(F.escalated_at.is_not(None))
        )
        return {int(i): at for i, at in rows}


def escalation_emails(ctx: Container, venue_id: str = "v1") -> Counter[tuple[str, str]]:
    return Counter(
        (q["notice_key"], q["customer_email"])
        for q in queued_emails(ctx, venue_id)
        if q["kind"] == "escalation"
    )


def escalation_deliveries(ctx: Container) -> list[dict[str, Any]]:
    rows = all_rows(ctx, m.webhook_deliveries)
    return [r for r in rows if r["event"] == "feedback.escalated"]


def run(ctx: Container, at: datetime) -> Any:
    ctx.clock.set(at)  # type: ignore[attr-defined]
    return response_sla.run(ctx, at)


@pytest.fixture
def receiver(ctx: Container, clock: ManualClock) -> Iterator[WebhookReceiver]:
    use_manual_sleep(ctx, clock)
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def test_across_spring_forward_the_deadline_is_24_local_hours_23_elapsed(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    fid = bad(ctx, BEFORE_CHANGE)
    assert due_at(BEFORE_CHANGE, LONDON, 24) == DUE_AFTER_CHANGE

    assert run(ctx, DUE_AFTER_CHANGE - TICK).details["escalated"] == 0
    assert escalated(ctx) == {}

    assert run(ctx, DUE_AFTER_CHANGE).details["escalated"] == 1
    assert run(ctx, DUE_AFTER_CHANGE + timedelta(minutes=15)).details["escalated"] == 0

    assert escalated(ctx) == {fid: DUE_AFTER_CHANGE}
    assert escalation_emails(ctx) == Counter((f"escalation:{fid}", e) for e in MANAGERS)
    payload = next(q for q in queued_emails(ctx, "v1") if q["kind"] == "escalation")["payload"]
    assert payload["due_at"] == "2026-03-29T11:00:00Z" and payload["rating"] == 1


def test_a_wall_time_the_change_skips_falls_an_hour_later_on_the_new_clock() -> None:
    """01:30 on 29 March does not exist in London: a review left at 01:30 GMT the day before
    is due at 02:30 BST (24 elapsed hours), never before the local hour it names."""
    created = datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
    assert due_at(created, LONDON, 24) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # Autumn: 01:30 on 25 October happens twice; the first one counts (25 elapsed hours).
    autumn = datetime(2026, 10, 24, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert due_at(autumn, LONDON, 24) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    new_york = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)  # 12:00 EST, the day before the change
    assert due_at(new_york, "America/New_York", 24) - new_york == timedelta(hours=23)


def test_after_a_3_day_outage_one_run_escalates_each_overdue_feedback_once(
    ctx: Container, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    venue(ctx, hook=receiver.url, response_sla_hours=12)
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    overdue = [bad(ctx, start + timedelta(hours=h)) for h in (0, 20, 40, 60)]
    not_yet = bad(ctx, start + timedelta(hours=70))  # due at 82 h
    history = bad(ctx, start - timedelta(days=9))  # due over 7 days before the run: history
    run(ctx, start)  # the last run before the outage

    result = run(ctx, start + timedelta(hours=72))
    run(ctx, start + timedelta(hours=72, minutes=15))  # the next tick

    assert result.details["escalated"] == 4
    assert set(escalated(ctx)) == set(overdue)
    assert not_yet not in escalated(ctx) and history not in escalated(ctx)
    keys = [f"escalation:{fid}" for fid in overdue]
    assert escalation_emails(ctx) == Counter((k, e) for k in keys for e in MANAGERS)
    deliveries = escalation_deliveries(ctx)
    assert sorted(d["feedback_id"] for d in deliveries) == sorted(overdue)
    assert {d["status"] for d in deliveries} == {"delivered"}
    posted = [
        r for r in receiver.successes() if r.headers["x-encore-event"] == "feedback.escalated"
    ]
    assert len(posted) == 4
    body = json.loads(posted[0].body)
    assert body["event"] == "feedback.escalated" and set(body) == {"event", "feedback", "alert"}
    assert set(body["feedback"]) == {
        "feedback_id", "venue_id", "rating", "comment", "created_at", "due_at", "escalated_at"
    }  # fmt: skip

    run(ctx, start + timedelta(hours=83))  # the last one falls due
    assert not_yet in escalated(ctx) and len(escalation_deliveries(ctx)) == 5


def test_a_second_concurrent_run_escalates_nothing_more(ctx: Container, clock: ManualClock) -> None:
    venue(ctx)
    now = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
    ids = [bad(ctx, now - timedelta(hours=25, minutes=i)) for i in range(20)]
    clock.set(now)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        barrier.wait()
        results.append(response_sla.run(ctx, now).details["escalated"])

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(results) == 20
    assert set(escalated(ctx)) == set(ids)
    assert sum(escalation_emails(ctx).values()) == 20 * len(MANAGERS)
    assert set(escalation_emails(ctx).values()) == {1}


def test_answered_in_time_and_mild_feedback_is_never_escalated(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    created = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    answered = bad(ctx, created)
    with ctx.engine.begin() as conn:
        conn.execute(
            update(m.feedback)
            .where(F.feedback_id == answered)
            .values(responded_at=created + timedelta(hours=3), status="responded")
        )
    rude = bad(ctx, created, rating=3, comment="The waiter was rude.")  # a medium alert
    sick = bad(ctx, created, rating=4, comment="Lovely room but I got sick after.")  # critical
    fine = bad(ctx, created, rating=5, comment="Perfect.")
    alert_detector.run(ctx, created + timedelta(minutes=5))
    assert ctx.alerts.for_feedback(rude)["level"] == "medium"  # type: ignore[index]
    assert ctx.alerts.for_feedback(sick)["level"] == "critical"  # type: ignore[index]

    run(ctx, created + timedelta(hours=30))

    assert set(escalated(ctx)) == {sick}
    assert answered not in escalated(ctx) and fine not in escalated(ctx)
    alert = alert_service.public_alert(ctx.alerts.for_feedback(sick))  # type: ignore[arg-type]
    assert alert["escalated_at"] == iso_z(created + timedelta(hours=30))
    shown = feedback_service.public_feedback(ctx.feedback.get(sick))  # type: ignore[arg-type]
    assert shown["escalated_at"] == created + timedelta(hours=30)
    assert feedback_service.public_feedback(ctx.feedback.get(rude))["escalated_at"] is None  # type: ignore[arg-type]


def test_feedback_nobody_can_answer_or_a_manager_declined_is_never_overdue(
    ctx: Container,
) -> None:
    """No address, an unsubscribed customer (their reply is cancelled) or a reply the manager
    rejected: no reply will ever be sent, so nothing to escalate or count as overdue."""
    venue(ctx)
    created = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    anonymous = make_feedback(ctx.engine, "v1", created_at=created, rating=1, comment="Awful.")
    unsubscribed = bad(ctx, created)
    declined = bad(ctx, created)
    waiting = bad(ctx, created)
    with ctx.engine.begin() as conn:
        conn.execute(
            update(m.customers)
            .where(
                m.customers.c.customer_id
                == select(F.customer_id).where(F.feedback_id == unsubscribed).scalar_subquery()
            )
            .values(unsubscribed_at=created)
        )
        conn.execute(
            m.ai_responses.insert().values(
                response_id="r-declined",
                feedback_id=declined,
                venue_id="v1",
                subject="Sorry",
                body="We are sorry.",
                status="rejected",
                provider="template",
                created_at=created + timedelta(hours=1),
            )
        )

    run(ctx, created + timedelta(hours=30))

    assert set(escalated(ctx)) == {waiting}
    assert anonymous not in escalated(ctx)
    assert ctx.alerts.count_overdue("v1") == 1
    venue_row = {**ctx.venues.get("v1"), **ctx.venues.get_settings("v1")}  # type: ignore[dict-item]
    listed = sla_service.unanswered_for_report(
        ctx, venue_row, until=created + timedelta(days=1), now=created + timedelta(hours=30)
    )
    assert [item["feedback_id"] for item in listed] == [waiting]


def test_a_dry_run_lists_what_it_would_escalate_and_writes_nothing(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx, hook="http://127.0.0.1:9/hook")
    now = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
    fid = bad(ctx, now - timedelta(hours=30))
    before = {t.name: all_rows(ctx, t) for t in (m.feedback, m.email_queue, m.webhook_deliveries)}
    clock.set(now)

    result = response_sla.run(ctx, now, dry_run=True)

    assert result.details["dry_run"] is True and result.details["would_escalate"] == 1
    assert result.details["items"][0]["feedback_id"] == fid
    after = {t.name: all_rows(ctx, t) for t in (m.feedback, m.email_queue, m.webhook_deliveries)}
    assert after == before


def test_the_escalation_email_is_sent_to_each_manager(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    venue(ctx)
    fid = bad(ctx, BEFORE_CHANGE, comment="Waited an hour <b>for soup</b>.")
    run(ctx, DUE_AFTER_CHANGE + timedelta(hours=2))

    sent = email_sender.run(ctx, clock.now())
    email_sender.run(ctx, clock.now())

    assert sent.details["sent"] == 2
    assert sorted(m_["To"] for m_ in handler.messages) == MANAGERS
    message = handler.messages[0]
    assert message["Subject"] == "Overdue: a 1★ review at Venue v1 has no reply after 24 h"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Waited an hour <b>for soup</b>." in text and "Overdue by: 2 h" in text
    assert "/venues/v1" in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;for soup&lt;/b&gt;" in html
    statuses = {q["status"] for q in queued_emails(ctx, "v1") if q["feedback_id"] == fid}
    assert statuses == {"sent"}


def test_stats_and_the_daily_report_show_what_is_still_unanswered(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    old = bad(ctx, datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
    new = bad(ctx, datetime(2026, 5, 5, 20, 0, tzinfo=UTC), rating=2)
    bad(ctx, datetime(2026, 5, 5, 21, 0, tzinfo=UTC), rating=5)
    now = datetime(2026, 5, 6, 6, 0, tzinfo=UTC)  # 07:00 BST: the daily report is due
    run(ctx, now)
    assert set(escalated(ctx)) == {old}

    refresh_snapshots(store=ctx.stats, now=now)
    assert ctx.stats.latest("v1")["stats"]["overdue_responses"] == 1  # type: ignore[index]
    produce_reports(ctx, kind="daily", now=now, lookback=1)
    report = ctx.reports.list_for_venue("v1", kind="daily", limit=1)[0]
    unanswered = report["content"]["unanswered"]

    assert [u["feedback_id"] for u in unanswered] == [old, new]
    assert unanswered[0]["escalated_at"] == iso_z(now) and unanswered[1]["escalated_at"] is None
    assert unanswered[1]["due_at"] == "2026-05-06T20:00:00Z"


def test_each_profile_marks_its_alert_and_queues_the_email_once(
    ctx: Container, store_ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    """SQL, and DynamoDB (alerts and the queue there, feedback in SQL)."""
    smtp = {k: getattr(ctx.settings, k) for k in ("email_backend", "smtp_host", "smtp_port")}
    store_ctx.settings = store_ctx.settings.model_copy(update=smtp)
    use_manual_sleep(store_ctx, clock)
    venue(store_ctx)
    created = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    fid = bad(store_ctx, created, rating=4, comment="Found a cockroach in the salad.")
    alert_detector.run(store_ctx, created + timedelta(minutes=5))
    now = created + timedelta(hours=25)

    run(store_ctx, now)
    run(store_ctx, now + timedelta(minutes=15))

    assert store_ctx.alerts.get(alert_id_for(fid))["escalated_at"] == now  # type: ignore[index]
    assert escalation_emails(store_ctx) == Counter((f"escalation:{fid}", e) for e in MANAGERS)
    assert email_sender.run(store_ctx, clock.now()).details["sent"] == 2
    assert {msg["Subject"] for msg in handler.messages} == {
        "Overdue: a 4★ review at Venue v1 has no reply after 24 h"
    }


def test_the_overdue_preview_of_sla_service_matches_the_run(
    ctx: Container, clock: ManualClock
) -> None:
    venue(ctx)
    now = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
    fid = bad(ctx, now - timedelta(hours=24, minutes=1))
    preview = sla_service.escalate_overdue(ctx, now=now, dry_run=True)
    assert [o.feedback_id for o in preview.overdue] == [fid] and preview.escalated == []


def test_the_webhook_goes_only_when_the_escalation_reaches_the_venues_level(
    ctx: Container, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    venue(ctx, hook=receiver.url, alert_notify_min_level="critical")
    created = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    cold = bad(ctx, created)  # a high alert (rating 1): the escalation is high
    sick = bad(ctx, created, rating=4, comment="I was sick all night.")  # critical
    alert_detector.run(ctx, created + timedelta(minutes=5))
    receiver.requests.clear()
    now = created + timedelta(hours=24)

    run(ctx, now)

    assert set(escalated(ctx)) == {cold, sick}
    [delivery] = escalation_deliveries(ctx)
    assert delivery["feedback_id"] == sick and delivery["alert_id"] == alert_id_for(sick)
    [posted] = receiver.successes()
    assert posted.headers["x-encore-event"] == "feedback.escalated"
    body = json.loads(posted.body)
    assert body["alert"]["alert_id"] == alert_id_for(sick)
    assert body["alert"]["escalated_at"] == body["feedback"]["escalated_at"] == iso_z(now)
    assert body["feedback"]["due_at"] == iso_z(now)


def test_escalation_emails_follow_each_managers_preferences(ctx: Container) -> None:
    """Standard gets it at once, `weekly` and `digest` get no email (the digest lists it), and
    `immediate` with quiet hours 22-07 London gets it when the quiet hours end."""
    venue(ctx)
    managers = ["std@v.example", "weekly@v.example", "digest@v.example", "night@v.example"]
    with ctx.engine.begin() as conn:
        conn.execute(update(m.venues).values(manager_emails=managers))
    prefs = {
        "weekly@v.example": Pref("weekly"),
        "digest@v.example": Pref("digest", digest_hour=7),
        "night@v.example": Pref("immediate", quiet_start_hour=22, quiet_end_hour=7),
    }
    for address, pref in prefs.items():
        ctx.manager_prefs.put("v1", address, pref, now=BEFORE_CHANGE)
    created = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)  # GMT: due 23:00 the next day, quiet
    fid = bad(ctx, created)

    response_sla.run(ctx, created + timedelta(hours=24, minutes=5))

    due = {q["customer_email"]: q["scheduled_send_time"] for q in queued_emails(ctx, "v1")}
    assert set(due) == {"std@v.example", "night@v.example"}
    assert due["std@v.example"] == created + timedelta(hours=24, minutes=5)
    assert due["night@v.example"] == datetime(2026, 1, 12, 7, 0, tzinfo=UTC)
    assert fid in escalated(ctx)
