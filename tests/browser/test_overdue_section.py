"""A manager on the venue page after the response deadline passed: the overdue feedback comes
first, above the figures, oldest first, with how long it is overdue and its reply's state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from factories import make_customer, make_feedback
from live_site import Site, playwright_api, sign_in

from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job

expect = playwright_api().expect


def test_overdue_feedback_is_the_first_section(page: Any, site: Site, screenshot: Any) -> None:
    venue = site.venues[0]
    ctx = site.ctx
    now = ctx.clock.now()
    make_feedback(
        ctx.engine,
        venue.venue_id,
        created_at=now - timedelta(hours=30),
        rating=1,
        comment="Nobody answered my complaint about the <cold> soup.",
        customer_id=make_customer(ctx.engine, now=now),  # a reply could reach them
    )
    run_job(ctx, "response_sla", trigger=RunTrigger.MANUAL)
    run_job(ctx, "stats_aggregator", trigger=RunTrigger.MANUAL)
    oldest = ctx.alerts.unanswered(venue.venue_id, escalated=True, limit=1)[0]
    total = ctx.alerts.count_overdue(venue.venue_id)

    sign_in(page, venue.token)

    first = page.locator("#main > section").first
    expect(first).to_have_id("overdue")
    expect(page.locator("#overdue-title .count")).to_have_text(str(total))
    items = page.locator("#overdue .overdue-item")
    expect(items.first).to_have_id(f"overdue-{oldest['feedback_id']}")
    expect(items.first).to_contain_text("overdue by")
    assert items.count() == min(total, 10)
    card = page.locator(".card", has_text="Overdue replies")
    expect(card.locator(".card-value")).to_have_text(str(total))
    screenshot(page, "venue-overdue")
