"""The alert store contract, on every database and on DynamoDB: the detector's batch write (one
alert per feedback, deliveries and manager emails only with the alert that goes in, nothing lost
when a write dies before its commit, nothing twice when scanners race), the venue lists and
their cursor, read and acknowledge, and the counts per level."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import make_customer, make_feedback, make_venue
from sqlalchemy import update
from support.derived import queued_emails

from encore_backend.bootstrap import Container
from encore_backend.services.alert_service import alert_id_for, delivery_rows
from encore_backend.services.manager_mail import ALERT, ESCALATION, manager_items
from encore_backend.services.sla_service import (
    Overdue,
    delivery_id_for,
    document,
    escalation_deliveries,
)
from encore_backend.storage.dynamodb import alerts as dynamo_alerts
from encore_backend.storage.dynamodb.connection import connect
from encore_backend.storage.dynamodb.escalations import write_escalation
from encore_backend.storage.dynamodb.schema import VENUE_ALERTS
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.escalations import insert_notices

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hook"
MANAGERS = ["ana@venue.example", "ben@venue.example"]


def venue(ctx: Container, venue_id: str = "v1") -> str:
    return make_venue(
        ctx.engine,
        venue_id,
        now=NOW - timedelta(days=30),
        webhook_url=HOOK,
        manager_emails=MANAGERS,
    )


def feedback(ctx: Container, venue_id: str, n: int, **values: Any) -> list[int]:
    """Rating-1 feedback, each from its own customer a reply can reach."""
    created = values.pop("created_at", NOW - timedelta(hours=1))
    return [
        make_feedback(
            ctx.engine,
            venue_id,
            created_at=created,
            rating=1,
            **{"customer_id": make_customer(ctx.engine, now=created), **values},
        )
        for _ in range(n)
    ]


def alert(
    venue_id: str, feedback_id: int, *, level: str = "critical", detected_at: datetime = NOW
) -> dict[str, Any]:
    """An alert row as the detector makes it."""
    return {
        "alert_id": alert_id_for(feedback_id),
        "venue_id": venue_id,
        "feedback_id": feedback_id,
        "level": level,
        "title": f"{level.title()}: test",
        "description": "Raised by the contract test.",
        "reasons": [{"rule": "rating", "level": level, "rating": 1}],
        "detected_at": detected_at,
        "is_read": False,
        "acknowledged_by": None,
        "acknowledged_at": None,
    }


class Scan:
    """A batch as the detector hands it to save_scan: alerts, their deliveries, their emails."""

    def __init__(self, ctx: Container, feedback_ids: Sequence[int], alerts: list[dict]) -> None:
        self.ctx = ctx
        self.feedback_ids = list(feedback_ids)
        self.alerts = alerts
        hook = {"webhook_url": HOOK, "alert_notify_min_level": "info"}
        self.deliveries = {
            a["alert_id"]: delivery_rows(ctx, {**a, **hook}, a, [], now=a["detected_at"])
            for a in alerts
        }
        self.emails = {
            a["alert_id"]: manager_items(
                ctx.settings,
                kind=ALERT,
                venue_id=a["venue_id"],
                manager_emails=MANAGERS,
                now=a["detected_at"],
                alert_id=a["alert_id"],
                feedback_id=a["feedback_id"],
            )
            for a in alerts
            if a["level"] == "critical"
        }

    def save(self, deliveries: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> Any:
        return self.ctx.alerts.save_scan(
            feedback_ids=self.feedback_ids,
            alerts=self.alerts,
            deliveries=self.deliveries if deliveries is None else deliveries,
            now=NOW,
            emails=self.emails,
        )


def stored(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the store gives back for an alert row it was handed."""
    return {"archived_at": None, "escalated_at": None, **row}


def deliveries_of(ctx: Container, alerts: Sequence[Mapping[str, Any]]) -> Counter[str]:
    return Counter(
        d["delivery_id"] for a in alerts for d in ctx.webhooks.list_for_alert(a["alert_id"])
    )


