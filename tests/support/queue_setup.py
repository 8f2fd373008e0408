"""Set-up of the queue and reply contract suites: source rows in SQL (factories), replies and
queue items through the ports, alerts and reports through their stores.

While the alert and report stores of the DynamoDB profile are not wired yet, their documents
(and the manager emails queued with them) are written as those stores will write them
(DYNAMO.md rule 7: the item layouts the queue and reply stores read).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from factories import make_customer, make_feedback, make_venue
from sqlalchemy import update

from encore_backend.bootstrap import Container
from encore_backend.services import email_service
from encore_backend.services.manager_mail import manager_items
from encore_backend.storage.dynamodb.codec import encode, iso
from encore_backend.storage.dynamodb.queue_items import new_item_writes
from encore_backend.storage.dynamodb.schema import REPORTS, VENUE_ALERTS
from encore_backend.storage.sql import models as m

MANAGERS = ["ana@venue.example", "ben@venue.example"]


def in_dynamodb(ctx: Container) -> bool:
    return ctx.settings.encore_derived_store == "dynamodb"


def venue(ctx: Container, venue_id: str = "v1", **settings: Any) -> str:
    now = ctx.clock.now() - timedelta(days=30)
    return make_venue(ctx.engine, venue_id, now=now, manager_emails=MANAGERS, settings=settings)


def feedback(
    ctx: Container,
    venue_id: str = "v1",
    *,
    email: str | None = "",
    age: timedelta = timedelta(hours=2),
    **extra: Any,
) -> int:
    """A scanned feedback by a customer (a fresh address unless `email` is given; None: the
    customer has no address)."""
    now = ctx.clock.now()
    address = email if email is None or email else f"c{uuid.uuid4().hex[:10]}@example.com"
    customer = make_customer(ctx.engine, now=now, email=address, name="Sam Doe")
    if address is None:  # the factory would invent one
        with ctx.engine.begin() as conn:
            conn.execute(
                update(m.customers).where(m.customers.c.customer_id == customer).values(email=None)
            )
    extra.setdefault("alert_scanned_at", now)
    return make_feedback(ctx.engine, venue_id, created_at=now - age, customer_id=customer, **extra)


def reply(
    ctx: Container,
    feedback_id: int,
    *,
    status: str = "auto_approved",
    venue_id: str = "v1",
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A reply row as the generator builds it."""
    return {
        "response_id": str(uuid.uuid4()),
        "feedback_id": feedback_id,
        "venue_id": venue_id,
        "subject": "Thank you for your visit",
        "body": f"Hi, thank you ({feedback_id}).",
        "status": status,
        "provider": "scripted",
        "model": "s1",
        "error": None,
        "created_at": created_at or ctx.clock.now(),
    }


def queued_reply(
    ctx: Container,
    *,
    venue_id: str = "v1",
    send_at: datetime | None = None,
    email: str | None = "",
) -> dict[str, Any]:
    """A feedback with an auto-approved reply and its queue item (saved through the port);
    the queue row."""
    fid = feedback(ctx, venue_id, email=email)
    row = reply(ctx, fid, venue_id=venue_id)
    source = ctx.replies.draft_source(fid)
    assert source is not None
    now = ctx.clock.now()
    item = email_service.new_queue_item(
        ctx.settings, reply=row, customer=source, send_at=send_at or now, now=now
    )
    assert ctx.replies.save(reply=row, queue_item=item)
    found = ctx.email_queue.for_response(row["response_id"])
    assert found is not None
    return found


def alert_with_emails(ctx: Container, feedback_id: int, *, level: str = "critical") -> str:
    """An alert on the feedback, with its emails to the managers; the alert id."""
    now = ctx.clock.now()
    alert = {
        "alert_id": str(uuid.uuid4()),
        "venue_id": "v1",
        "feedback_id": feedback_id,
        "level": level,
        "title": "Possible food poisoning",
        "description": "The guest reports being sick.",
        "reasons": [{"rule": "keyword", "level": level, "keyword": "sick"}],
        "detected_at": now,
        "is_read": False,
    }
    items = manager_items(
        ctx.settings,
        kind="alert",
        venue_id="v1",
        manager_emails=MANAGERS,
        now=now,
        alert_id=alert["alert_id"],
        feedback_id=feedback_id,
    )
    if in_dynamodb(ctx) and not _dynamo_store(ctx.alerts):
        created = ctx.feedback.get(feedback_id)
        assert created is not None
        doc = {
            **alert,
            "sk": f"{iso(now)}#{feedback_id:012d}",
            "feedback_created_at": created["created_at"],
        }
        _put_with_emails(ctx, VENUE_ALERTS, doc, items)
        with ctx.engine.begin() as conn:  # the scan marks its feedback, as save_scan does
            conn.execute(
                update(m.feedback)
                .where(m.feedback.c.feedback_id == feedback_id)
                .values(alert_scanned_at=now)
            )
    else:
        saved = ctx.alerts.save_scan(
            feedback_ids=[feedback_id],
            alerts=[alert],
            deliveries={},
            now=now,
            emails={alert["alert_id"]: items},
        )
        assert saved.alerts
    return str(alert["alert_id"])


def report_with_emails(ctx: Container, content: dict[str, Any]) -> str:
    """A daily report of yesterday with its emails to the managers; the report id."""
    now = ctx.clock.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    report = {
        "report_id": str(uuid.uuid4()),
        "venue_id": "v1",
        "kind": "daily",
        "period_start": start,
        "period_end": start + timedelta(days=1),
        "generated_at": now,
        "content": content,
    }
    items = manager_items(
        ctx.settings,
        kind="report",
        venue_id="v1",
        manager_emails=MANAGERS,
        now=now,
        report_id=report["report_id"],
    )
    if in_dynamodb(ctx) and not _dynamo_store(ctx.reports):
        _put_with_emails(ctx, REPORTS, {**report, "sk": f"daily#{iso(start)}"}, items)
    else:
        assert ctx.reports.insert([report], emails=lambda inserted: items)
    return str(report["report_id"])


def _dynamo_store(store: Any) -> bool:
    return type(store).__name__.startswith("Dynamo")


def _put_with_emails(ctx: Container, spec: Any, doc: dict[str, Any], items: list[dict]) -> None:
    dynamo = ctx.email_queue.dynamo  # type: ignore[attr-defined]
    writes = [{"Put": {"TableName": dynamo.name(spec), "Item": encode(doc)}}]
    dynamo.client.transact_write_items(TransactItems=writes + new_item_writes(dynamo, items))


def claim_item(ctx: Container, queue_id: str, claim: str) -> dict[str, Any]:
    """Claim this item under `claim` (claims take due items in no set order: others claimed on
    the way are released untried)."""
    now, others = ctx.clock.now(), []
    while True:
        got = ctx.email_queue.claim_next(
            now=now, claim=claim, lease_until=now + timedelta(minutes=5)
        )
        assert got is not None, f"{queue_id} is not due"
        if got["queue_id"] == queue_id:
            break
        others.append(got)
    for other in others:
        assert ctx.email_queue.release(other, claim=claim)
    return got
