"""Helpers of the reply-pipeline tests: a scripted provider, venues with settings, due feedback."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from factories import make_customer, make_feedback, make_venue
from sqlalchemy import insert, select

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.providers.ai import Draft, ReplyRequest
from encore_backend.services.pacing import SLEEP_KEY
from encore_backend.services.reply_service import PROVIDER_KEY
from encore_backend.storage.sql import models as m

OK = "ok"


class ScriptedProvider:
    """Returns drafts (or raises) in the order given, then plain thank-yous; records call times."""

    name = "scripted"

    def __init__(self, clock: ManualClock, script: Iterable[Any] = ()) -> None:
        self.clock = clock
        self.script = list(script)
        self.calls: list[tuple[datetime, ReplyRequest]] = []

    def draft(self, request: ReplyRequest) -> Draft:
        self.calls.append((self.clock.now(), request))
        step = self.script.pop(0) if self.script else OK
        if isinstance(step, Exception):
            raise step
        body = f"Hi, thank you for visiting {request.venue_name}." if step == OK else step
        return Draft(subject="Thank you for your visit", body=body, provider="scripted", model="s1")


def use_manual_sleep(ctx: Container, clock: ManualClock) -> list[float]:
    """Sleeps advance the manual clock; returns the list of sleeps taken."""
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds=seconds)

    ctx.extras[SLEEP_KEY] = sleep
    return sleeps


def use_provider(ctx: Container, provider: Any) -> None:
    ctx.extras[PROVIDER_KEY] = provider


def venue(ctx: Container, venue_id: str = "v1", **settings: Any) -> str:
    return make_venue(
        ctx.engine,
        venue_id,
        now=ctx.clock.now() - timedelta(days=30),
        manager_emails=[f"boss@{venue_id}.example", f"deputy@{venue_id}.example"],
        settings=settings,
    )


def feedback(
    ctx: Container,
    venue_id: str = "v1",
    *,
    comment: str = "The food was lovely and the staff were kind.",
    rating: int = 4,
    email: str | None = "anna@example.com",
    name: str | None = "anna smith",
    scanned: bool = True,
    age: timedelta = timedelta(hours=2),
    unsubscribed: bool = False,
    no_customer: bool = False,
) -> int:
    """One feedback the alert detector has already scanned (unless scanned=False)."""
    now = ctx.clock.now()
    customer_id = None
    if not no_customer:
        # 12 hex digits: with 6, a test of 100 customers collided on the unique email in CI.
        email = email and email.replace("@", f"+{uuid.uuid4().hex[:12]}@")
        customer_id = make_customer(ctx.engine, now=now, email=email, name=name)
        if email is None:
            _set_customer(ctx, customer_id, email=None)
        if unsubscribed:
            _set_customer(ctx, customer_id, unsubscribed_at=now)
    return make_feedback(
        ctx.engine,
        venue_id,
        created_at=now - age,
        rating=rating,
        comment=comment,
        customer_id=customer_id,
        alert_scanned_at=now if scanned else None,
    )


def _set_customer(ctx: Container, customer_id: int, **values: Any) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(
            m.customers.update().where(m.customers.c.customer_id == customer_id).values(**values)
        )


def add_alert(
    ctx: Container, feedback_id: int, venue_id: str = "v1", level: str = "critical"
) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(m.alerts).values(
                alert_id=str(uuid.uuid4()),
                venue_id=venue_id,
                feedback_id=feedback_id,
                level=level,
                title="Alert",
                description="test",
                reasons=[{"rule": "keyword", "level": level}],
                detected_at=ctx.clock.now(),
                is_read=False,
            )
        )


def feedback_row(ctx: Container, feedback_id: int) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(m.feedback).where(m.feedback.c.feedback_id == feedback_id)).one()
    return dict(row._mapping)


def all_rows(ctx: Container, table: Any) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def max_in_window(times: Iterable[datetime], window: timedelta = timedelta(seconds=60)) -> int:
    """The most events in any half-open window [t, t + window) (checked from every event)."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        count = sum(1 for t in ordered[i:] if t < start + window)
        best = max(best, count)
    return best
