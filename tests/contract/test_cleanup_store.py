"""The CleanupStore contract, on SQL (SQLite, MariaDB, PostgreSQL) and DynamoDB (moto), through
weekly_cleanup's use case (cleanup_service.run_cleanup) and the port's rules.

Given alerts, queue items and stats snapshots made through their ports and aged with the manual
clock, expect old alerts archived (hidden from the default listing), old failed emails deleted
with their history, everything recent or not failed kept, a dry run that counts what the real run
then does and changes nothing, a rerun that finds nothing, and the exact age boundaries.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.queue_setup import claim_item, feedback, queued_reply, venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.services.cleanup_service import run_cleanup
from encore_backend.storage.ports.operations import archive_alerts, purge_failed_emails

SECOND = timedelta(seconds=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
RULE_STEPS = ("alerts_archived", "failed_emails_deleted", "stats_snapshots_thinned")


@pytest.fixture
def v1(store_ctx: Container) -> Container:
    venue(store_ctx)
    return store_ctx


def failed_email(ctx: Container) -> dict[str, Any]:
    """A reply queued now and failed for good at once (attempt history: one row)."""
    item = queued_reply(ctx)
    got = claim_item(ctx, item["queue_id"], "f")
    assert ctx.email_queue.mark_failed(
        got, claim="f", now=ctx.clock.now(), error="550 no", backend="smtp"
    )
    return item


def sent_email(ctx: Container) -> dict[str, Any]:
    item = queued_reply(ctx)
    got = claim_item(ctx, item["queue_id"], "s")
    assert ctx.email_queue.mark_sent(
        got, claim="s", now=ctx.clock.now(), backend="smtp", provider_message_id="<m>"
    )
    return item


def alert(ctx: Container) -> str:
    """An alert detected now on a new 1-star feedback (saved by the detector's port, without
    manager emails: only the test's own queue items are due)."""
    fid = feedback(ctx, rating=1, alert_scanned_at=None)
    alert_id = str(uuid.uuid4())
    doc = {
        "alert_id": alert_id,
        "venue_id": "v1",
        "feedback_id": fid,
        "level": "high",
        "title": "High: 1-star rating",
        "description": "A 1-star rating.",
        "reasons": [{"rule": "rating", "level": "high"}],
        "detected_at": ctx.clock.now(),
        "is_read": False,
    }
    saved = ctx.alerts.save_scan(
        feedback_ids=[fid], alerts=[doc], deliveries={}, now=ctx.clock.now()
    )
    assert saved.alerts
    return alert_id


def listed(ctx: Container, *, include_archived: bool = False) -> set[str]:
    rows = ctx.alerts.list_for_venue("v1", include_archived=include_archived)
    return {str(r["alert_id"]) for r in rows}


def state(ctx: Container, alerts: list[str], emails: list[dict[str, Any]]) -> list[Any]:
    """What cleanup may change: the alerts, the queue items and their history, the snapshots."""
    return [
        [ctx.alerts.get(a) for a in alerts],
        [ctx.email_queue.get(e["queue_id"]) for e in emails],
        [ctx.email_queue.history(e["queue_id"]) for e in emails],
        ctx.stats.history("v1", since=EPOCH, limit=100),
    ]


def snapshots(ctx: Container, times: list[datetime]) -> None:
    for n, at in enumerate(times):
        ctx.stats.save_snapshots(computed_at=at, stats={"v1": {"feedback_today": n}})


def test_weekly_cleanup_archives_and_purges_what_is_old_and_a_dry_run_counts_the_same(
    v1: Container, clock: ManualClock
) -> None:
    ctx = v1
    old_alert, old_failed, old_sent = alert(ctx), failed_email(ctx), sent_email(ctx)
    clock.advance(days=100)
    now = clock.now()
    new_alert, new_failed = alert(ctx), failed_email(ctx)
    alerts, emails = [old_alert, new_alert], [old_failed, new_failed, old_sent]
    before = state(ctx, alerts, emails)

    dry = run_cleanup(ctx, now=now, dry_run=True)
    assert state(ctx, alerts, emails) == before
    assert {k: dry[k] for k in RULE_STEPS} == {
        "alerts_archived": 1,
        "failed_emails_deleted": 1,
        "stats_snapshots_thinned": 0,
    }

    done = run_cleanup(ctx, now=now)
    assert done == dry
    archived = ctx.alerts.get(old_alert)
    assert archived is not None and archived["archived_at"] == now
    assert before[0][0] == {**archived, "archived_at": None}
    assert ctx.alerts.get(new_alert) == before[0][1]
    assert listed(ctx) == {new_alert}
    assert listed(ctx, include_archived=True) == {old_alert, new_alert}
    level = str(archived["level"])  # the metrics' counts follow the archiving
    assert ctx.alerts.count_by_level().get(level) == 1
    assert ctx.alerts.count_by_level(include_archived=True).get(level) == 2
    assert ctx.email_queue.get(old_failed["queue_id"]) is None
    assert ctx.email_queue.history(old_failed["queue_id"]) == []
    for n, kept in ((1, new_failed), (2, old_sent)):
        assert ctx.email_queue.get(kept["queue_id"]) == before[1][n]
        assert ctx.email_queue.history(kept["queue_id"]) == before[2][n]


def test_thinning_counts_the_same_in_a_dry_run_and_keeps_the_policys_snapshots(
    v1: Container, clock: ManualClock
) -> None:
    ctx, now = v1, clock.now()
    hour = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    day = (now - timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    # Three in one UTC hour two days back, three in one UTC day ten days back, two today:
    # thinning keeps the first of the hour and of the day and all of today (4 go).
    today = [now - timedelta(hours=2), now - timedelta(hours=1, minutes=50)]
    snapshots(ctx, [day + timedelta(hours=h) for h in (1, 5, 9)])
    snapshots(ctx, [hour + timedelta(minutes=m) for m in (0, 20, 40)])
    snapshots(ctx, today)
    before = state(ctx, [], [])

    assert ctx.cleanup.thin_stats(now=now, dry_run=True) == 4
    assert state(ctx, [], []) == before
    assert ctx.cleanup.thin_stats(now=now) == 4

    kept = [s["computed_at"] for s in state(ctx, [], [])[3]]
    assert kept == [day + timedelta(hours=1), hour, *today]
    assert ctx.cleanup.thin_stats(now=now, dry_run=True) == 0
    assert ctx.cleanup.thin_stats(now=now) == 0


def test_a_rerun_at_the_same_instant_changes_nothing(v1: Container, clock: ManualClock) -> None:
    ctx = v1
    old_alert, old_failed = alert(ctx), failed_email(ctx)
    clock.advance(days=100)
    now = clock.now()
    snapshots(ctx, [now - timedelta(days=2) + timedelta(minutes=m) for m in (0, 20)])  # 1 hour
    first = run_cleanup(ctx, now=now)
    assert {k: first[k] for k in RULE_STEPS} == dict.fromkeys(RULE_STEPS, 1)
    after = state(ctx, [old_alert], [old_failed])

    again = run_cleanup(ctx, now=now)

    assert {k: again[k] for k in RULE_STEPS} == dict.fromkeys(RULE_STEPS, 0)
    assert state(ctx, [old_alert], [old_failed]) == after


def test_the_rules_act_only_strictly_before_their_cut_off(
    v1: Container, clock: ManualClock
) -> None:
    ctx = v1
    edge = clock.now()
    clock.set(edge - SECOND)
    older_alert, older_failed = alert(ctx), failed_email(ctx)
    clock.set(edge)
    edge_alert, edge_failed = alert(ctx), failed_email(ctx)
    later = edge + timedelta(days=1)
    archive, purge = archive_alerts(before=edge, now=later), purge_failed_emails(before=edge)

    assert (ctx.cleanup.count(archive), ctx.cleanup.count(purge)) == (1, 1)
    assert (ctx.cleanup.apply(archive), ctx.cleanup.apply(purge)) == (1, 1)
    assert (ctx.cleanup.apply(archive), ctx.cleanup.apply(purge)) == (0, 0)

    older, at_edge = ctx.alerts.get(older_alert), ctx.alerts.get(edge_alert)
    assert older is not None and older["archived_at"] == later
    assert at_edge is not None and at_edge["archived_at"] is None
    assert ctx.email_queue.get(older_failed["queue_id"]) is None
    assert ctx.email_queue.get(edge_failed["queue_id"]) is not None
    assert ctx.cleanup.count(purge_failed_emails(before=edge + SECOND)) == 1


def test_a_requeued_email_is_not_purged(v1: Container, clock: ManualClock) -> None:
    item = failed_email(v1)
    clock.advance(days=40)
    purge = purge_failed_emails(before=clock.now() - timedelta(days=30))
    assert v1.cleanup.count(purge) == 1
    assert v1.email_queue.requeue(item["queue_id"], now=clock.now())
    assert v1.cleanup.count(purge) == 0 and v1.cleanup.apply(purge) == 0
    requeued = v1.email_queue.get(item["queue_id"])
    assert requeued is not None and requeued["status"] == "pending"
