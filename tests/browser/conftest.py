"""Browser fixtures: Debian's Chromium driven by Playwright against a live Encore server.

Chromium is never downloaded: without /usr/bin/chromium (or the playwright package) the tests
skip locally and fail under CI=true, like the database services in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_site import IN_CI, Site, playwright_api, start_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist (scripts/test.sh), one worker runs every browser test, in file order: one
    seeded site and one Chromium, as in a serial run."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("browser"))


def require_browser() -> Any:
    """playwright.sync_api, when Debian's Chromium is there too (skip, or fail under CI=true)."""
    sync_api = playwright_api()
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing (make test installs it: apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_api


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_browser()
    running = start_site(tmp_path_factory.mktemp("browser-site"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser(site: Site) -> Iterator[Any]:
    """One Chromium for the session (closed before the server stops)."""
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh browser context (no cookies) with a desktop viewport."""
    context = browser.new_context(viewport=DESKTOP, base_url=site.url)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], None]:
    """Save the page at desktop and phone widths to test-artifacts/<name>-{desktop,phone}.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def shoot(page: Any, name: str) -> None:
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return shoot
