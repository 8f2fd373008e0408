"""The alert detector against real databases: cursor, event path, concurrency, rules via SQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

from factories import make_customer, make_feedback, make_venue
from sqlalchemy import Engine, event, func, select

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.scheduler.jobs import alert_detector
from encore_backend.services import alert_service
from encore_backend.storage.sql import models as m


def alerts_by_feedback(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        return {r.feedback_id: dict(r._mapping) for r in conn.execute(select(m.alerts))}


def unscanned_ids(engine: Engine) -> list[int]:
    query = select(m.feedback.c.feedback_id).where(m.feedback.c.alert_scanned_at.is_(None))
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def test_periodic_run_finds_feedback_written_straight_into_the_table(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    sick = make_feedback(engine, "v1", created_at=now, rating=4, comment="I was sick all night")
    fine = make_feedback(engine, "v1", created_at=now, rating=5, comment="Lovely")

    result = alert_detector.run(ctx, now)

    assert result.items_processed == 2
    assert result.details["alerts_created"] == 1
    alert = alerts_by_feedback(engine)[sick]
    assert alert["level"] == "critical"
    assert alert["title"] == "Critical: sick mention"
    assert alert["reasons"] == [
        {"rule": "critical_keyword", "level": "critical", "keyword": "sick", "matched": "sick"}
    ]
    assert alert["detected_at"] == now
    assert fine not in alerts_by_feedback(engine)
    assert unscanned_ids(engine) == []


def test_a_rerun_creates_nothing(ctx: Container, engine: Engine, clock: ManualClock) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    make_feedback(engine, "v1", created_at=now, rating=1, comment="rude and dirty")
    assert alert_detector.run(ctx, now).details["alerts_created"] == 1

    again = alert_detector.run(ctx, clock.advance(minutes=5))

    assert again.items_processed == 0
    assert again.details["alerts_created"] == 0
    assert len(alerts_by_feedback(engine)) == 1


def test_event_path_scans_only_the_given_ids(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    first = make_feedback(engine, "v1", created_at=now, rating=1, comment="cockroach")
    second = make_feedback(engine, "v1", created_at=now, rating=1, comment="cockroach")

    result = alert_detector.run(ctx, now, feedback_ids=[first])

    assert result.items_processed == 1
    assert set(alerts_by_feedback(engine)) == {first}
    assert unscanned_ids(engine) == [second]
    assert alert_detector.run(ctx, now, feedback_ids=[first]).items_processed == 0


def test_many_batches_each_with_a_fixed_number_of_queries(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url="http://127.0.0.1:9/hook")
    customer = make_customer(engine, now=now, tier="gold")
    for n in range(25):
        comment = "hair in the soup" if n % 2 else "fine"
        make_feedback(
            engine, "v1", created_at=now, rating=1 + n % 5, comment=comment, customer_id=customer
        )
    statements = count_statements(engine)

    report = alert_service.detect(ctx, now=now, batch_size=10)
    issued = list(statements)

    assert report.scanned == 25
    assert unscanned_ids(engine) == []
    assert len(alerts_by_feedback(engine)) == len(report.alerts) > 10
    # 3 batches; each: load, history, the venues' channels and the managers' preferences (a
    # batch with alerts that may mail), and one write transaction of 4 statements (mark, insert
    # alerts, find ours, insert deliveries): the count does not grow with the rows.
    assert len(issued) == 3 * 8, "\n".join(issued)


def count_statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement[:80])

    return seen


def test_two_concurrent_scans_never_duplicate(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url="http://127.0.0.1:9/hook")
    for n in range(120):
        comment = "We got food poisoning" if n % 3 == 0 else "nice"
        make_feedback(engine, "v1", created_at=now, rating=5, comment=comment)
    barrier = threading.Barrier(2)
    reports: list[alert_service.ScanReport] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            barrier.wait()
            reports.append(alert_service.detect(ctx, now=now, batch_size=15))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert len(alerts_by_feedback(engine)) == 40
    assert sum(len(r.alerts) for r in reports) == 40  # each alert reported by one scanner
    assert sum(r.scanned for r in reports) == 120
    with engine.connect() as conn:
        deliveries = conn.execute(select(func.count()).select_from(m.webhook_deliveries))
        assert deliveries.scalar_one() == 40  # notified once per alert


def test_repeated_complaint_through_the_database(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    make_venue(engine, "v2", now=now)
    alex = make_customer(engine, now=now)
    make_feedback(engine, "v1", created_at=now - timedelta(days=45), rating=1, customer_id=alex)
    make_feedback(engine, "v2", created_at=now - timedelta(days=3), rating=1, customer_id=alex)
    alert_detector.run(ctx, now)
    first = make_feedback(
        engine, "v1", created_at=now - timedelta(days=10), rating=2, customer_id=alex
    )
    second = make_feedback(engine, "v1", created_at=now, rating=2, customer_id=alex)

    alert_detector.run(ctx, clock.advance(minutes=1))

    alerts = alerts_by_feedback(engine)
    assert alerts[first]["level"] == "medium"  # the 45-day-old one and v2's do not count
    assert alerts[second]["level"] == "high"
    assert [r["rule"] for r in alerts[second]["reasons"]] == ["repeated_complaint", "rating"]


def test_high_value_customer_through_the_database(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    rich = make_customer(engine, now=now, lifetime_value=Decimal("1000.00"))
    vip = make_customer(engine, now=now, tier="VIP")
    plain = make_customer(engine, now=now, lifetime_value=Decimal("999.99"), tier="silver")
    ids = {
        name: make_feedback(engine, "v1", created_at=now, rating=3, customer_id=cid)
        for name, cid in (("rich", rich), ("vip", vip), ("plain", plain))
    }

    alert_detector.run(ctx, now)

    alerts = alerts_by_feedback(engine)
    assert alerts[ids["rich"]]["title"] == "High: unhappy high-value customer"
    assert alerts[ids["vip"]]["level"] == "high"
    assert ids["plain"] not in alerts


def test_venue_keywords_and_disabled_rules(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    settings = {"alert_keywords": {"critical": ["salmonella"]}, "alert_rules_disabled": ["rating"]}
    make_venue(engine, "v1", now=now, settings=settings)
    make_venue(engine, "v2", now=now)
    custom = make_feedback(engine, "v1", created_at=now, rating=1, comment="Salmonella, surely")
    low = make_feedback(engine, "v1", created_at=now, rating=1, comment="meh")
    elsewhere = make_feedback(engine, "v2", created_at=now, rating=5, comment="salmonella")

    alert_detector.run(ctx, now)

    alerts = alerts_by_feedback(engine)
    assert alerts[custom]["level"] == "critical"
    assert alerts[custom]["reasons"] == [
        {
            "rule": "custom_keyword",
            "level": "critical",
            "keyword": "salmonella",
            "matched": "salmonella",
        }
    ]
    assert low not in alerts  # rating rule switched off at v1
    assert elsewhere not in alerts  # v1's keyword only


def test_deliveries_are_written_with_the_alert_at_or_above_the_venue_level(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    url = "http://127.0.0.1:9/hook"
    make_venue(engine, "v1", now=now, webhook_url=url)
    make_venue(
        engine, "v2", now=now, webhook_url=url, settings={"alert_notify_min_level": "medium"}
    )
    make_venue(engine, "v3", now=now)  # no webhook
    for venue in ("v1", "v2", "v3"):
        make_feedback(engine, venue, created_at=now, rating=2, comment="rude")  # medium
        make_feedback(engine, venue, created_at=now, rating=1, comment="dirty")  # high

    report = alert_service.detect(ctx, now=now)

    assert len(report.alerts) == 6
    with engine.connect() as conn:
        rows = conn.execute(select(m.webhook_deliveries)).all()
    assert sorted(r.venue_id for r in rows) == ["v1", "v2", "v2"]
    assert {r.status for r in rows} == {"pending"}
    assert {r.next_attempt_at for r in rows} == {now}
    assert sorted(report.delivery_ids) == sorted(r.delivery_id for r in rows)


def test_event_run_through_the_run_recorder(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    from encore_backend.domain.enums import RunTrigger
    from encore_backend.scheduler.runner import run_job

    now = clock.now()
    make_venue(engine, "v1", now=now)
    feedback_id = make_feedback(engine, "v1", created_at=now, rating=1, comment="mice")

    record = run_job(
        ctx, "alert_detector", trigger=RunTrigger.EVENT, params={"feedback_ids": [feedback_id]}
    )

    assert record is not None
    assert (record["status"], record["trigger"], record["items_processed"]) == (
        "success", "event", 1,
    )  # fmt: skip
    assert record["details"]["alerts_created"] == 1
    assert set(alerts_by_feedback(engine)) == {feedback_id}


def test_a_reset_cursor_rescans_without_duplicating_or_renotifying(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url="http://127.0.0.1:9/hook")
    kept = make_feedback(engine, "v1", created_at=now, rating=1, comment="filthy")
    first = alert_service.detect(ctx, now=now)
    with engine.begin() as conn:  # an operator asks for a full rescan
        conn.execute(m.feedback.update().values(alert_scanned_at=None))
    make_feedback(engine, "v1", created_at=now, rating=1, comment="filthy")

    again = alert_service.detect(ctx, now=clock.advance(minutes=1))

    assert again.scanned == 2
    assert len(again.alerts) == 1 and kept not in {a["feedback_id"] for a in again.alerts}
    assert alerts_by_feedback(engine)[kept]["alert_id"] == first.alerts[0]["alert_id"]
    assert len(first.delivery_ids) == len(again.delivery_ids) == 1
