"""A billing agent requests quantities in the browser and reads them; a coordinator sees prices."""

from __future__ import annotations

from typing import Any

import pytest

from portal.tenancy import Membership
from tests.billing.conftest import run_vee
from tests.e2e.conftest import log_in, nav_to, screenshot
from tests.meters.conftest import sample_file
from tests.meters.samples import GENERATED
from tests.meters.test_vee_service import load

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_billing_agent_requests_quantities(page: Any, world: Any, sample_ldc: Any) -> None:
    Membership.objects.filter(ldc=world.north).update(ldc=sample_ldc)
    load(sample_ldc, sample_file("csv").read_bytes())
    run_vee(sample_ldc)
    log_in(page, world.user("north", "billing_agent").email, two_factor=True)
    nav_to(page, "Billing quantities")
    page.goto("/billing/request/")
    page.fill("input[name=sdp_id]", "SDP-1001")
    page.fill("input[name=start]", "2026-03-07")
    page.fill("input[name=end]", "2026-03-08")
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-figure=bq-figure] .main-svg")  # the chart is drawn
    screenshot(page, "billing-detail")
    body = page.locator("main").inner_text()
    total_wh = sum(
        int(r[3].replace(".", "")) for r in GENERATED.expected_intervals() if r[0] == "MTR-1001"
    )
    assert "complete" in body and f"{total_wh // 1000}.{total_wh % 1000:03d}" in body


def test_coordinator_reads_the_oeb_prices(page: Any, world: Any) -> None:
    from billing.services import price_sets_sync

    price_sets_sync()  # transactional tests empty the tables the data migration seeded
    log_in(page, world.coordinator.email, two_factor=True)
    nav_to(page, "OEB prices")
    screenshot(page, "oeb-prices")
    assert "2025-11-01" in page.locator("main").inner_text()  # one date style
