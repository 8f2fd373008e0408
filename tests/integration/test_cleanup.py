"""weekly_cleanup on every database: age boundaries, rows outside the rules untouched (whole-table
snapshots before and after), dry runs that change nothing, planted orphans, monthly rollups."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import make_feedback, make_venue
from sqlalchemy import Connection, Engine, delete, insert, select, update
from support.databases import backend_of

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.jobs import weekly_cleanup
from encore_backend.scheduler.runner import run_job
from encore_backend.storage.ports.operations import archive_alerts
from encore_backend.storage.sql import models as m

NOW = datetime(2026, 6, 7, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
SKIPPED_TABLES = {"encore_monthly_stats"}  # rewritten by every run; tested on its own below


def snapshot(engine: Engine) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table, by primary key."""
    tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in m.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            key = [c.name for c in table.primary_key.columns]
            rows = [dict(r._mapping) for r in conn.execute(select(table))]
            tables[table.name] = {tuple(r[k] for k in key): r for r in rows}
    return tables


def alert(engine: Engine, venue_id: str, detected_at: datetime, **extra: Any) -> str:
    feedback_id = make_feedback(engine, venue_id, created_at=detected_at, rating=1)
    alert_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(m.alerts).values(
                alert_id=alert_id,
                venue_id=venue_id,
                feedback_id=feedback_id,
                level="high",
                title="High: 1-star rating",
                description="planted",
                reasons=[{"rule": "rating", "level": "high"}],
                detected_at=detected_at,
                is_read=False,
                **extra,
            )
        )
    return alert_id


def reply(conn: Connection, feedback_id: int, venue_id: str, at: datetime) -> str:
    response_id = str(uuid.uuid4())
    conn.execute(
        insert(m.ai_responses).values(
            response_id=response_id,
            feedback_id=feedback_id,
            venue_id=venue_id,
            subject="Thanks",
            body="Thank you.",
            status="failed",
            provider="template",
            created_at=at,
        )
    )
    return response_id


def queue_item(
    engine: Engine, venue_id: str, created_at: datetime, status: str, queue_venue: str = ""
) -> str:
    """A reply and its queue item (with one history row) on a new feedback."""
    feedback_id = make_feedback(engine, venue_id, created_at=created_at, rating=3)
    queue_id = str(uuid.uuid4())
    with engine.begin() as conn:
        response_id = reply(conn, feedback_id, venue_id, created_at)
        conn.execute(
            insert(m.email_queue).values(
                queue_id=queue_id,
                feedback_id=feedback_id,
                response_id=response_id,
                venue_id=queue_venue or venue_id,
                customer_email="guest@example.com",
                scheduled_send_time=created_at,
                status=status,
                created_at=created_at,
                attempts=5 if status == "failed" else 0,
                error="smtp down" if status == "failed" else None,
                message_id=f"<{queue_id}@encore.test>",
            )
        )
        conn.execute(
            insert(m.email_history).values(
                queue_id=queue_id, attempted_at=created_at, outcome=status, error=None
            )
        )
    return queue_id


def job_run(engine: Engine, job_id: str, started_at: datetime, status: str = "success") -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(m.job_runs).values(
                job_id=job_id,
                tick_key=f"t:{uuid.uuid4().hex}",
                trigger="schedule",
                fire_time=started_at,
                status=status,
                owner="test:1",
                started_at=started_at,
                finished_at=None if status == "running" else started_at,
                items_processed=0,
            )
        )
        return int(result.inserted_primary_key[0])


def plant_aged_rows(engine: Engine) -> dict[str, Any]:
    """Rows on both sides of every age rule; the ids the rules must act on."""
    make_venue(engine, "v", now=NOW - 400 * DAY)
    ages = {"89d": 89 * DAY, "90d-1s": 90 * DAY - SECOND, "90d": 90 * DAY}
    ages |= {"90d+1s": 90 * DAY + SECOND, "91d": 91 * DAY}
    alerts = {name: alert(engine, "v", NOW - age) for name, age in ages.items()}
    alerts["archived"] = alert(engine, "v", NOW - 120 * DAY, archived_at=NOW - 30 * DAY)
    ages = {"29d": 29 * DAY, "30d-1s": 30 * DAY - SECOND, "30d": 30 * DAY}
    ages |= {"30d+1s": 30 * DAY + SECOND, "31d": 31 * DAY}
    failed = {name: queue_item(engine, "v", NOW - age, "failed") for name, age in ages.items()}
    others = [queue_item(engine, "v", NOW - 60 * DAY, s) for s in ("sent", "cancelled", "pending")]
    running = job_run(engine, "x", NOW - 40 * DAY, "running")
    by_age = sorted(ages.items(), key=lambda item: -item[1])  # oldest first, as runs happen
    runs = {name: job_run(engine, "x", NOW - age) for name, age in by_age}
    only_y = job_run(engine, "y", NOW - 45 * DAY)  # y's latest run: kept whatever its age
    return {
        "archive": [alerts["90d+1s"], alerts["91d"]],
        "delete_queue": [failed["30d+1s"], failed["31d"]],
        "delete_runs": [runs["30d+1s"], runs["31d"]],
        "kept": {"queue": others, "runs": [running, only_y]},
    }


