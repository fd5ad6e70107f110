"""Fixtures for the website widget: its built assets, its web server, and Debian's headless Chromium
driven by Playwright (Playwright cannot download its own browser builds here).

Chromium is installed by scripts/ensure-browser.sh when missing. If it cannot be had, the browser
tests fail in CI (CI=true), where they must run, and are skipped with the reason elsewhere.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from aiohttp import web

from harness.stack import free_port
from bot.settings import PROJECT_ROOT
from bot.apps.web_server import BackgroundSite, make_app

SCREENSHOTS = PROJECT_ROOT / "results" / "screenshots"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must run the browser tests)")
    pytest.skip(reason)


def _run(script: Path, timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture(scope="session")
def widget_built() -> Path:
    """web/vendor/ built from package-lock.json by web/build.sh (instant when up to date)."""
    proc = _run(PROJECT_ROOT / "web" / "build.sh", 600)
    if proc.returncode != 0:
        _unavailable(f"the widget's assets could not be built (web/build.sh):\n{proc.stderr[-3000:]}")
    return PROJECT_ROOT / "web"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    proc = _run(PROJECT_ROOT / "scripts" / "ensure-browser.sh", 900)
    if proc.returncode != 0 or not proc.stdout.strip():
        _unavailable(f"headless Chromium is not available (scripts/ensure-browser.sh):\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browser(chromium_path):
    # Module-scoped: Playwright's sync API holds an event loop open in the main thread while it runs,
    # and tests after these ones call asyncio.run().
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    yield page
    context.close()
    # A widget that throws in the console is broken even when the test's own checks passed.
    assert not errors, f"the page logged errors: {errors}"


def _site(app: web.Application) -> Iterator[BackgroundSite]:
    site = BackgroundSite(app, free_port()).start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="session")
def widget_site(stack, stack_settings, widget_built):
    """The widget's page as production serves it: everyone anonymous, `?as=` ignored."""
    yield from _site(make_app(stack_settings, stack.url, web_dir=widget_built))


@pytest.fixture(scope="session")
def demo_widget_site(stack, stack_settings, widget_built):
    """The widget's page with demo logins on: `?as=demo-...` chats as that demo account."""
    yield from _site(make_app(stack_settings, stack.url, demo_logins=True, web_dir=widget_built))