def alert_emails(ctx: Container, venue_id: str) -> Counter[tuple[str, str]]:
    return Counter(
        (q["alert_id"], q["customer_email"])
        for q in queued_emails(ctx, venue_id)
        if q["kind"] == "alert"
    )


def test_a_scan_stores_its_alerts_with_their_deliveries_and_emails(store_ctx: Container) -> None:
    venue(store_ctx)
    sick, rude, fine = feedback(store_ctx, "v1", 3)
    scan = Scan(store_ctx, [sick, rude, fine], [alert("v1", sick), alert("v1", rude, level="high")])

    saved = scan.save()

    assert saved.marked == 3
    assert saved.alerts == scan.alerts
    assert sorted(saved.delivery_ids) == sorted(
        d["delivery_id"] for ds in scan.deliveries.values() for d in ds
    )
    for row in scan.alerts:
        assert store_ctx.alerts.get(row["alert_id"]) == stored(row)
        assert store_ctx.alerts.for_feedback(row["feedback_id"]) == stored(row)
    assert store_ctx.alerts.for_feedback(fine) is None
    assert store_ctx.alerts.get(alert_id_for(fine)) is None
    assert store_ctx.alerts.unscanned(limit=10) == []
    assert deliveries_of(store_ctx, scan.alerts) == Counter(saved.delivery_ids)
    critical = scan.alerts[0]["alert_id"]
    assert alert_emails(store_ctx, "v1") == Counter((critical, e) for e in MANAGERS)


def test_an_alert_stores_one_delivery_per_channel(store_ctx: Container) -> None:
    venue(store_ctx)
    channel = store_ctx.channels.create(
        {
            "channel_id": "c-slack", "venue_id": "v1", "type": "slack",
            "url": "http://127.0.0.1:9/slack", "levels": ["critical"], "created_at": NOW,
        }
    )  # fmt: skip
    [fid] = feedback(store_ctx, "v1", 1)
    row = alert("v1", fid)
    loaded = {**row, "webhook_url": HOOK, "alert_notify_min_level": "high"}
    rows = delivery_rows(store_ctx, loaded, row, [channel], now=NOW)

    saved = store_ctx.alerts.save_scan(
        feedback_ids=[fid], alerts=[row], deliveries={row["alert_id"]: rows}, now=NOW
    )

    assert sorted(saved.delivery_ids) == sorted(r["delivery_id"] for r in rows)
    kept = store_ctx.webhooks.list_for_alert(row["alert_id"])
    assert {d["channel_id"] for d in kept} == {None, "c-slack"}
    slack = next(d for d in kept if d["channel_id"])
    assert json.loads(slack["payload"])["blocks"] and slack["event"] == "alert.created"


def test_a_second_scan_of_the_same_rows_adds_nothing(store_ctx: Container) -> None:
    venue(store_ctx)
    ids = feedback(store_ctx, "v1", 2)
    scan = Scan(store_ctx, ids, [alert("v1", i) for i in ids])
    first = scan.save()

    again = scan.save()

    assert (again.marked, again.alerts, again.delivery_ids) == (0, [], [])
    assert len(first.alerts) == 2
    assert set(deliveries_of(store_ctx, scan.alerts).values()) == {1}
    assert set(alert_emails(store_ctx, "v1").values()) == {1}
    assert len(alert_emails(store_ctx, "v1")) == 2 * len(MANAGERS)


def test_a_rescan_after_the_mark_was_reset_keeps_the_alert_and_notifies_nobody_again(
    store_ctx: Container,
) -> None:
    venue(store_ctx)
    (kept,) = feedback(store_ctx, "v1", 1)
    Scan(store_ctx, [kept], [alert("v1", kept)]).save()
    with store_ctx.engine.begin() as conn:  # an operator asks for a full rescan
        conn.execute(update(m.feedback).values(alert_scanned_at=None))

    later = alert("v1", kept, detected_at=NOW + timedelta(minutes=5))
    again = Scan(store_ctx, [kept], [later]).save()

    assert (again.marked, again.alerts, again.delivery_ids) == (1, [], [])
    assert store_ctx.alerts.for_feedback(kept)["detected_at"] == NOW  # type: ignore[index]
    assert len(store_ctx.alerts.list_for_venue("v1")) == 1
    assert sum(deliveries_of(store_ctx, [later]).values()) == 1
    assert len(alert_emails(store_ctx, "v1")) == len(MANAGERS)


