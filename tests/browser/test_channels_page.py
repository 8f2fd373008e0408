"""A venue manager sets up a Slack channel in a real browser: add it, see it listed, send a test
message to a local receiver (checked as a Slack body), delete it."""

from __future__ import annotations

import json
import re
from typing import Any

from live_site import Site, playwright_api, sign_in
from support.webhook_receiver import WebhookReceiver

expect = playwright_api().expect


def test_manager_adds_tests_and_deletes_a_slack_channel(page: Any, site: Site) -> None:
    venue = site.venues[0]
    receiver = WebhookReceiver().start()
    try:
        sign_in(page, venue.token)
        page.get_by_role("link", name="Notification channels").click()
        expect(page).to_have_url(re.compile(f"/venues/{venue.venue_id}/channels$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Notification channels")

        page.get_by_label("Type").select_option("slack")
        page.get_by_label("Incoming-webhook URL").fill(receiver.url)
        page.get_by_label("Name (optional)").fill("Kitchen Slack")
        page.get_by_label("critical").check()
        page.get_by_label("high").uncheck()
        page.get_by_role("button", name="Add channel").click()

        expect(page.locator(".notice")).to_contain_text("Channel added")
        row = page.locator("tr", has_text="Kitchen Slack")
        expect(row).to_have_count(1)
        expect(row.locator("[data-field=status]")).to_have_text("active")
        expect(row).to_contain_text("critical")
        [stored] = [
            c
            for c in site.ctx.channels.list_for_venue(venue.venue_id)
            if c["name"] == "Kitchen Slack"
        ]
        assert stored["levels"] == ["critical"] and stored["type"] == "slack"

        row.get_by_role("button", name="Send a test message to Kitchen Slack").click()
        expect(page.locator(".notice")).to_contain_text("Test message delivered")
        [req] = receiver.requests
        body = json.loads(req.body)
        assert body["text"] and body["blocks"][0]["type"] == "header"
        assert "x-encore-signature" not in req.headers

        page.get_by_role("button", name="Delete Kitchen Slack").click()
        expect(page.locator(".notice")).to_contain_text("Channel removed")
        expect(page.locator("tr", has_text="Kitchen Slack")).to_have_count(0)
        assert site.ctx.channels.get(stored["channel_id"]) is None
    finally:
        receiver.stop()
