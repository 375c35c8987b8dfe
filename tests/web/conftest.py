"""Fixtures for the web tests: the app over the demo data, a live server on a free loopback port, and
Debian Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.helpers import LiveServer, client_for

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def demo_client(demo_run):
    data_dir, _summary = demo_run
    return client_for(data_dir)


def _no_browser(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} not found: install the Debian package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        _no_browser(f"playwright is not installed: {e}")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception as e:  # noqa: BLE001 - report any launch failure the same way
        pw.stop()
        _no_browser(f"{CHROMIUM} did not start: {e}")
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture(scope="session")
def live_demo(demo_run):
    data_dir, _summary = demo_run
    with LiveServer(data_dir) as srv:
        yield srv


@pytest.fixture
def page(chromium):
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    pg = ctx.new_page()
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