class Crashed(Exception):
    """The process died after the alerts were written, before the scan committed."""


class CrashOnLast(Mapping[str, Sequence[Mapping[str, Any]]]):
    """Deliveries that blow up when the last alert's is read: every alert write is done by
    then, the commit is not."""

    def __init__(self, deliveries: Mapping[str, Sequence[Mapping[str, Any]]], last: str) -> None:
        self.deliveries, self.last = deliveries, last

    def __getitem__(self, alert_id: str) -> Sequence[Mapping[str, Any]]:
        if alert_id == self.last:
            raise Crashed
        return self.deliveries[alert_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.deliveries)

    def __len__(self) -> int:
        return len(self.deliveries)


def test_a_scan_that_died_before_its_commit_is_completed_once_by_the_next(
    store_ctx: Container,
) -> None:
    venue(store_ctx)
    ids = feedback(store_ctx, "v1", 3)
    scan = Scan(store_ctx, ids, [alert("v1", i) for i in ids])
    with pytest.raises(Crashed):
        scan.save(CrashOnLast(scan.deliveries, scan.alerts[-1]["alert_id"]))
    assert len(store_ctx.alerts.unscanned(limit=10)) == 3  # nothing committed in SQL

    saved = scan.save()

    assert saved.marked == 3
    assert [a["alert_id"] for a in saved.alerts] == [a["alert_id"] for a in scan.alerts]
    assert deliveries_of(store_ctx, scan.alerts) == Counter(saved.delivery_ids)
    assert len(saved.delivery_ids) == 3
    emails = alert_emails(store_ctx, "v1")
    assert len(emails) == 3 * len(MANAGERS) and set(emails.values()) == {1}
    assert len(store_ctx.alerts.list_for_venue("v1")) == 3
    assert store_ctx.alerts.count_by_level() == {"critical": 3}


def test_racing_scanners_of_overlapping_batches_store_and_notify_each_alert_once(
    store_ctx: Container,
) -> None:
    venue(store_ctx)
    ids = feedback(store_ctx, "v1", 12)
    batches = [ids[:8], ids[4:]]
    scans = [Scan(store_ctx, b, [alert("v1", i) for i in b]) for b in batches]
    barrier = threading.Barrier(len(scans))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(scan: Scan) -> None:
        try:
            barrier.wait()
            results.append(scan.save())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in scans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sum(r.marked for r in results) == 12
    reported = Counter(a["feedback_id"] for r in results for a in r.alerts)
    assert reported == Counter(ids)  # each alert reported by one scanner
    every = [alert("v1", i) for i in ids]
    assert deliveries_of(store_ctx, every) == Counter(d for r in results for d in r.delivery_ids)
    assert sum(deliveries_of(store_ctx, every).values()) == 12
    emails = alert_emails(store_ctx, "v1")
    assert len(emails) == 12 * len(MANAGERS) and set(emails.values()) == {1}
    assert len(store_ctx.alerts.list_for_venue("v1", limit=100)) == 12


def listed(ctx: Container, venue_id: str, **filters: Any) -> list[tuple[datetime, int]]:
    return [
        (a["detected_at"], a["feedback_id"]) for a in ctx.alerts.list_for_venue(venue_id, **filters)
    ]


def paged(ctx: Container, venue_id: str, size: int, **filters: Any) -> list[tuple[datetime, int]]:
    """Every alert of the list, read `size` at a time with the cursor."""
    keys: list[tuple[datetime, int]] = []
    while True:
        after = keys[-1] if keys else None
        page = ctx.alerts.list_for_venue(venue_id, limit=size, after=after, **filters)
        keys += [(a["detected_at"], a["feedback_id"]) for a in page]
        if len(page) < size:
            return keys


