"""Pages and their plotly charts render under the Content Security Policy with no violation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from customers.models import AccountLink
from meters.models import ServiceDeliveryPoint
from portal.tenancy import Membership
from tests.billing.conftest import run_vee
from tests.e2e.conftest import log_in, screenshot
from tests.factories import AccountFactory
from tests.meters.conftest import sample_file
from tests.meters.test_vee_service import load

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every violation the page reports (blocked inline script or style, eval, foreign origin).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`);
});
"""


class Tab:
    """A browser tab of its own that records CSP violations and console errors about them."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.context = browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 900}
        )
        self.context.add_init_script(WATCH_VIOLATIONS)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.console: list[str] = []
        self.page.on("console", self._console)
        self.seen: list[str] = []

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.console.append(f"{self.page.url}: {text}")

    def visit(self, url: str, wait_for: str = "main") -> None:
        self.page.goto(url)
        self.page.wait_for_selector(wait_for)
        self.page.wait_for_timeout(300)  # charts draw after DOMContentLoaded
        found = self.page.evaluate("window.__cspViolations")
        self.seen.extend(f"{url}: {v}" for v in found)

    def assert_clean(self) -> None:
        assert self.seen == [] and self.console == []


@pytest.fixture
def tabs(browser: Any, live_server: Any) -> Iterator[Any]:
    opened: list[Tab] = []

    def new_tab() -> Tab:
        opened.append(Tab(browser, live_server.url))
        return opened[-1]

    yield new_tab
    for tab in opened:
        tab.context.close()


@pytest.fixture
def sample_world(world: Any, sample_ldc: Any) -> Any:
    """North's staff work for the sample LDC, which has the sample reads after VEE; the
    customer has linked an account holding its SDP-1001."""
    Membership.objects.filter(ldc=world.north).update(ldc=sample_ldc)
    load(sample_ldc, sample_file("csv").read_bytes())
    run_vee(sample_ldc)
    account = AccountFactory(ldc=sample_ldc, account_number="SAMPLE-ACCT-1")
    account.sdps.add(
        ServiceDeliveryPoint.objects.for_ldc(sample_ldc).get(sdp_id="SDP-1001"),
        through_defaults={"move_in": dt.date(2020, 1, 1)},  # before the sample's reads
    )
    AccountLink.objects.create(user=world.customer, account=account)
    return world


def test_staff_chart_pages_have_no_csp_violation(tabs: Any, sample_world: Any) -> None:
    tab = tabs()
    log_in(tab.page, sample_world.user("north", "ldc_admin").email, two_factor=True)
    tab.visit("/", "[data-testid=whoami]")
    tab.visit("/registry/meters/MTR-1001/", "[data-figure] .main-svg")
    screenshot(tab.page, "csp-meter-detail")
    tab.visit("/vee/sdps/SDP-1001/2026-03-07/", "[data-figure] .main-svg")
    tab.visit("/ldc/stages/", "[data-figure] .main-svg")
    tab.visit("/api/v1/docs/", "#swagger-ui .info")
    screenshot(tab.page, "csp-api-docs")
    tab.assert_clean()


def test_customer_chart_pages_have_no_csp_violation(tabs: Any, sample_world: Any) -> None:
    tab = tabs()
    log_in(tab.page, sample_world.customer.email, two_factor=False)
    base = "/me/usage/sample/SDP-1001"
    tab.visit(f"{base}/day/?date=2026-03-07", "[data-figure] .main-svg")
    screenshot(tab.page, "csp-usage-day")
    tab.visit(f"{base}/month/?date=2026-03-07", "[data-figure] .main-svg")
    tab.visit(f"{base}/insights/")
    tab.visit(f"{base}/plans/")
    tab.visit("/me/learn/")
    tab.assert_clean()


def test_an_injected_inline_script_is_blocked(tabs: Any, sample_world: Any) -> None:
    # The policy works: a script without this response's nonce does not run.
    tab = tabs()
    tab.visit("/accounts/login/", "input[name=login]")
    ran = tab.page.evaluate(
        """() => {
          window.__ran = false;
          const s = document.createElement("script");
          s.textContent = "window.__ran = true";
          document.body.appendChild(s);
          return window.__ran;
        }"""
    )
    assert ran is False
    assert any("script-src" in v for v in tab.page.evaluate("window.__cspViolations"))


def test_coordinator_pages_have_no_csp_violation(tabs: Any, sample_world: Any) -> None:
    tab = tabs()
    log_in(tab.page, sample_world.coordinator.email, two_factor=True)
    tab.visit("/", "[data-testid=whoami]")
    screenshot(tab.page, "csp-coordinator-home")
    for url in ("/rollout/", "/rollout/targets/"):
        tab.visit(url)
    tab.assert_clean()
