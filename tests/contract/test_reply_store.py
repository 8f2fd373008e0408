"""The ReplyStore contract, on SQL (SQLite, MariaDB, PostgreSQL) and DynamoDB (moto).

Given feedback in SQL and replies saved through the port, expect one reply per feedback even
when savers race, the feedback moved to `pending` with a draft, candidates that are exactly the
waiting feedback (with their alert level, `limit` of them), listings in the same order and
pages, status moves only from the allowed statuses, and failed drafts deleted only while
nothing was queued for them.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from support.queue_setup import alert_with_emails, feedback, in_dynamodb, queued_reply, reply, venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import ReplyStatus
from encore_backend.services import email_service
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.ops_counts import SqlOpsCountStore

REPLY_COLUMNS = {c.name for c in m.ai_responses.c}
F = m.feedback.c


def set_feedback(ctx: Container, feedback_id: int, **values: Any) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(m.feedback).where(F.feedback_id == feedback_id).values(**values))


def feedback_status(ctx: Container, feedback_id: int) -> str:
    row = ctx.feedback.get(feedback_id)
    assert row is not None
    return str(row["status"])


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["feedback_id"]) for r in rows]


@pytest.fixture
def v1(store_ctx: Container) -> Container:
    venue(store_ctx)
    return store_ctx


def test_unknown_ids(store_ctx: Container) -> None:
    replies = store_ctx.replies
    now = store_ctx.clock.now()
    assert replies.get("no-such-reply") is None and replies.for_feedback(1) is None
    assert replies.draft_source(123_456) is None
    assert replies.list_for_venue("v1") == [] and replies.candidates(now=now) == []
    assert replies.unanswered_before("v1", now) == []
    assert not replies.delete_failed("no-such-reply")
    assert not replies.update_status(
        "no-such-reply", status=ReplyStatus.APPROVED, from_statuses=(ReplyStatus.GENERATED,)
    )


def test_save_stores_one_reply_per_feedback_and_marks_it_drafted(v1: Container) -> None:
    retry_at = v1.clock.now() + timedelta(minutes=5)
    fid = feedback(v1, draft_attempts=2, draft_retry_at=retry_at, draft_error="503")
    first, second = reply(v1, fid, status="generated"), reply(v1, fid)
    assert v1.replies.save(reply=first)
    assert not v1.replies.save(reply=second)
    got = v1.replies.get(first["response_id"])
    assert got is not None and set(got) == REPLY_COLUMNS
    assert got == v1.replies.for_feedback(fid)
    assert {k: got[k] for k in first} == first
    assert got["created_at"].tzinfo is not None and got["sent_at"] is None
    assert v1.replies.get(second["response_id"]) is None
    row = v1.feedback.get(fid)
    assert row is not None and row["status"] == "pending"
    assert (row["draft_attempts"], row["draft_retry_at"], row["draft_error"]) == (0, None, None)


def test_a_failed_reply_leaves_the_feedback_new(v1: Container) -> None:
    fid = feedback(v1, draft_attempts=5, draft_error="503")
    assert v1.replies.save(reply={**reply(v1, fid), "status": "failed", "error": "503 x5"})
    row = v1.feedback.get(fid)
    assert row is not None and (row["status"], row["draft_attempts"]) == ("new", 5)
    assert v1.replies.candidates(now=v1.clock.now()) == []  # it has a reply


def test_a_reply_and_its_queue_item_are_saved_together(v1: Container) -> None:
    item = queued_reply(v1)
    found = v1.replies.get(item["response_id"])
    assert found is not None and found["feedback_id"] == item["feedback_id"]
    assert v1.email_queue.get(item["queue_id"]) == item


def test_save_many_stores_a_batch_and_refuses_answered_feedback(v1: Container) -> None:
    answered, drafted, failed = feedback(v1), feedback(v1, draft_attempts=1), feedback(v1)
    assert v1.replies.save(reply=reply(v1, answered))
    source = v1.replies.draft_source(drafted)
    assert source is not None
    now = v1.clock.now()
    queued = reply(v1, drafted)
    item = email_service.new_queue_item(
        v1.settings, reply=queued, customer=source, send_at=now, now=now
    )
    lost, again = reply(v1, answered), reply(v1, drafted)
    batch = [
        (lost, None),
        (queued, item),
        ({**reply(v1, failed), "status": "failed", "error": "503 x5"}, None),
        (again, None),  # a second reply to a feedback of the same batch loses too
    ]
    assert v1.replies.save_many(batch) == [False, True, True, False]
    assert v1.replies.get(lost["response_id"]) is None
    assert v1.replies.get(again["response_id"]) is None
    assert v1.replies.for_feedback(drafted) == v1.replies.get(queued["response_id"])
    assert v1.email_queue.for_response(queued["response_id"]) is not None
    assert [feedback_status(v1, f) for f in (drafted, failed)] == ["pending", "new"]
    row = v1.feedback.get(drafted)
    assert row is not None and row["draft_attempts"] == 0
    assert v1.replies.save_many([]) == []


def test_racing_savers_store_one_reply(v1: Container) -> None:
    fid = feedback(v1)
    rows = [reply(v1, fid) for _ in range(5)]
    results: list[bool] = []
    start = threading.Barrier(len(rows))

    def save(row: dict[str, Any]) -> None:
        start.wait()
        results.append(v1.replies.save(reply=row))

    threads = [threading.Thread(target=save, args=(row,)) for row in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 4 + [True]
    stored = v1.replies.for_feedback(fid)
    assert stored is not None and stored["response_id"] in {r["response_id"] for r in rows}
    assert feedback_status(v1, fid) == "pending"


def test_list_for_venue_newest_first_ties_by_id_and_pages_with_after(
    v1: Container, clock: ManualClock
) -> None:
    venue(v1, "v2")
    now = clock.now()
    rows = []
    for minutes in (0, 5, 5, 5, 9, 12, 12):
        row = reply(v1, feedback(v1), created_at=now - timedelta(minutes=minutes))
        row["status"] = "generated" if minutes == 5 else "pending_approval"
        assert v1.replies.save(reply=row)
        rows.append(row)
    assert v1.replies.save(reply=reply(v1, feedback(v1, "v2"), venue_id="v2"))
    expected = sorted(rows, key=lambda r: r["response_id"])
    expected.sort(key=lambda r: r["created_at"], reverse=True)
    order = [r["response_id"] for r in expected]

    assert [r["response_id"] for r in v1.replies.list_for_venue("v1")] == order
    paged, after = [], None
    while page := v1.replies.list_for_venue("v1", limit=3, after=after):
        paged += [r["response_id"] for r in page]
        after = (page[-1]["created_at"], page[-1]["response_id"])
    assert paged == order
    generated = v1.replies.list_for_venue("v1", status="generated", limit=2)
    assert [r["response_id"] for r in generated] == [
        o for o in order if o in {r["response_id"] for r in rows if r["status"] == "generated"}
    ][:2]


def test_candidates_are_the_waiting_feedback_with_their_alert_level(
    v1: Container, clock: ManualClock
) -> None:
    venue(v1, "off", ai_generation_enabled=False)
    now = clock.now()
    waiting = feedback(v1)
    alerted = feedback(v1, comment="I was sick.", rating=1, alert_scanned_at=None)
    alert_with_emails(v1, alerted)
    retry_due = feedback(v1, draft_retry_at=now - timedelta(seconds=1), draft_attempts=1)
    feedback(v1, draft_retry_at=now + timedelta(minutes=1), draft_attempts=1)  # backing off
    feedback(v1, alert_scanned_at=None)  # not scanned yet
    feedback(v1, status="pending")
    feedback(v1, "off")
    assert v1.replies.save(reply=reply(v1, feedback(v1)))  # answered

    rows = v1.replies.candidates(now=now)
    assert ids(rows) == [waiting, alerted, retry_due]
    assert [r["alert_level"] for r in rows] == [None, "critical", None]
    row = rows[0]
    assert row["customer_name"] == "Sam Doe" and row["venue_name"] == "Venue v1"
    assert row["customer_email"] and row["unsubscribed_at"] is None
    assert (row["require_approval"], row["auto_send_enabled"]) == (False, False)
    assert row["auto_send_delay_minutes"] == 30 and row["brand_voice"] is None
    assert ids(v1.replies.candidates(now=now, after_id=waiting)) == [alerted, retry_due]
    assert ids(v1.replies.candidates(now=now, limit=1)) == [waiting]


def test_candidates_keep_reading_past_answered_feedback_to_fill_the_limit(
    v1: Container,
) -> None:
    answered = [feedback(v1) for _ in range(5)]
    for fid in answered:
        assert v1.replies.save(reply={**reply(v1, fid), "status": "failed"})
    waiting = [feedback(v1) for _ in range(3)]
    now = v1.clock.now()
    assert ids(v1.replies.candidates(now=now, limit=2)) == waiting[:2]
    assert ids(v1.replies.candidates(now=now, limit=3)) == waiting
    assert ids(v1.replies.candidates(now=now, limit=10)) == waiting
    assert ids(v1.replies.candidates(now=now, after_id=waiting[0], limit=1)) == [waiting[1]]


def test_feedback_left_new_with_a_reply_is_not_a_candidate(v1: Container) -> None:
    """A crash between a save's two commits (DynamoDB) leaves such feedback: the next
    candidates read completes the save."""
    fid = feedback(v1)
    assert v1.replies.save(reply=reply(v1, fid, status="generated"))
    set_feedback(v1, fid, status="new")
    assert v1.replies.candidates(now=v1.clock.now()) == []
    if in_dynamodb(v1):
        assert feedback_status(v1, fid) == "pending"


def test_draft_source_and_unanswered_before(v1: Container, clock: ManualClock) -> None:
    old = feedback(v1, age=timedelta(days=5), status="responded")
    alerted = feedback(v1, age=timedelta(days=4), rating=1, alert_scanned_at=None)
    alert_with_emails(v1, alerted, level="high")
    answered = feedback(v1, age=timedelta(days=4))
    assert v1.replies.save(reply=reply(v1, answered))
    recent = feedback(v1, age=timedelta(hours=1))
    source = v1.replies.draft_source(old)
    assert source is not None and source["feedback_id"] == old and source["alert_level"] is None
    alerted_source = v1.replies.draft_source(alerted)
    assert alerted_source is not None and alerted_source["alert_level"] == "high"
    rows = v1.replies.unanswered_before("v1", clock.now() - timedelta(days=3))
    assert ids(rows) == [old, alerted]
    assert rows[1] == alerted_source
    assert ids(v1.replies.unanswered_before("v1", clock.now())) == [old, alerted, recent]


def test_import_history_stores_replies_and_feedback_outcomes(
    v1: Container, clock: ManualClock
) -> None:
    now = clock.now()
    sent, unreachable = feedback(v1, age=timedelta(days=6)), feedback(v1, age=timedelta(days=5))
    replies = [
        {**reply(v1, sent, status="sent"), "sent_at": now - timedelta(days=5)},
        {**reply(v1, unreachable, status="cancelled"), "error": "no address", "sent_at": None},
    ]
    created = v1.feedback.get(sent)
    assert created is not None
    seconds = int((now - timedelta(days=5) - created["created_at"]).total_seconds())
    changes = [
        {
            "feedback_id": sent,
            "status": "responded",
            "responded_at": now - timedelta(days=5),
            "response_seconds": seconds,
        },
        {
            "feedback_id": unreachable,
            "status": "pending",
            "responded_at": None,
            "response_seconds": None,
        },
    ]
    v1.replies.import_history(replies, changes)
    v1.replies.import_history([], [])
    for row in replies:
        stored = v1.replies.for_feedback(row["feedback_id"])
        assert stored is not None and {k: stored[k] for k in row} == row
    row = v1.feedback.get(sent)
    assert row is not None and (row["status"], row["response_seconds"]) == ("responded", seconds)
    assert feedback_status(v1, unreachable) == "pending"
    assert v1.replies.unanswered_before("v1", now) == []


def test_delete_failed_only_without_a_queue_item(v1: Container) -> None:
    failed = {**reply(v1, feedback(v1)), "status": "failed", "error": "500"}
    kept = reply(v1, feedback(v1), status="generated")
    assert v1.replies.save(reply=failed) and v1.replies.save(reply=kept)
    item = queued_reply(v1)
    v1.email_queue.cancel(item["queue_id"], now=v1.clock.now(), reason="x")
    assert v1.replies.update_status(
        item["response_id"], status=ReplyStatus.FAILED, from_statuses=(ReplyStatus.CANCELLED,)
    )

    assert not v1.replies.delete_failed(kept["response_id"])
    assert not v1.replies.delete_failed(item["response_id"])  # it was queued
    assert v1.replies.delete_failed(failed["response_id"])
    assert not v1.replies.delete_failed(failed["response_id"])
    assert v1.replies.for_feedback(failed["feedback_id"]) is None
    assert v1.replies.get(item["response_id"]) is not None
    assert v1.replies.save(reply=reply(v1, failed["feedback_id"]))  # drafted again


def test_update_status_only_from_the_given_statuses(v1: Container) -> None:
    row = reply(v1, feedback(v1), status="pending_approval")
    assert v1.replies.save(reply=row)
    now = v1.clock.now()
    approvable = (ReplyStatus.GENERATED, ReplyStatus.PENDING_APPROVAL)
    assert v1.replies.update_status(
        row["response_id"],
        status=ReplyStatus.APPROVED,
        from_statuses=approvable,
        approved_by="ana",
        approved_at=now,
        body="Edited.",
        hold_reason=None,
    )
    assert not v1.replies.update_status(
        row["response_id"], status=ReplyStatus.APPROVED, from_statuses=approvable
    )
    got = v1.replies.get(row["response_id"])
    assert got is not None
    assert (got["status"], got["approved_by"], got["approved_at"], got["body"]) == (
        "approved",
        "ana",
        now,
        "Edited.",
    )
    assert [r["response_id"] for r in v1.replies.list_for_venue("v1", status="approved")] == [
        row["response_id"]
    ]


def test_replies_by_status(v1: Container) -> None:
    for status in ("generated", "generated", "failed", "pending_approval"):
        assert v1.replies.save(reply={**reply(v1, feedback(v1)), "status": status})
    counts = (
        v1.replies.replies_by_status()  # type: ignore[attr-defined]
        if in_dynamodb(v1)
        else SqlOpsCountStore(v1.engine).replies_by_status()
    )
    assert counts == {"generated": 2, "failed": 1, "pending_approval": 1}
