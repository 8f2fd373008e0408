"""The report store contract, on every database and on DynamoDB: one report per venue, kind and
period (reruns and racing workers add none, and only reports that go in get emails), reads by
id and by venue with the cursor, and the facts a run reads: sent replies and critical alerts."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import make_feedback, make_venue
from support.derived import put_sent_reply, queued_emails

from encore_backend.bootstrap import Container
from encore_backend.services.alert_service import alert_id_for
from encore_backend.services.manager_mail import REPORT, manager_items
from encore_backend.storage.sql.reports import Span

NOW = datetime(2026, 3, 16, 6, 5, tzinfo=UTC)
DAY = timedelta(days=1)
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MANAGERS = ["ana@venue.example", "ben@venue.example"]


def venue(ctx: Container, venue_id: str) -> str:
    return make_venue(ctx.engine, venue_id, now=NOW - 60 * DAY, manager_emails=MANAGERS)


def report(venue_id: str, kind: str, start: datetime) -> dict[str, Any]:
    """A report row with the value kinds its content holds: counts, ratios, nulls, lists."""
    return {
        "report_id": str(uuid.uuid4()),
        "venue_id": venue_id,
        "kind": kind,
        "period_start": start,
        "period_end": start + (DAY if kind == "daily" else 7 * DAY),
        "generated_at": NOW,
        "content": {
            "total_feedback": 3,
            "csat": 0.6667,
            "average_rating": None,
            "top_issues": [{"topic": "service", "mentions": 2, "feedback_ids": [4, 9]}],
            "period": {"timezone": "UTC", "first_day": start.date().isoformat()},
        },
    }


def emails(ctx: Container) -> Any:
    """The `emails` callback of a report run: one item per manager of each report."""

    def items(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            item
            for r in reports
            for item in manager_items(
                ctx.settings,
                kind=REPORT,
                venue_id=r["venue_id"],
                manager_emails=MANAGERS,
                now=NOW,
                report_id=r["report_id"],
            )
        ]

    return items


def report_emails(ctx: Container, venue_id: str) -> Counter[tuple[str, str]]:
    return Counter(
        (q["report_id"], q["customer_email"])
        for q in queued_emails(ctx, venue_id)
        if q["kind"] == "report"
    )


def test_reports_go_in_once_per_venue_kind_and_period_with_their_emails(
    store_ctx: Container,
) -> None:
    venue(store_ctx, "a")
    venue(store_ctx, "b")
    rows = [
        report("a", "daily", MONDAY),
        report("a", "daily", MONDAY + DAY),
        report("b", "weekly", MONDAY),
    ]

    assert store_ctx.reports.insert(rows, emails=emails(store_ctx)) == rows

    for row in rows:
        assert store_ctx.reports.get(row["report_id"]) == row
    assert store_ctx.reports.get(str(uuid.uuid4())) is None
    assert store_ctx.reports.existing(kind="daily", since=MONDAY + DAY) == {("a", MONDAY + DAY)}
    assert store_ctx.reports.existing(kind="weekly", since=EPOCH) == {("b", MONDAY)}
    mailed = Counter((r["report_id"], e) for r in rows[:2] for e in MANAGERS)
    assert report_emails(store_ctx, "a") == mailed

    again = [report("a", "daily", MONDAY), report("a", "daily", MONDAY + 2 * DAY)]
    assert store_ctx.reports.insert(again, emails=emails(store_ctx)) == again[1:]
    assert store_ctx.reports.get(again[0]["report_id"]) is None
    mailed.update((again[1]["report_id"], e) for e in MANAGERS)
    assert report_emails(store_ctx, "a") == mailed
    assert store_ctx.reports.insert([], emails=emails(store_ctx)) == []
    assert store_ctx.reports.insert([report("a", "weekly", MONDAY)]) != []  # no emails asked


def test_racing_workers_store_each_report_and_its_emails_once(store_ctx: Container) -> None:
    venue(store_ctx, "a")
    starts = [MONDAY - k * DAY for k in range(6)]
    runs = [[report("a", "daily", s) for s in starts] for _ in range(2)]
    barrier = threading.Barrier(len(runs))
    inserted: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def run(rows: list[dict[str, Any]]) -> None:
        try:
            barrier.wait()
            inserted.append(store_ctx.reports.insert(rows, emails=emails(store_ctx)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(rows,)) for rows in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    winners = [r for rows in inserted for r in rows]
    assert sorted(r["period_start"] for r in winners) == sorted(starts)
    stored = store_ctx.reports.list_for_venue("a", limit=100)
    assert {r["report_id"] for r in stored} == {r["report_id"] for r in winners}
    mailed = report_emails(store_ctx, "a")
    assert mailed == Counter((r["report_id"], e) for r in winners for e in MANAGERS)


def keys(rows: list[dict[str, Any]]) -> list[tuple[datetime, str]]:
    return [(r["period_start"], r["kind"]) for r in rows]


def test_a_venues_reports_newest_period_first_by_kind_and_paged(store_ctx: Container) -> None:
    venue(store_ctx, "a")
    venue(store_ctx, "b")
    rows = [report("a", "daily", MONDAY + k * DAY) for k in range(-3, 4)]
    rows += [report("a", "weekly", MONDAY + k * 7 * DAY) for k in (-1, 0)]
    rows.append(report("b", "daily", MONDAY))
    store_ctx.reports.insert(rows)

    mine = [r for r in rows if r["venue_id"] == "a"]
    order = sorted(keys(mine), key=lambda k: (-k[0].timestamp(), k[1]))
    assert keys(store_ctx.reports.list_for_venue("a")) == order
    assert store_ctx.reports.list_for_venue("a", limit=1) == [mine[6]]
    daily = [k for k in order if k[1] == "daily"]
    assert keys(store_ctx.reports.list_for_venue("a", kind="daily")) == daily
    assert keys(store_ctx.reports.list_for_venue("a", kind="weekly", limit=1)) == [order[4]]
    assert store_ctx.reports.list_for_venue("a", limit=0) == []
    assert store_ctx.reports.list_for_venue("nowhere") == []
    for size in (1, 2, 4):
        for kind in (None, "daily"):
            pages: list[tuple[datetime, str]] = []
            while True:
                after = pages[-1] if pages else None
                page = store_ctx.reports.list_for_venue("a", kind=kind, limit=size, after=after)
                pages += keys(page)
                if len(page) < size:
                    break
            assert pages == (order if kind is None else daily)


def test_sent_replies_in_the_spans_with_their_feedback_times(store_ctx: Container) -> None:
    venue(store_ctx, "a")
    venue(store_ctx, "b")
    start, end = MONDAY, MONDAY + 7 * DAY
    sent = {
        "a": [start - timedelta(seconds=1), start, start + DAY, end - timedelta(seconds=1), end],
        "b": [start + 2 * DAY],
    }
    expected = []
    for venue_id, times in sent.items():
        for at in times:
            created = at - timedelta(hours=5)
            fid = make_feedback(store_ctx.engine, venue_id, created_at=created)
            put_sent_reply(
                store_ctx,
                feedback_id=fid,
                venue_id=venue_id,
                feedback_created_at=created,
                sent_at=at,
                response_id=str(uuid.uuid4()),
            )
            if start <= at < end and venue_id == "a":
                expected.append({"venue_id": venue_id, "sent_at": at, "created_at": created})

    rows = store_ctx.reports.replies_sent_in([Span(("a", "nowhere"), start, end)])

    assert sorted(rows, key=lambda r: r["sent_at"]) == expected
    assert store_ctx.reports.replies_sent_in([]) == []


def test_critical_alerts_on_feedback_created_in_the_spans(store_ctx: Container) -> None:
    venue(store_ctx, "a")
    venue(store_ctx, "b")
    start, end = MONDAY, MONDAY + DAY
    cases = [  # venue, feedback created, level, detected after creation
        ("a", start - timedelta(hours=1), "critical", timedelta(hours=2)),  # before the span
        ("a", start, "critical", timedelta(minutes=1)),
        ("a", start + timedelta(hours=3), "high", timedelta(minutes=1)),
        ("a", end - timedelta(minutes=1), "critical", timedelta(days=3)),  # found late
        ("a", end, "critical", timedelta(minutes=1)),
        ("b", start + timedelta(hours=1), "critical", timedelta(minutes=1)),
    ]
    expected = []
    for venue_id, created, level, delay in cases:
        fid = make_feedback(store_ctx.engine, venue_id, created_at=created, rating=1)
        row = {
            "alert_id": alert_id_for(fid),
            "venue_id": venue_id,
            "feedback_id": fid,
            "level": level,
            "title": f"{level}: {fid}",
            "description": "d",
            "reasons": [],
            "detected_at": created + delay,
            "is_read": False,
            "acknowledged_by": None,
            "acknowledged_at": None,
        }
        store_ctx.alerts.save_scan(feedback_ids=[fid], alerts=[row], deliveries={}, now=NOW)
        if venue_id == "a" and level == "critical" and start <= created < end:
            keep = {k: row[k] for k in ("venue_id", "alert_id", "feedback_id", "title")}
            expected.append({**keep, "created_at": created})
    store_ctx.alerts.archive_before(before=NOW + DAY, now=NOW)  # archived ones count too

    rows = store_ctx.reports.critical_alerts_in([Span(("a",), start, end)])

    assert sorted(rows, key=lambda r: r["created_at"]) == expected
    assert store_ctx.reports.critical_alerts_in([]) == []


def test_venues_and_feedback_come_from_the_source(store_ctx: Container) -> None:
    venue(store_ctx, "a")
    fid = make_feedback(store_ctx.engine, "a", created_at=MONDAY, rating=4, comment="Nice")

    assert [v["venue_id"] for v in store_ctx.reports.venues()] == ["a"]
    rows = store_ctx.reports.feedback_in([Span(("a",), MONDAY, MONDAY + DAY)])
    assert rows == [
        {"venue_id": "a", "feedback_id": fid, "rating": 4, "comment": "Nice", "created_at": MONDAY}
    ]