def test_age_rules_act_on_exactly_the_rows_past_their_boundary(
    ctx: Container, engine: Engine
) -> None:
    planted = plant_aged_rows(engine)
    before = snapshot(engine)
    done = weekly_cleanup.run(ctx, NOW).details
    assert done["alerts_archived"] == 2
    assert done["failed_emails_deleted"] == 2 and done["job_runs_deleted"] == 2
    expected = snapshot_after_rules(before, planted)
    assert snapshot(engine) == expected


def snapshot_after_rules(
    before: dict[str, dict[tuple[Any, ...], dict[str, Any]]], planted: dict[str, Any]
) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """The expected tables: those alerts archived now, those queue items and runs gone."""
    after = {name: dict(rows) for name, rows in before.items()}
    for alert_id in planted["archive"]:
        after["encore_venue_alerts"][(alert_id,)] = {
            **before["encore_venue_alerts"][(alert_id,)],
            "archived_at": NOW,
        }
    for queue_id in planted["delete_queue"]:
        del after["encore_email_queue"][(queue_id,)]
    gone = set(planted["delete_queue"])
    after["email_history"] = {
        k: r for k, r in after["email_history"].items() if r["queue_id"] not in gone
    }
    for run_id in planted["delete_runs"]:
        del after["job_runs"][(run_id,)]
    return after


def test_a_dry_run_changes_nothing_and_counts_what_the_real_run_then_does(
    ctx: Container, engine: Engine
) -> None:
    plant_aged_rows(engine)
    with engine.begin() as conn:  # ten days of half-hourly snapshots for the thinning step
        conn.execute(
            insert(m.computed_stats),
            [
                {"venue_id": "v", "computed_at": NOW - i * timedelta(minutes=30), "stats": {}}
                for i in range(10 * 48)
            ],
        )
    before = snapshot(engine)
    dry = weekly_cleanup.run(ctx, NOW, dry_run=True)
    assert snapshot(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(m.monthly_stats)).first() is None
    real = weekly_cleanup.run(ctx, NOW)
    assert dry.details == {**real.details, "dry_run": True}
    assert real.details["stats_snapshots_thinned"] > 250 and real.details["monthly_rollups"] > 0
    again = weekly_cleanup.run(ctx, NOW).details
    assert again["alerts_archived"] == again["stats_snapshots_thinned"] == 0


