"""The pages work under their Content-Security-Policy: no violation reported by Chromium."""

from __future__ import annotations

from typing import Any

from live_site import ADMIN_TOKEN, Site, playwright_api, sign_in

expect = playwright_api().expect

# Reported by the page itself, so violations of any directive (script, style, img, connect…)
# are caught, not only those Chromium logs to the console.
LISTEN = """() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation',
    e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
}"""


INJECT = """() => {
  const s = document.createElement('script');
  s.textContent = 'window.__injected = 1';
  document.body.appendChild(s);
}"""


def violations(page: Any, console: list[str]) -> list[str]:
    seen = page.evaluate("() => window.__cspViolations || []")
    return [*seen, *(text for text in console if "Content Security Policy" in text)]


def watch(page: Any) -> list[str]:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(f"({LISTEN})()")
    return console


def test_the_dashboard_and_console_run_under_the_policy(page: Any, site: Site) -> None:
    console = watch(page)
    venue = site.venues[0]
    sign_in(page, venue.token)
    expect(page.locator(".card").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations(page, console) == []
    policy = page.request.get(f"/venues/{venue.venue_id}").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    # The control: an injected inline script is blocked, and the listener sees it.
    page.evaluate(INJECT)
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__injected") is None
    assert any(v.startswith("script-src") for v in violations(page, console))


def test_the_admin_console_runs_under_the_policy(page: Any, site: Site) -> None:
    console = watch(page)
    sign_in(page, ADMIN_TOKEN)
    expect(page.locator("li.job").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations(page, console) == []


def test_a_framed_dashboard_is_refused(page: Any, site: Site) -> None:
    """Another site's page framing the dashboard gets nothing (frame-ancestors 'none')."""
    page.set_content(
        f"<iframe id='f' src='{site.url}/signin'></iframe>"
        "<iframe id='control' srcdoc='<form></form>'></iframe>"
    )
    page.wait_for_timeout(1000)
    expect(page.frame_locator("#control").locator("form")).to_have_count(1)
    expect(page.frame_locator("#f").locator("form")).to_have_count(0)