def test_lists_are_newest_first_filtered_exactly_limited_and_paged(
    store_ctx: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamo_alerts, "FILTERED_PAGE", 1)  # DynamoDB: filtered pages run short
    venue(store_ctx)
    venue(store_ctx, "other")
    ids = feedback(store_ctx, "v1", 10)
    times = [NOW - timedelta(hours=k // 2) for k in range(10)]  # pairs share a detected_at
    levels = ["critical", "high", "medium", "high", "low", "high", "info", "high", "high", "low"]
    rows = [
        alert("v1", i, level=lv, detected_at=t) for i, lv, t in zip(ids, levels, times, strict=True)
    ]
    Scan(store_ctx, ids, rows).save()
    (elsewhere,) = feedback(store_ctx, "other", 1)
    Scan(store_ctx, [elsewhere], [alert("other", elsewhere)]).save()
    for row in rows[1:4]:
        store_ctx.alerts.mark_read(row["alert_id"])
    assert (
        store_ctx.alerts.archive_before(before=NOW - timedelta(hours=3, minutes=30), now=NOW) == 2
    )

    newest = sorted(((r["detected_at"], r["feedback_id"]) for r in rows), reverse=True)
    level_of = {r["feedback_id"]: r["level"] for r in rows}
    read = {r["feedback_id"] for r in rows[1:4]}
    live = newest[:-2]  # the two oldest are archived
    assert listed(store_ctx, "v1") == live
    assert listed(store_ctx, "v1", include_archived=True) == newest
    assert listed(store_ctx, "v1", is_read=True) == [k for k in live if k[1] in read]
    assert listed(store_ctx, "v1", is_read=False) == [k for k in live if k[1] not in read]
    highs = [k for k in live if level_of[k[1]] == "high"]
    assert listed(store_ctx, "v1", level="high") == highs
    assert listed(store_ctx, "v1", level="high", limit=2) == highs[:2]
    unread_highs = [k for k in highs if k[1] not in read]
    assert listed(store_ctx, "v1", level="high", is_read=False, limit=1) == unread_highs[:1]
    assert listed(store_ctx, "v1", limit=0) == []
    assert paged(store_ctx, "v1", 3) == live
    assert paged(store_ctx, "v1", 2, include_archived=True) == newest
    assert paged(store_ctx, "v1", 1, level="high") == highs
    assert listed(store_ctx, "nowhere") == []

    since = store_ctx.alerts.list_since("v1", since=times[5], limit=3)
    oldest_first = sorted(k for k in newest if k[0] >= times[5])
    assert [(a["detected_at"], a["feedback_id"]) for a in since] == oldest_first[:3]
    assert store_ctx.alerts.list_since("v1", since=NOW + timedelta(seconds=1)) == []


def test_mark_read_and_the_first_acknowledgement_is_kept(store_ctx: Container) -> None:
    venue(store_ctx)
    (fid,) = feedback(store_ctx, "v1", 1)
    row = alert("v1", fid)
    Scan(store_ctx, [fid], [row]).save()

    assert store_ctx.alerts.mark_read(row["alert_id"]) == {**stored(row), "is_read": True}
    first = store_ctx.alerts.acknowledge(row["alert_id"], "ana", NOW + timedelta(minutes=1))
    again = store_ctx.alerts.acknowledge(row["alert_id"], "ben", NOW + timedelta(minutes=2))

    acked = {
        **stored(row),
        "is_read": True,
        "acknowledged_by": "ana",
        "acknowledged_at": NOW + timedelta(minutes=1),
    }
    assert first == again == acked
    assert store_ctx.alerts.get(row["alert_id"]) == acked
    assert store_ctx.alerts.mark_read("no-such-alert") is None
    assert store_ctx.alerts.acknowledge("no-such-alert", "ana", NOW) is None


def test_counts_per_level_over_every_venue_with_and_without_the_archived(
    store_ctx: Container,
) -> None:
    assert store_ctx.alerts.count_by_level() == {}
    for venue_id, levels in {"a": ["critical", "high", "high"], "b": ["high", "low"]}.items():
        venue(store_ctx, venue_id)
        ids = feedback(store_ctx, venue_id, len(levels))
        old = [NOW - timedelta(days=100)] + [NOW] * (len(levels) - 1)
        rows = [
            alert(venue_id, i, level=lv, detected_at=t)
            for i, lv, t in zip(ids, levels, old, strict=True)
        ]
        Scan(store_ctx, ids, rows).save()

    assert store_ctx.alerts.archive_before(before=NOW - timedelta(days=90), now=NOW) == 2
    assert store_ctx.alerts.archive_before(before=NOW - timedelta(days=90), now=NOW) == 0

    assert store_ctx.alerts.count_by_level() == {"high": 2, "low": 1}
    everything = {"critical": 1, "high": 3, "low": 1}
    assert store_ctx.alerts.count_by_level(include_archived=True) == everything


def test_the_detectors_reads_of_feedback(store_ctx: Container) -> None:
    venue(store_ctx)
    customer = make_customer(store_ctx.engine, now=NOW, tier="gold")
    old, new = feedback(store_ctx, "v1", 2, customer_id=customer)
    (scanned,) = feedback(store_ctx, "v1", 1, alert_scanned_at=NOW)

    rows = store_ctx.alerts.unscanned(limit=10)
    assert [r["feedback_id"] for r in rows] == [old, new]
    assert rows[0]["tier"] == "gold" and rows[0]["webhook_url"] == HOOK
    assert [r["feedback_id"] for r in store_ctx.alerts.unscanned(limit=10, after_id=old)] == [new]
    assert store_ctx.alerts.unscanned(limit=10, feedback_ids=[scanned]) == []
    low = store_ctx.alerts.low_ratings(
        customer_ids=[customer], since=NOW - timedelta(days=1), until=NOW
    )
    assert sorted(r["feedback_id"] for r in low) == [old, new]


# --- the response deadline: escalated_at on alerts, and the escalation's claim ------------------


def test_mark_escalated_keeps_the_first_escalation(store_ctx: Container) -> None:
    venue(store_ctx)
    sick, rude, plain = feedback(store_ctx, "v1", 3)
    scan = Scan(
        store_ctx, [sick, rude, plain], [alert("v1", sick), alert("v1", rude, level="high")]
    )
    scan.save()
    later = NOW + timedelta(hours=1)

    assert store_ctx.alerts.mark_escalated([alert_id_for(sick)], NOW) == 1
    assert store_ctx.alerts.mark_escalated([alert_id_for(sick), alert_id_for(rude)], later) == 1
    assert store_ctx.alerts.mark_escalated([alert_id_for(plain)], later) == 0  # no alert

    assert store_ctx.alerts.get(alert_id_for(sick))["escalated_at"] == NOW  # type: ignore[index]
    assert store_ctx.alerts.get(alert_id_for(rude))["escalated_at"] == later  # type: ignore[index]
    found = store_ctx.alerts.for_feedbacks([sick, rude, plain])
    assert sorted(found) == [sick, rude]
    assert found[sick] == stored({**scan.alerts[0], "escalated_at": NOW})


def escalation_of(
    ctx: Container, feedback_ids: Sequence[int], alerts: Mapping[int, Mapping[str, Any]]
) -> dict[str, Any]:
    """What sla_service hands AlertStore.escalate for these feedback (fresh queue ids)."""
    venue_row = {"venue_id": "v1", "webhook_url": HOOK, "alert_notify_min_level": "high"}
    found = {
        fid: Overdue(
            {"feedback_id": fid, "venue_id": "v1", "rating": 1, "comment": "Cold.",
             "created_at": NOW - timedelta(days=1), "escalated_at": None},
            NOW - timedelta(minutes=5),
            alerts.get(fid),
        )
        for fid in feedback_ids
    }  # fmt: skip
    return {
        "feedback_ids": list(feedback_ids),
        "alerts": alerts,
        "emails": {
            fid: manager_items(
                ctx.settings,
                kind=ESCALATION,
                venue_id="v1",
                manager_emails=MANAGERS,
                now=NOW,
                notice_key=f"escalation:{fid}",
                payload={"rating": 1, "due_at": "2026-03-10T11:55:00Z"},
                feedback_id=fid,
            )
            for fid in feedback_ids
        },
        "deliveries": {
            fid: escalation_deliveries(
                venue_row,
                document(o, now=NOW),
                level="high",
                now=NOW,
                settings=ctx.settings,
            )
            for fid, o in found.items()
        },
        "now": NOW,
    }


def escalation_emails(ctx: Container) -> Counter[tuple[str, str]]:
    return Counter(
        (q["notice_key"], q["customer_email"])
        for q in queued_emails(ctx, "v1")
        if q["kind"] == "escalation"
    )


def test_escalate_claims_each_unanswered_feedback_once_with_its_outputs(
    store_ctx: Container,
) -> None:
    venue(store_ctx)
    sick, cold = feedback(store_ctx, "v1", 2)
    (answered,) = feedback(store_ctx, "v1", 1, responded_at=NOW - timedelta(hours=1))
    Scan(store_ctx, [sick, cold, answered], [alert("v1", sick)]).save()
    alerts = store_ctx.alerts.for_feedbacks([sick])

    done = store_ctx.alerts.escalate(**escalation_of(store_ctx, [sick, cold, answered], alerts))
    again = store_ctx.alerts.escalate(**escalation_of(store_ctx, [sick, cold, answered], alerts))

    assert sorted(done) == [sick, cold] and again == []
    assert store_ctx.alerts.get(alert_id_for(sick))["escalated_at"] == NOW  # type: ignore[index]
    assert [r["feedback_id"] for r in store_ctx.alerts.unanswered("v1", escalated=True)] == [
        sick,
        cold,
    ]
    assert store_ctx.alerts.count_overdue("v1") == 2
    keys = [f"escalation:{i}" for i in (sick, cold)]
    assert escalation_emails(store_ctx) == Counter((k, e) for k in keys for e in MANAGERS)
    assert all(
        q["alert_id"] is None for q in queued_emails(store_ctx, "v1") if q["kind"] == "escalation"
    )
    with store_ctx.engine.connect() as conn:
        query = m.webhook_deliveries.select().where(
            m.webhook_deliveries.c.event == "feedback.escalated"
        )
        rows = conn.execute(query).mappings().all()
    assert sorted(r["delivery_id"] for r in rows) == sorted(
        delivery_id_for(i, HOOK) for i in (sick, cold)
    )
    assert {r["channel_id"] for r in rows} == {None}
    assert {r["feedback_id"]: r["alert_id"] for r in rows} == {sick: alert_id_for(sick), cold: None}


def test_an_escalation_whose_commit_died_is_written_once_by_the_next_run(
    store_ctx: Container,
) -> None:
    """The outputs of a claim that never committed (written to DynamoDB, or left by a process
    that died) are found again by the next claim: no manager gets the email twice."""
    venue(store_ctx)
    (sick,) = feedback(store_ctx, "v1", 1)
    Scan(store_ctx, [sick], [alert("v1", sick)]).save()
    alerts = store_ctx.alerts.for_feedbacks([sick])
    first = escalation_of(store_ctx, [sick], alerts)
    if store_ctx.settings.encore_derived_store == "dynamodb":
        dynamo = connect(store_ctx.settings)
        table = dynamo.name(VENUE_ALERTS)
        write_escalation(dynamo, table, alert=alerts[sick], emails=first["emails"][sick], now=NOW)
    else:
        with store_ctx.engine.begin() as conn:
            insert_notices(conn, first["emails"][sick])

    assert store_ctx.alerts.escalate(**escalation_of(store_ctx, [sick], alerts)) == [sick]

    assert escalation_emails(store_ctx) == Counter((f"escalation:{sick}", e) for e in MANAGERS)
    assert store_ctx.alerts.get(alert_id_for(sick))["escalated_at"] == NOW  # type: ignore[index]
