"""Demo data: expected rows, a no-op second run with --if-empty, every alert rule tripped."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from api_support import count_rows
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from encore_backend.api.deps import resolve_token
from encore_backend.bootstrap import Container
from encore_backend.cli import app as cli_app
from encore_backend.demo import load_demo
from encore_backend.demo_history import ANSWERED_BEFORE
from encore_backend.demo_text import NEGATED_COMMENTS
from encore_backend.domain import alert_rules
from encore_backend.domain.enums import Role
from encore_backend.storage.sql import models as m


def test_load_demo_writes_venues_feedback_and_tokens(ctx: Container, engine: Engine) -> None:
    venues = load_demo(ctx, venues=3, feedback=100, days=60, seed=7, progress=False)
    assert count_rows(engine, m.venues) == 3 and count_rows(engine, m.feedback) == 100
    assert len({v.timezone for v in venues}) == 3
    now = ctx.clock.now()
    with engine.connect() as conn:
        rows = conn.execute(select(m.feedback.c.created_at, m.feedback.c.alert_scanned_at)).all()
    assert all(r.alert_scanned_at is None for r in rows)  # the detector's first scan finds them
    assert all(now - timedelta(days=61) <= r.created_at <= now for r in rows)
    for venue in venues:
        principal = resolve_token(ctx, venue.token)
        assert principal is not None and principal.role == Role.VENUE_MANAGER
        assert principal.venue_id == venue.venue_id
        assert ctx.feedback.count(venue.venue_id) in (33, 34)


def test_cli_demo_data_then_if_empty_is_a_no_op(
    ctx: Container, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    args = ["demo-data", "--venues", "2", "--feedback", "40", "--seed", "1", "--if-empty"]
    first = CliRunner().invoke(cli_app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.count("manager token: enc_") == 2
    second = CliRunner().invoke(cli_app, args)
    assert second.exit_code == 0 and "skipped" in second.stdout
    assert count_rows(engine, m.venues) == 2 and count_rows(engine, m.feedback) == 40


def test_every_alert_rule_is_tripped_and_negations_are_not(ctx: Container, engine: Engine) -> None:
    load_demo(ctx, venues=2, feedback=400, days=60, seed=11, progress=False)
    min_spend = ctx.settings.high_value_customer_min_spend
    rules = {
        venue_id: alert_rules.venue_rules(
            min_spend=min_spend,
            alert_keywords=s["alert_keywords"],
            alert_rules_disabled=s["alert_rules_disabled"],
        )
        for venue_id, s in ctx.venues.list_settings().items()
    }
    tripped: set[str] = set()
    for row, facts in _facts(engine):
        reasons = alert_rules.evaluate(facts, rules[row.venue_id])
        tripped |= {r.rule for r in reasons}
        if row.comment in NEGATED_COMMENTS:
            assert not [r for r in reasons if r.rule.endswith("_keyword")], row.comment
    assert tripped == set(alert_rules.ALERT_RULE_IDS)


def _facts(engine: Engine) -> list[tuple[Any, alert_rules.FeedbackFacts]]:
    """Each feedback with the facts the detector would gather (incl. earlier low ratings)."""
    f, c = m.feedback, m.customers
    query = (
        select(f, c.c.lifetime_value, c.c.tier)
        .select_from(f.outerjoin(c, f.c.customer_id == c.c.customer_id))
        .order_by(f.c.created_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    earlier: dict[tuple[Any, str], list[datetime]] = defaultdict(list)
    out = []
    for row in rows:
        key = (row.customer_id, row.venue_id)
        facts = alert_rules.FeedbackFacts(
            rating=row.rating,
            comment=row.comment,
            created_at=row.created_at,
            lifetime_value=row.lifetime_value,
            tier=row.tier,
            earlier_low_ratings=tuple(earlier[key]) if row.customer_id else (),
        )
        out.append((row, facts))
        if row.rating <= 2 and row.customer_id:
            earlier[key].append(row.created_at)
    return out


def test_older_demo_feedback_was_answered_and_the_last_days_wait_for_the_jobs(
    ctx: Container, engine: Engine
) -> None:
    load_demo(ctx, venues=2, feedback=300, days=30, seed=5, progress=False)
    cutoff = ctx.clock.now() - ANSWERED_BEFORE
    f, r, c = m.feedback.c, m.ai_responses.c, m.customers.c
    query = select(
        f.feedback_id,
        f.created_at,
        f.status,
        f.response_seconds,
        r.status.label("reply_status"),
        r.sent_at,
        c.email,
    ).select_from(
        m.feedback.outerjoin(m.ai_responses, r.feedback_id == f.feedback_id).outerjoin(
            m.customers, c.customer_id == f.customer_id
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    old = [row for row in rows if row.created_at < cutoff]
    recent = [row for row in rows if row.created_at >= cutoff]
    assert old and recent
    assert all(row.reply_status is None and row.status == "new" for row in recent)
    for row in old:
        if row.email:
            assert (row.status, row.reply_status) == ("responded", "sent")
            assert row.sent_at > row.created_at and row.response_seconds > 0
        else:
            assert (row.status, row.reply_status) == ("pending", "cancelled")
