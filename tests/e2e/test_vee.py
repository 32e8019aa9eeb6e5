"""Back-office staff work the VEE exception queue and edit a day in the browser."""

from __future__ import annotations

from typing import Any

import pytest

from portal.tenancy import Membership
from tests.e2e.conftest import log_in, nav_to, screenshot
from tests.meters.test_vee_service import frozen_day, load, run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_queue_to_day_page_to_edit(page: Any, world: Any, sample_ldc: Any) -> None:
    Membership.objects.filter(ldc=world.north).update(ldc=sample_ldc)
    load(sample_ldc, frozen_day())
    run(sample_ldc)
    log_in(page, world.user("north", "back_office").email, two_factor=True)
    nav_to(page, "VEE exceptions")
    page.wait_for_selector("[data-testid=vee-queue]")
    assert "V08" in page.locator("[data-testid=vee-queue]").inner_text()
    screenshot(page, "vee-queue")
    page.goto("/vee/sdps/SDP-1002/2026-03-07/")
    page.wait_for_selector("[data-figure=vee-day] .main-svg")
    screenshot(page, "vee-day")
    page.fill("input[name=first_hour]", "14")
    page.fill("input[name=last_hour]", "15")
    page.fill("input[name=kwh]", "0.444")
    page.select_option("select[name=reason]", "customer_read")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=1 interval edited.")
    assert "0.444" in page.locator("[data-testid=vee-intervals]").inner_text()
