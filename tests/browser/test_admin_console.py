"""An operator in a real browser: venues and jobs, run now, pause and resume, run history,
CSRF on every form, sign-out."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from live_site import ADMIN_TOKEN, Site, has_email, playwright_api, sign_in

from encore_backend.domain.enums import ReplyStatus
from encore_backend.scheduler.scheduler import EngineScheduler
from encore_backend.services import approval_service

expect = playwright_api().expect


def job_card(page: Any, job_id: str) -> Any:
    return page.locator(f"#job-{job_id}")


def test_console_lists_venues_and_jobs(page: Any, site: Site, screenshot: Any) -> None:
    sign_in(page, ADMIN_TOKEN)
    expect(page).to_have_url(re.compile("/admin$"))
    rows = page.locator("#venues tbody tr")
    expect(rows).to_have_count(len(site.venues))
    expect(rows.first.get_by_role("link")).to_have_text(site.venues[0].name)
    expect(page.locator("li.job")).to_have_count(8)
    expect(page.get_by_role("link", name="Metrics")).to_have_attribute("href", "/metrics")
    expect(page.get_by_role("link", name="API docs")).to_have_attribute("href", "/docs")
    screenshot(page, "admin-console")


def test_run_now_shows_the_new_run(page: Any, site: Site, screenshot: Any) -> None:
    sign_in(page, ADMIN_TOKEN)
    before = site.ctx.job_runs.latest(job_id="stats_aggregator")
    job_card(page, "stats_aggregator").get_by_role(
        "button", name="Run stats_aggregator now"
    ).click()
    newest = site.ctx.job_runs.latest(job_id="stats_aggregator")
    assert newest["run_id"] != before["run_id"]
    notice = f"stats_aggregator run {newest['run_id']}: success"
    expect(page.locator(".notice")).to_contain_text(notice)
    expect(job_card(page, "stats_aggregator").locator('[data-field="last"]')).to_contain_text(
        "success"
    )
    job_card(page, "stats_aggregator").get_by_role("link", name="History").click()
    first = page.locator("#runs tbody tr").first
    expect(first).to_have_attribute("data-run", str(newest["run_id"]))
    expect(first).to_contain_text("manual")
    screenshot(page, "job-history")


def test_pause_and_resume(page: Any, site: Site) -> None:
    sign_in(page, ADMIN_TOKEN)
    card = job_card(page, "alert_detector")
    card.get_by_role("button", name="Pause alert_detector").click()
    expect(page.locator(".notice")).to_have_text("alert_detector paused.")
    expect(card.locator(".badge.state-paused")).to_be_visible()
    assert EngineScheduler(site.ctx).job("alert_detector")["paused"]
    card.get_by_role("button", name="Resume alert_detector").click()
    expect(page.locator(".notice")).to_have_text("alert_detector resumed.")
    expect(card.locator(".badge.state-paused")).to_have_count(0)
    assert not EngineScheduler(site.ctx).job("alert_detector")["paused"]


def test_forms_need_the_csrf_token(page: Any, site: Site) -> None:
    sign_in(page, ADMIN_TOKEN)
    before = site.ctx.job_runs.latest(job_id="daily_report")
    refused = page.request.post(f"{site.url}/admin/jobs/daily_report/run", form={"x": "1"})
    assert refused.status == 403
    forged = page.request.post(
        f"{site.url}/admin/jobs/daily_report/run", form={"csrf_token": "0" * 64}
    )
    assert forged.status == 403
    assert site.ctx.job_runs.latest(job_id="daily_report")["run_id"] == before["run_id"]


def test_sign_out(page: Any, site: Site) -> None:
    sign_in(page, ADMIN_TOKEN)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/signin$"))
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fadmin$"))


def test_bad_token_and_manager_cannot_open_console(page: Any, site: Site) -> None:
    sign_in(page, "not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    sign_in(page, site.venues[0].token)
    response = page.goto("/admin")
    assert response.status == 404


def dead_workers_item(site: Site) -> dict[str, Any]:
    """A reply approved, claimed by a worker that "died" (lease already over), then reaped:
    failed with "outcome unknown", the case an operator requeues by hand."""
    ctx, venue_id = site.ctx, site.venues[1].venue_id
    drafts = ctx.replies.list_for_venue(venue_id, status=ReplyStatus.GENERATED.value, limit=50)
    reply = next(r for r in drafts if has_email(ctx, r["feedback_id"]))
    approval_service.approve(ctx, response_id=reply["response_id"], by="browser-test")
    queued = ctx.email_queue.for_response(reply["response_id"])
    now = ctx.clock.now()
    claimed = ctx.email_queue.claim_next(
        now=now, claim="dead-worker", lease_until=now - timedelta(seconds=1)
    )
    assert claimed is not None and claimed["queue_id"] == queued["queue_id"]
    assert ctx.email_queue.expire_leases(now=now) == [queued["queue_id"]]
    return ctx.email_queue.get(queued["queue_id"])


def test_requeue_a_failed_email(page: Any, site: Site, screenshot: Any) -> None:
    item = dead_workers_item(site)
    assert item["status"] == "failed" and item["error"] == "outcome unknown"
    sign_in(page, ADMIN_TOKEN)
    row = page.locator("#queue-health tbody tr").filter(has_text=item["customer_email"])
    expect(row).to_contain_text("outcome unknown")
    screenshot(page, "admin-failed-email")
    row.get_by_role("button", name="Requeue").click()
    expect(page.locator(".notice")).to_have_text("The email is queued to send again now.")
    expect(
        page.locator("#queue-health tbody tr").filter(has_text=item["customer_email"])
    ).to_have_count(0)
    requeued = site.ctx.email_queue.get(item["queue_id"])
    assert requeued["status"] == "pending" and requeued["attempts"] == 0
    assert [h["outcome"] for h in site.ctx.email_queue.history(item["queue_id"])][-2:] == [
        "outcome_unknown",
        "requeued",
    ]
