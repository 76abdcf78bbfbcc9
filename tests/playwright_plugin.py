"""Playwright fixtures for every browser test: Debian's Chromium against ``live_server``.

Locally, without /usr/bin/chromium, these tests skip with the reason; in CI
(``CI=true``) a missing browser is an error, never a silent skip.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screens"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORTS = {
    "phone": {
        "viewport": {"width": 360, "height": 780},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI needs Chromium at {CHROMIUM} for the browser tests.")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop; Django's ORM refuses to run inside one
    # unless told this is a test process that knows what it is doing.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser, live_server):
    """A fresh page at phone and at desktop size; ``page.size`` says which."""
    context = browser.new_context(base_url=live_server.url, **VIEWPORTS[request.param])
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.size = request.param
    yield pg
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under test-artifacts/screens/<name>-<size>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}-{page.size}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
