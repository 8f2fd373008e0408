"""A venue manager on the settings page in a real browser: a manager address moved to a 07:00
digest with quiet hours, a 12-hour response deadline, a playful voice with a signature and a
banned phrase; a reload shows them, a bad value shows its error and saves nothing."""

from __future__ import annotations

from typing import Any

from live_site import Site, playwright_api, sign_in

from encore_backend.domain.manager_prefs import Pref

expect = playwright_api().expect


def test_settings_page_saves_preferences_deadline_and_voice(
    page: Any, site: Site, screenshot: Any
) -> None:
    venue = site.venues[1]
    ctx = site.ctx
    sign_in(page, venue.token)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    address = ctx.venues.get(venue.venue_id)["manager_emails"][0]

    form = page.locator(f"form.manager-pref[data-email='{address}']")
    form.get_by_label("Emails").select_option("digest")
    form.get_by_label("Digest hour").select_option("7")
    form.get_by_label("From").select_option("22")
    form.get_by_label("Until").select_option("6")
    form.get_by_role("button", name=f"Save for {address}").click()
    expect(page.locator(".notice")).to_contain_text("Email preference saved")

    voice = page.locator("#voice-form")
    voice.get_by_label("Response deadline (hours)").fill("12")
    voice.get_by_label("Tone of replies").select_option("playful")
    voice.get_by_label("Signature").fill("Cheers, the Blue Door team")
    voice.get_by_label("Banned phrases (one per line)").fill("no worries")
    voice.get_by_role("button", name="Save deadline and voice").click()
    expect(page.locator(".notice")).to_contain_text("Response deadline and voice saved")

    page.reload()
    form = page.locator(f"form.manager-pref[data-email='{address}']")
    expect(form.get_by_label("Emails")).to_have_value("digest")
    expect(form.get_by_label("Digest hour")).to_have_value("7")
    expect(form.get_by_label("From")).to_have_value("22")
    expect(form.get_by_label("Until")).to_have_value("6")
    expect(page.get_by_label("Response deadline (hours)")).to_have_value("12")
    expect(page.get_by_label("Tone of replies")).to_have_value("playful")
    expect(page.get_by_label("Signature")).to_have_value("Cheers, the Blue Door team")
    expect(page.get_by_label("Banned phrases (one per line)")).to_have_value("no worries")
    screenshot(page, "venue-settings")
    assert ctx.manager_prefs.for_venue(venue.venue_id)[address.lower()] == Pref("digest", 7, 22, 6)
    stored = ctx.venues.get_settings(venue.venue_id)
    assert (stored["response_sla_hours"], stored["reply_tone"]) == (12, "playful")
    assert stored["banned_phrases"] == ["no worries"]

    # A phrase of one letter is refused: the error is shown by the field, nothing is saved.
    page.get_by_label("Banned phrases (one per line)").fill("no worries\nx")
    page.get_by_label("Response deadline (hours)").fill("48")
    page.get_by_role("button", name="Save deadline and voice").click()
    expect(page.locator("#banned_phrases-error")).to_be_visible()
    expect(page.get_by_label("Banned phrases (one per line)")).to_have_value("no worries\nx")
    assert ctx.venues.get_settings(venue.venue_id)["response_sla_hours"] == 12

    # A digest without its hour is refused the same way.
    form = page.locator(f"form.manager-pref[data-email='{address}']")
    form.get_by_label("Digest hour").select_option("")
    form.get_by_role("button", name=f"Save for {address}").click()
    expect(page.locator(".field-error").first).to_contain_text("digest_hour")
    assert ctx.manager_prefs.for_venue(venue.venue_id)[address.lower()].digest_hour == 7
