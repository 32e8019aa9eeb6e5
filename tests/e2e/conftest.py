"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against live_server."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from portal.testing.services import MissingService
from tests.conftest import service_missing
from tests.factories import PASSWORD, TOTP_SECRET

# Playwright's sync API runs an event loop in this thread; the ORM calls of fixtures are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = os.environ.get("OPENMDMR_SCREENSHOTS", "")


def chromium_path() -> str:
    for candidate in (
        os.environ.get("CHROMIUM", ""),
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise MissingService("Chromium not found: apt-get install chromium chromium-driver")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        executable = chromium_path()
    except MissingService as exc:
        service_missing(exc)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture(autouse=True)
def _forget_used_totp_codes() -> None:
    """allauth refuses a TOTP code used in the last 90 s (kept in the cache): tests that sign
    the same person in again within that window must not look like a replay."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def totp_now() -> str:
    return format_hotp_value(hotp_value(TOTP_SECRET, int(time.time()) // 30))


def log_in(page: Any, email: str, *, two_factor: bool) -> None:
    """Sign in through the real pages, answering the TOTP prompt for staff."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    if two_factor:
        page.wait_for_selector("input[name=code]")
        page.fill("input[name=code]", totp_now())
        page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def charts_drawn(page: Any) -> None:
    """Wait until plotly has drawn every chart of the page (it draws after load)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-figure]')]"
        ".every(el => el.querySelector('.main-svg'))",
        timeout=15000,
    )


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        charts_drawn(page)
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def nav_to(page: Any, label: str) -> None:
    """Follow a main-menu entry as a person does: open its group's menu (menus are grouped by
    task), then click the entry."""
    group = page.evaluate(
        """(label) => {
            const nav = document.querySelector('[data-testid=main-nav]');
            const entry = [...nav.querySelectorAll('a')].find(a => a.textContent.trim() === label);
            const menu = entry && entry.closest('li.dropdown');
            return menu ? menu.querySelector('[data-bs-toggle=dropdown]').textContent.trim() : '';
        }""",
        label,
    )
    menu = page.locator("[data-testid=main-nav]")
    if group:
        menu.get_by_role("button", name=group, exact=True).click()
    menu.get_by_role("link", name=label, exact=True).click()