def test_the_cli_dry_run_path_records_the_counts_in_the_run_record(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    plant_aged_rows(engine)
    clock.set(NOW)
    record = run_job(ctx, "weekly_cleanup", trigger=RunTrigger.MANUAL, params={"dry_run": True})
    assert record is not None and record["status"] == "success"
    assert record["details"]["dry_run"] is True and record["details"]["alerts_archived"] == 2
    assert ctx.alerts.count_by_level() == {"high": 5}  # nothing newly archived


def test_rules_work_in_small_batches(ctx: Container, engine: Engine) -> None:
    make_venue(engine, "v", now=NOW - 400 * DAY)
    ids = [alert(engine, "v", NOW - (100 + i) * DAY) for i in range(5)]
    rule = archive_alerts(before=NOW - 90 * DAY, now=NOW)
    assert ctx.cleanup.count(rule) == 5
    assert ctx.cleanup.apply(rule, batch=2) == 5
    assert ctx.cleanup.count(rule) == 0
    assert all(ctx.alerts.get(i)["archived_at"] == NOW for i in ids)  # type: ignore[index]


@contextmanager
def foreign_keys_off(engine: Engine) -> Iterator[Connection]:
    """A connection that may write rows pointing nowhere (as a careless other system would)."""
    backend = backend_of(engine)
    on, off = {
        "sqlite": ("PRAGMA foreign_keys=ON", "PRAGMA foreign_keys=OFF"),
        "mariadb": ("SET FOREIGN_KEY_CHECKS=1", "SET FOREIGN_KEY_CHECKS=0"),
        "postgresql": (
            "SET session_replication_role = origin",
            "SET session_replication_role = replica",
        ),
    }[backend]
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if backend == "sqlite":
            raw.execute(off)  # type: ignore[union-attr]
        else:
            conn.exec_driver_sql(off)
        try:
            yield conn
            conn.commit()
        finally:
            if backend == "sqlite":
                raw.execute(on)  # type: ignore[union-attr]
            else:
                conn.exec_driver_sql(on)
                conn.commit()


def test_planted_orphans_are_found_and_removed_and_nothing_else(
    ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "v", now=NOW - 400 * DAY)
    alert(engine, "v", NOW - DAY)  # a healthy alert
    queue_item(engine, "v", NOW - DAY, "pending")  # a healthy reply and queue item
    doomed = make_feedback(engine, "v", created_at=NOW - DAY)
    fb = make_feedback(engine, "v", created_at=NOW - DAY)
    healthy = snapshot(engine)
    with foreign_keys_off(engine) as conn:
        reply(conn, doomed, "v", NOW)  # -> its feedback is deleted below
        conn.execute(
            insert(m.alerts).values(
                alert_id="orphan-venue", venue_id="ghost", feedback_id=doomed, level="low",
                title="t", description="d", reasons=[], detected_at=NOW, is_read=False,
            )
        )  # fmt: skip
        conn.execute(delete(m.feedback).where(m.feedback.c.feedback_id == doomed))
        reply(conn, fb, "ghost", NOW)  # a reply of a venue that does not exist
    queue_item(engine, "v", NOW - DAY, "pending", queue_venue="ghost")
    healthy_too = snapshot(engine)
    dry = weekly_cleanup.run(ctx, NOW, dry_run=True).details
    assert (dry["orphan_queue_items"], dry["orphan_replies"], dry["orphan_alerts"]) == (1, 2, 1)
    real = weekly_cleanup.run(ctx, NOW).details
    assert (real["orphan_queue_items"], real["orphan_replies"], real["orphan_alerts"]) == (1, 2, 1)
    after = snapshot(engine)
    assert after["encore_venue_alerts"] == healthy["encore_venue_alerts"]
    kept = set(healthy_too["encore_ai_responses"]) - {
        k for k, r in healthy_too["encore_ai_responses"].items()
        if r["venue_id"] == "ghost" or r["feedback_id"] == doomed
    }  # fmt: skip
    assert set(after["encore_ai_responses"]) == kept
    assert after["encore_email_queue"] == healthy["encore_email_queue"]
    assert after["feedback"] == healthy_too["feedback"]  # feedback is never removed
    assert (doomed,) not in after["feedback"]


def test_monthly_rollups_by_local_month_recompute_recent_months_only(
    ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "ny", now=NOW - 400 * DAY, timezone="America/New_York")
    march = datetime(2026, 3, 1, 5, tzinfo=UTC)  # 00:00 EST on 1 March
    rows = [
        (march - SECOND, 2),
        (march, 5),
        (march + DAY, 4),
        (datetime(2026, 1, 9, tzinfo=UTC), 1),
    ]
    for created_at, rating in rows:
        make_feedback(engine, "ny", created_at=created_at, rating=rating, response_seconds=3600)
    now = datetime(2026, 4, 12, 3, tzinfo=UTC)
    assert weekly_cleanup.run(ctx, now, dry_run=True).details["monthly_rollups"] == 4
    assert weekly_cleanup.run(ctx, now).details["monthly_rollups"] == 4
    got = {r["month"]: r for r in ctx.monthly_stats.list_for_venue("ny", limit=12)}
    assert list(got) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert [got[k]["feedback_count"] for k in got] == [1, 1, 2, 0]
    assert got["2026-03"]["rating_sum"] == 9 and got["2026-03"]["positive_count"] == 2
    assert got["2026-03"]["period_start"] == march
    with engine.begin() as conn:
        conn.execute(update(m.monthly_stats).values(feedback_count=99))
    assert weekly_cleanup.run(ctx, now).details["monthly_rollups"] == 3  # Feb, Mar, Apr: recent
    got = {
        r["month"]: r["feedback_count"] for r in ctx.monthly_stats.list_for_venue("ny", limit=12)
    }
    assert got == {"2026-01": 99, "2026-02": 1, "2026-03": 2, "2026-04": 0}
