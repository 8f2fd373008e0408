"""A venue manager in a real browser: cards and charts, alerts acknowledged in place and
arriving live, replies edited and approved, another venue refused, comments shown as text."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from live_site import ADMIN_TOKEN, Site, playwright_api, sign_in

from encore_backend.domain.enums import ReplyStatus

expect = playwright_api().expect

NO_RELOAD = "window.__encoreNoReload = true"
STILL_SAME_PAGE = "window.__encoreNoReload === true"


def manager(site: Site) -> Any:
    return site.venues[0]


def test_manager_sees_cards_and_charts(page: Any, site: Site, screenshot: Any) -> None:
    venue = manager(site)
    sign_in(page, venue.token)
    expect(page).to_have_url(re.compile(f"/venues/{venue.venue_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(venue.name)
    expect(page.locator(".card")).to_have_count(10)
    expect(page.locator("#stats-updated")).to_contain_text(
        re.compile(r"updated (just now|\d+ \w+ ago)")
    )
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("svg.chart .bar")).to_have_count(30)
    assert page.locator("svg.chart .dot").count() > 0
    expect(page.locator("#live-state")).to_have_text("Live")
    expect(page.locator("#queue .status-sent").first).to_be_visible()
    expect(page.locator("#reports .report")).to_have_count(2)
    screenshot(page, "venue-dashboard")


def test_acknowledge_alert_in_place(page: Any, site: Site) -> None:
    sign_in(page, manager(site).token)
    page.evaluate(NO_RELOAD)
    item = page.locator("li.alert.unread").first
    alert_id = item.get_attribute("data-alert-id")
    unread = int(page.locator("#unread-count").inner_text())
    item.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(f"#alert-{alert_id} .ack-state")).to_contain_text("Acknowledged by")
    expect(page.locator("#unread-count")).to_have_text(str(unread - 1))
    assert page.evaluate(STILL_SAME_PAGE)
    stored = site.ctx.alerts.get(alert_id)
    assert stored["acknowledged_at"] is not None and stored["is_read"]


def test_edit_and_approve_reply(page: Any, site: Site) -> None:
    venue = manager(site)
    sign_in(page, venue.token)
    reply = page.locator("article.reply").first
    response_id = reply.get_attribute("id").removeprefix("reply-")
    edited = "Thank you for telling us. Our manager will call you this week. (edited)"
    reply.locator("textarea").fill(edited)
    reply.get_by_role("button", name="Approve and send").click()
    expect(page.locator(".notice")).to_contain_text("Reply approved")
    expect(page.locator(f"#reply-{response_id}")).to_have_count(0)
    stored = site.ctx.replies.get(response_id)
    assert stored["body"] == edited
    assert stored["status"] in (ReplyStatus.APPROVED, ReplyStatus.CANCELLED)
    assert site.ctx.email_queue.for_response(response_id) is not None


NEW_FIRST_ALERT = """known => {
  const first = document.querySelector("#alert-list li.alert");
  return first !== null && !known.includes(first.id);
}"""


def test_new_alert_arrives_live_and_comment_is_text(page: Any, site: Site, screenshot: Any) -> None:
    venue = manager(site)
    sign_in(page, venue.token)
    expect(page.locator("#live-state")).to_have_text("Live")
    page.evaluate(NO_RELOAD)
    known = page.locator("#alert-list li.alert").evaluate_all("items => items.map(i => i.id)")
    comment = "Found a cockroach under the bread <script>window.__pwned = 1</script> awful"
    posted = time.monotonic()
    response = httpx.post(
        f"{site.url}/api/feedback",
        json={"venue_id": venue.venue_id, "rating": 2, "comment": comment},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    page.wait_for_function(NEW_FIRST_ALERT, arg=known, timeout=5_000)
    arrived = time.monotonic() - posted
    assert arrived < 5, arrived
    assert page.evaluate(STILL_SAME_PAGE)
    first = page.locator("#alert-list li.alert").first
    alert = site.ctx.alerts.get(first.get_attribute("data-alert-id"))
    assert alert["feedback_id"] == response.json()["feedback_id"]
    expect(first.locator(".badge")).to_have_text("high")
    expect(first.get_by_role("button", name="Acknowledge")).to_be_visible()
    page.reload()
    shown = page.locator(".feedback-list .comment").filter(has_text="cockroach")
    expect(shown.first).to_have_text(comment)
    assert page.locator(".feedback-list script").count() == 0
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "venue-dashboard-live")


def test_other_venue_is_refused(page: Any, site: Site) -> None:
    sign_in(page, manager(site).token)
    response = page.goto(f"/venues/{site.venues[1].venue_id}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert site.venues[1].name not in page.content()
