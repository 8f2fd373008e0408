"""The EmailQueueStore contract, on SQL (SQLite, MariaDB, PostgreSQL) and DynamoDB (moto).

Given replies queued through the ports, expect every method of the queue to behave alike:
claims only of due items and by one claimant, outcomes only by the claim holding the item
(the reply, the feedback and the history kept in step), operator moves only from their
statuses, listings in the same order and pages, counts, and the claim race won once per item.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from support.queue_setup import (
    alert_with_emails,
    feedback,
    queued_reply,
    reply,
    report_with_emails,
    venue,
)

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.services.email_service import new_queue_item
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.email_queue import OUTCOME_UNKNOWN, SEND_CONTEXT
from encore_backend.storage.sql.ops_counts import SqlOpsCountStore

LEASE = timedelta(minutes=5)
QUEUE_COLUMNS = {c.name for c in m.email_queue.c}
HISTORY_COLUMNS = {c.name for c in m.email_history.c}
CONTEXT_COLUMNS = {c.key for c in SEND_CONTEXT.selected_columns}


def claim(ctx: Container, token: str = "w1") -> dict[str, Any] | None:
    now = ctx.clock.now()
    return ctx.email_queue.claim_next(now=now, claim=token, lease_until=now + LEASE)


def status_of(ctx: Container, queue_id: str) -> str:
    item = ctx.email_queue.get(queue_id)
    assert item is not None
    return str(item["status"])


def reply_status(ctx: Container, item: dict[str, Any]) -> str:
    found = ctx.replies.get(item["response_id"])
    assert found is not None
    return str(found["status"])


def outcomes(ctx: Container, queue_id: str) -> list[str]:
    return [h["outcome"] for h in ctx.email_queue.history(queue_id)]


@pytest.fixture
def v1(store_ctx: Container) -> Container:
    venue(store_ctx)
    return store_ctx


# --- reads ---------------------------------------------------------------------------------


def test_unknown_ids_read_as_none(store_ctx: Container) -> None:
    queue = store_ctx.email_queue
    assert queue.get("no-such-item") is None
    assert queue.for_response("no-such-reply") is None
    assert queue.send_context("no-such-item") is None
    assert queue.history("no-such-item") == []
    assert queue.list_for_venue("v1") == []
    assert queue.count_by_status() == {}
    assert queue.count_by_kind_and_status() == {}
    now = store_ctx.clock.now()
    assert not queue.has_due(now=now)
    assert queue.due_items(now=now) == (0, [])
    assert queue.claim_next(now=now, claim="w", lease_until=now + LEASE) is None


def test_a_queued_reply_reads_back_whole(v1: Container) -> None:
    item = queued_reply(v1)
    got = v1.email_queue.get(item["queue_id"])
    assert got == item == v1.email_queue.for_response(item["response_id"])
    assert set(got) == QUEUE_COLUMNS
    assert all(set(i) == QUEUE_COLUMNS for i in v1.email_queue.list_for_venue("v1"))
    assert got["status"] == "pending" and got["kind"] == "reply" and got["attempts"] == 0
    assert got["scheduled_send_time"] == v1.clock.now()
    assert got["scheduled_send_time"].tzinfo is not None
    assert got["claimed_by"] is None and got["report_id"] is None


def test_list_for_venue_newest_first_ties_by_id_and_pages_with_after(
    v1: Container, clock: ManualClock
) -> None:
    venue(v1, "v2")
    start = clock.now()
    sends = [start - timedelta(minutes=m) for m in (0, 10, 10, 10, 20, 30, 30)]
    items = [queued_reply(v1, send_at=t) for t in sends]
    queued_reply(v1, venue_id="v2")
    v1.email_queue.cancel(items[2]["queue_id"], now=start, reason="test")
    expected = sorted(items, key=lambda i: i["queue_id"])
    expected.sort(key=lambda i: i["scheduled_send_time"], reverse=True)
    order = [i["queue_id"] for i in expected]

    listed = v1.email_queue.list_for_venue("v1")
    assert [i["queue_id"] for i in listed] == order
    paged, after = [], None
    while page := v1.email_queue.list_for_venue("v1", limit=2, after=after):
        paged += [i["queue_id"] for i in page]
        after = (page[-1]["scheduled_send_time"], page[-1]["queue_id"])
    assert paged == order
    cancelled = v1.email_queue.list_for_venue("v1", status="cancelled")
    assert [i["queue_id"] for i in cancelled] == [items[2]["queue_id"]]
    assert v1.email_queue.list_for_venue("v1", status="sent") == []
    assert len(v1.email_queue.list_for_venue("v1", limit=3)) == 3


def test_counts_by_status_and_kind(v1: Container) -> None:
    items = [queued_reply(v1) for _ in range(3)]
    v1.email_queue.cancel(items[0]["queue_id"], now=v1.clock.now(), reason="test")
    report_with_emails(v1, {"total_feedback": 0})
    assert v1.email_queue.count_by_status() == {"pending": 4, "cancelled": 1}
    assert v1.email_queue.count_by_kind_and_status() == {
        ("reply", "pending"): 2,
        ("reply", "cancelled"): 1,
        ("report", "pending"): 2,
    }


# --- due items and claims ------------------------------------------------------------------


def test_only_due_items_are_offered_and_claimed(v1: Container, clock: ManualClock) -> None:
    now = clock.now()
    later = queued_reply(v1, send_at=now + timedelta(minutes=30))
    due = queued_reply(v1, send_at=now - timedelta(minutes=1))
    assert v1.email_queue.has_due(now=now)
    count, preview = v1.email_queue.due_items(now=now)
    assert count == 1
    assert preview == [
        {k: due[k] for k in ("queue_id", "kind", "customer_email", "scheduled_send_time")}
        | {"attempts": 0}
    ]
    got = claim(v1)
    assert got is not None and got["queue_id"] == due["queue_id"]
    assert got["status"] == "sending" and got["claimed_by"] == "w1"
    assert got["lease_expires_at"] == now + LEASE
    assert claim(v1, "w2") is None and not v1.email_queue.has_due(now=now)
    clock.advance(minutes=30)
    assert v1.email_queue.due_items(now=clock.now())[0] == 1
    nxt = claim(v1, "w2")
    assert nxt is not None and nxt["queue_id"] == later["queue_id"]


def test_due_items_counts_all_and_lists_the_oldest_first(v1: Container, clock: ManualClock) -> None:
    now = clock.now()
    items = [queued_reply(v1, send_at=now - timedelta(minutes=m)) for m in (3, 9, 1, 7)]
    count, preview = v1.email_queue.due_items(now=now, limit=2)
    oldest = sorted(items, key=lambda i: i["scheduled_send_time"])[:2]
    assert count == 4 and [p["queue_id"] for p in preview] == [i["queue_id"] for i in oldest]


def test_the_send_context_of_a_reply_has_every_part(v1: Container) -> None:
    item = queued_reply(v1)
    got = claim(v1)
    assert got is not None and set(got) == CONTEXT_COLUMNS
    the_reply = v1.replies.get(item["response_id"])
    the_feedback = v1.feedback.get(item["feedback_id"])
    assert the_reply is not None and the_feedback is not None
    assert got["subject"] == the_reply["subject"] and got["body"] == the_reply["body"]
    assert got["comment"] == the_feedback["comment"] and got["rating"] == the_feedback["rating"]
    assert got["feedback_created_at"] == the_feedback["created_at"]
    assert got["customer_id"] == the_feedback["customer_id"]
    assert got["customer_name"] == "Sam Doe" and got["unsubscribed_at"] is None
    assert got["venue_name"] == "Venue v1" and got["manager_emails"] == [
        "ana@venue.example",
        "ben@venue.example",
    ]
    for absent in ("report_kind", "content", "level", "title", "reasons", "detected_at"):
        assert got[absent] is None
    assert "comments" not in got
    assert v1.email_queue.send_context(item["queue_id"]) == got


def test_the_send_context_of_manager_emails(v1: Container) -> None:
    fid = feedback(v1, comment="I was sick after the soup.", rating=1, alert_scanned_at=None)
    alert_id = alert_with_emails(v1, fid)
    content = {
        "total_feedback": 1,
        "critical_alert_list": [{"feedback_id": fid, "title": "Possible food poisoning"}],
        "top_issues": [],
    }
    report_id = report_with_emails(v1, content)
    contexts = [claim(v1, f"w{n}") for n in range(4)]
    assert claim(v1, "w9") is None
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for got in contexts:
        assert got is not None
        by_kind.setdefault(got["kind"], []).append(got)
    alerts, reports = by_kind["alert"], by_kind["report"]
    assert sorted(a["customer_email"] for a in alerts) == ["ana@venue.example", "ben@venue.example"]
    assert all(set(got) == CONTEXT_COLUMNS for got in alerts)
    assert all(set(got) == CONTEXT_COLUMNS | {"comments"} for got in reports)
    for got in alerts:
        assert got["alert_id"] == alert_id and got["level"] == "critical"
        assert got["title"] == "Possible food poisoning" and got["reasons"][0]["rule"] == "keyword"
        assert got["comment"] == "I was sick after the soup." and got["rating"] == 1
        assert got["detected_at"] == v1.clock.now() and got["report_kind"] is None
    for got in reports:
        assert got["report_id"] == report_id and got["report_kind"] == "daily"
        assert got["content"] == content and got["comments"] == {fid: "I was sick after the soup."}
        assert got["venue_name"] == "Venue v1" and got["comment"] is None


def test_claims_are_exclusive_under_a_race_of_threads(v1: Container) -> None:
    items = [queued_reply(v1) for _ in range(10)]
    claimed: Counter[str] = Counter()
    lock, start = threading.Lock(), threading.Barrier(5)

    def worker(n: int) -> None:
        start.wait()
        while got := claim(v1, f"w{n}"):
            with lock:
                claimed[got["queue_id"]] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert claimed == Counter({i["queue_id"]: 1 for i in items})
    assert v1.email_queue.count_by_status() == {"sending": 10}


# --- outcomes ------------------------------------------------------------------------------


def test_mark_sent_sends_the_reply_and_answers_the_feedback(
    v1: Container, clock: ManualClock
) -> None:
    item = queued_reply(v1)
    got = claim(v1)
    assert got is not None
    clock.advance(seconds=30)
    sent = v1.email_queue.mark_sent(
        got, claim="w1", now=clock.now(), backend="smtp", provider_message_id="<m1>"
    )
    assert sent
    after = v1.email_queue.get(item["queue_id"])
    assert after is not None
    assert (after["status"], after["sent_at"], after["attempts"]) == ("sent", clock.now(), 1)
    assert after["claimed_by"] is None and after["lease_expires_at"] is None
    the_reply = v1.replies.get(item["response_id"])
    assert the_reply is not None and the_reply["status"] == "sent"
    assert the_reply["sent_at"] == clock.now()
    fb = v1.feedback.get(item["feedback_id"])
    assert fb is not None and fb["status"] == "responded" and fb["responded_at"] == clock.now()
    assert fb["response_seconds"] == int((clock.now() - fb["created_at"]).total_seconds())
    [history] = v1.email_queue.history(item["queue_id"])
    assert history["outcome"] == "sent" and history["backend"] == "smtp"
    assert history["provider_message_id"] == "<m1>" and history["attempted_at"] == clock.now()
    assert isinstance(history["history_id"], int) and history["queue_id"] == item["queue_id"]
    assert set(history) == HISTORY_COLUMNS
    assert v1.email_queue.count_by_status() == {"sent": 1}


def test_outcomes_need_the_claim_that_holds_the_item(v1: Container) -> None:
    item = queued_reply(v1)
    got = claim(v1)
    assert got is not None
    now, qid = v1.clock.now(), item["queue_id"]
    queue = v1.email_queue
    assert not queue.mark_failed(got, claim="other", now=now, error="x", backend="smtp")
    assert not queue.mark_outcome_unknown(got, claim="other", now=now, detail="x", backend="s")
    assert not queue.mark_cancelled(got, claim="other", now=now, reason="x")
    assert not queue.release(got, claim="other")
    retry_at = now + timedelta(minutes=5)
    assert not queue.mark_retry(
        got, claim="other", now=now, error="x", next_attempt_at=retry_at, backend="smtp"
    )
    assert status_of(v1, qid) == "sending" and reply_status(v1, item) == "auto_approved"
    assert queue.get(qid)["attempts"] == 0  # type: ignore[index]
    # As in SQL: a refused failure is still logged; the reply and item are untouched.
    assert outcomes(v1, qid) == ["failed", "outcome_unknown", "cancelled", "retry"]


def test_mark_retry_waits_for_the_backoff(v1: Container, clock: ManualClock) -> None:
    item = queued_reply(v1)
    got = claim(v1)
    assert got is not None
    now = clock.now()
    assert v1.email_queue.note_retry(got, claim="w1", now=now, error="421", backend="smtp") is None
    retry_at = now + timedelta(minutes=2)
    assert v1.email_queue.mark_retry(
        got, claim="w1", now=now, error="451", next_attempt_at=retry_at, backend="smtp"
    )
    after = v1.email_queue.get(item["queue_id"])
    assert after is not None
    assert (after["status"], after["error"], after["attempts"]) == ("pending", "451", 1)
    assert after["next_attempt_at"] == retry_at and after["claimed_by"] is None
    assert outcomes(v1, item["queue_id"]) == ["retry", "retry"]
    assert not v1.email_queue.has_due(now=now) and claim(v1, "w2") is None
    clock.advance(minutes=2)
    again = claim(v1, "w2")
    assert again is not None and again["queue_id"] == item["queue_id"]
    assert again["attempts"] == 1


def test_mark_failed_and_outcome_unknown_fail_the_reply(v1: Container) -> None:
    first, second = queued_reply(v1), queued_reply(v1)
    now = v1.clock.now()
    a, b = claim(v1, "a"), claim(v1, "b")
    assert a is not None and b is not None
    assert v1.email_queue.mark_failed(a, claim="a", now=now, error="550 no", backend="smtp")
    assert v1.email_queue.mark_outcome_unknown(
        b, claim="b", now=now, detail="timeout after DATA", backend="smtp"
    )
    for got, error in ((a, "550 no"), (b, OUTCOME_UNKNOWN)):
        after = v1.email_queue.get(got["queue_id"])
        assert after is not None
        assert (after["status"], after["error"], after["attempts"]) == ("failed", error, 1)
        found = v1.replies.get(got["response_id"])
        assert found is not None and (found["status"], found["error"]) == ("failed", error)
    history = v1.email_queue.history(b["queue_id"])
    assert [(h["outcome"], h["error"]) for h in history] == [
        ("outcome_unknown", "timeout after DATA")
    ]
    assert {first["queue_id"], second["queue_id"]} == {a["queue_id"], b["queue_id"]}
    assert claim(v1, "c") is None


def test_mark_cancelled_and_release(v1: Container) -> None:
    queued_reply(v1)
    queued_reply(v1)
    now = v1.clock.now()
    a, b = claim(v1, "a"), claim(v1, "b")
    assert a is not None and b is not None
    assert v1.email_queue.mark_cancelled(a, claim="a", now=now, reason="customer unsubscribed")
    after = v1.email_queue.get(a["queue_id"])
    assert after is not None
    assert (after["status"], after["error"], after["attempts"]) == (
        "cancelled",
        "customer unsubscribed",
        0,
    )
    assert reply_status(v1, a) == "cancelled"
    assert outcomes(v1, a["queue_id"]) == ["cancelled"]
    assert v1.email_queue.release(b, claim="b")
    back = v1.email_queue.get(b["queue_id"])
    assert back is not None and back["status"] == "pending" and back["attempts"] == 0
    assert back["claimed_by"] is None and back["lease_expires_at"] is None
    assert outcomes(v1, b["queue_id"]) == [] and reply_status(v1, b) == "auto_approved"
    assert not v1.email_queue.release(b, claim="b")  # no longer held
    again = claim(v1, "c")
    assert again is not None and again["queue_id"] == b["queue_id"]


def test_expired_leases_are_parked_and_a_late_success_still_counts(
    v1: Container, clock: ManualClock
) -> None:
    item = queued_reply(v1)
    got = claim(v1)
    assert got is not None
    assert v1.email_queue.stale_leases(now=clock.now()) == []
    assert v1.email_queue.expire_leases(now=clock.now()) == []
    clock.advance(minutes=6)
    assert v1.email_queue.stale_leases(now=clock.now()) == [item["queue_id"]]
    assert v1.email_queue.expire_leases(now=clock.now()) == [item["queue_id"]]
    assert v1.email_queue.expire_leases(now=clock.now()) == []
    parked = v1.email_queue.get(item["queue_id"])
    assert parked is not None
    assert (parked["status"], parked["error"], parked["claimed_by"]) == (
        "failed",
        OUTCOME_UNKNOWN,
        "w1",
    )
    assert reply_status(v1, item) == "failed" and claim(v1, "w2") is None
    assert v1.email_queue.mark_sent(
        got, claim="w1", now=clock.now(), backend="smtp", provider_message_id=None
    )
    assert status_of(v1, item["queue_id"]) == "sent" and reply_status(v1, item) == "sent"
    assert outcomes(v1, item["queue_id"]) == ["outcome_unknown", "sent"]


# --- operator and manager actions ------------------------------------------------------------


def test_cancel_only_moves_a_pending_item(v1: Container) -> None:
    item = queued_reply(v1, send_at=v1.clock.now() + timedelta(hours=1))
    held = queued_reply(v1)
    now = v1.clock.now()
    assert not v1.email_queue.cancel("no-such-item", now=now, reason="x")
    got = claim(v1)
    assert got is not None and got["queue_id"] == held["queue_id"]
    assert not v1.email_queue.cancel(held["queue_id"], now=now, reason="x")
    assert v1.email_queue.cancel(item["queue_id"], now=now, reason="cancelled by ops")
    assert not v1.email_queue.cancel(item["queue_id"], now=now, reason="again")
    after = v1.email_queue.get(item["queue_id"])
    assert after is not None and (after["status"], after["error"]) == (
        "cancelled",
        "cancelled by ops",
    )
    found = v1.replies.get(item["response_id"])
    assert found is not None and (found["status"], found["error"]) == (
        "cancelled",
        "cancelled by ops",
    )
    assert [(h["outcome"], h["error"]) for h in v1.email_queue.history(item["queue_id"])] == [
        ("cancelled", "cancelled by ops")
    ]


def test_requeue_moves_failed_and_cancelled_items_to_now(v1: Container, clock: ManualClock) -> None:
    failing = queued_reply(v1, send_at=clock.now() - timedelta(hours=1))
    later = clock.now() + timedelta(minutes=30)
    cancelled, pending = queued_reply(v1, send_at=later), queued_reply(v1, send_at=later)
    got = claim(v1)
    assert got is not None and got["queue_id"] == failing["queue_id"]
    v1.email_queue.mark_failed(got, claim="w1", now=clock.now(), error="550", backend="smtp")
    v1.email_queue.cancel(cancelled["queue_id"], now=clock.now(), reason="x")
    clock.advance(hours=2)
    now = clock.now()
    assert not v1.email_queue.requeue(pending["queue_id"], now=now)
    assert not v1.email_queue.requeue("no-such-item", now=now)
    for item in (failing, cancelled):
        assert v1.email_queue.requeue(item["queue_id"], now=now)
        after = v1.email_queue.get(item["queue_id"])
        assert after is not None
        assert (after["status"], after["attempts"], after["error"]) == ("pending", 0, None)
        assert after["scheduled_send_time"] == now and after["created_at"] == item["created_at"]
        assert after["message_id"] == item["message_id"]
        assert reply_status(v1, item) == "approved"
        assert outcomes(v1, item["queue_id"])[-1] == "requeued"
        assert v1.email_queue.for_response(item["response_id"]) == after
    assert not v1.email_queue.requeue(failing["queue_id"], now=now)
    assert v1.email_queue.count_by_status() == {"pending": 3}
    assert v1.email_queue.due_items(now=now)[0] == 3
    assert [i["queue_id"] for i in v1.email_queue.list_for_venue("v1")][:2] == sorted(
        [failing["queue_id"], cancelled["queue_id"]]
    )


def test_queue_reply_adds_resets_and_never_requeues_a_sent_item(
    v1: Container, clock: ManualClock
) -> None:
    fid = feedback(v1)
    source = v1.replies.draft_source(fid)
    assert source is not None
    row = reply(v1, fid, status="approved")
    assert v1.replies.save(reply=row)
    first = new_queue_item(
        v1.settings,
        reply=row,
        customer=source,
        send_at=clock.now() + timedelta(hours=1),
        now=clock.now(),
    )
    assert v1.email_queue.queue_reply(first) == first
    v1.email_queue.cancel(first["queue_id"], now=clock.now(), reason="x")
    clock.advance(minutes=5)
    second = new_queue_item(
        v1.settings, reply=row, customer=source, send_at=clock.now(), now=clock.now()
    )
    reset = v1.email_queue.queue_reply(second)
    assert reset is not None
    assert reset["queue_id"] == first["queue_id"] and reset["message_id"] == first["message_id"]
    assert reset["created_at"] == first["created_at"]
    assert (reset["status"], reset["scheduled_send_time"], reset["error"]) == (
        "pending",
        clock.now(),
        None,
    )
    assert v1.email_queue.get(first["queue_id"]) == reset
    assert v1.email_queue.count_by_status() == {"pending": 1}
    got = claim(v1)
    assert got is not None
    third = new_queue_item(
        v1.settings, reply=row, customer=source, send_at=clock.now(), now=clock.now()
    )
    assert v1.email_queue.queue_reply(third) is None  # being sent
    v1.email_queue.mark_sent(
        got, claim="w1", now=clock.now(), backend="smtp", provider_message_id=None
    )
    assert v1.email_queue.queue_reply(third) is None  # sent: never twice
    assert v1.email_queue.count_by_status() == {"sent": 1}


def test_unsubscribe_marks_the_matching_customer(v1: Container) -> None:
    item = queued_reply(v1, email="Zoe@Example.com")
    fb = v1.feedback.get(item["feedback_id"])
    assert fb is not None
    now = v1.clock.now()
    customer = int(fb["customer_id"])
    assert not v1.email_queue.unsubscribe(customer_id=customer, email="other@example.com", now=now)
    assert v1.email_queue.unsubscribe(customer_id=customer, email="zoe@example.com", now=now)
    assert v1.email_queue.unsubscribe(customer_id=customer, email="ZOE@example.com", now=now)
    assert not v1.email_queue.unsubscribe(customer_id=999_999, email="zoe@example.com", now=now)
    got = claim(v1)
    assert got is not None and got["unsubscribed_at"] == now


# --- the admin console's failed list (SqlOpsCountStore.failed_emails) -----------------------


def test_failed_emails_newest_scheduled_first(v1: Container, clock: ManualClock) -> None:
    now = clock.now()
    items = [queued_reply(v1, send_at=now - timedelta(minutes=m)) for m in (50, 40, 30, 20)]
    for n, _ in enumerate(items):
        got = claim(v1, f"w{n}")
        assert got is not None
        # A retry first: the backoff puts its due time after its scheduled time.
        retry_at = now + timedelta(hours=3 - n)
        v1.email_queue.mark_retry(
            got, claim=f"w{n}", now=now, error="451", next_attempt_at=retry_at, backend="smtp"
        )
    clock.advance(hours=4)
    for n in range(4):
        got = claim(v1, f"x{n}")
        assert got is not None
        v1.email_queue.mark_failed(
            got, claim=f"x{n}", now=clock.now(), error=f"550 {n}", backend="smtp"
        )
    failed = (
        v1.email_queue.failed_emails(limit=3)  # type: ignore[attr-defined]
        if v1.settings.encore_derived_store == "dynamodb"
        else SqlOpsCountStore(v1.engine).failed_emails(limit=3)
    )
    newest = sorted(items, key=lambda i: i["scheduled_send_time"], reverse=True)[:3]
    assert [f["queue_id"] for f in failed] == [i["queue_id"] for i in newest]
    assert set(failed[0]) == {
        "queue_id",
        "venue_id",
        "customer_email",
        "scheduled_send_time",
        "error",
    }
    assert all(f["error"].startswith("550") for f in failed)
