"""A customer signs in, reads their day by TOU period, month and year, compares plans and
downloads their data (Green Button), on a desktop and on a phone."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone

from meters.reads.interfaces import green_button
from portal.calendar.holidays import tou_holidays
from tests.customers.conftest import store_hourly
from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reads(world: Any) -> None:
    """NORTH-MTR-1 from 400 days ago to yesterday (UTC days)."""
    first = timezone.now().date() - dt.timedelta(days=400)
    store_hourly(world.objects["north_meter"], first, 400, estimated_hours=2)


def _last_working_day(before: dt.date) -> dt.date:
    """The last weekday before `before` that is not an Ontario holiday (it has on-peak hours)."""
    day = before - dt.timedelta(days=1)
    while day.weekday() >= 5 or day in tou_holidays(day.year):
        day -= dt.timedelta(days=1)
    return day


def _charted(page: Any, figure: str) -> None:
    page.wait_for_selector(f"[data-figure={figure}] .main-svg")


def test_customer_day_month_year_plans_and_green_button(
    page: Any, world: Any, reads: None, tmp_path: Any
) -> None:
    log_in(page, world.customer.email, two_factor=False)
    page.click("[data-testid=my-sdps] a:has-text('Usage')")
    _charted(page, "usage-day")  # yesterday, which may be a weekend or holiday (all off-peak)
    assert "Off-peak" in page.locator("[data-figure=usage-day]").inner_text()
    assert "It is" in page.locator("[data-testid=now-banner]").inner_text()
    page.goto(f"{page.url.split('?')[0]}?date={_last_working_day(timezone.localdate())}")
    _charted(page, "usage-day")
    legend = page.locator("[data-figure=usage-day]").inner_text()
    assert "On-peak" in legend and "Off-peak" in legend and "(estimated)" in legend
    screenshot(page, "customer-day")
    page.click("[data-testid=prev]")
    _charted(page, "usage-day")

    page.click("[data-testid=usage-tabs] >> text=Month")
    _charted(page, "usage-range")
    _charted(page, "usage-heatmap")
    screenshot(page, "customer-month")
    page.click("[data-testid=usage-tabs] >> text=Year")
    _charted(page, "usage-range")
    assert "Cost ($)" in page.locator("[data-figure=usage-range]").inner_text()
    screenshot(page, "customer-year")

    page.click("[data-testid=usage-tabs] >> text=Plans")
    page.wait_for_selector("[data-testid=cheapest]")
    page.fill("input[name=share]", "40")
    page.click("[data-testid=what-if-form] button[type=submit]")
    page.wait_for_selector("text=moving 40 %")
    assert "would save" in page.locator("[data-testid=what-if]").inner_text()
    screenshot(page, "customer-plans")

    page.click("[data-testid=usage-tabs] >> text=Insights")
    page.wait_for_selector("[data-testid=tip]")
    screenshot(page, "customer-insights")

    page.click("[data-testid=usage-tabs] >> text=Download")
    with page.expect_download() as download:
        page.click("[data-testid=download-form] button[type=submit]")
    target = tmp_path / "greenbutton.xml"
    download.value.save_as(target)
    batches = green_button.parse(io.BytesIO(target.read_bytes()), filename="gb", tz=None)  # type: ignore[arg-type]
    assert sum(len(b.intervals) for b in batches) > 300 * 23

    page.goto("/me/learn/")
    page.wait_for_selector("[data-testid=now-periods]")
    screenshot(page, "customer-learn")


def test_customer_pages_on_a_phone(browser: Any, live_server: Any, world: Any, reads: None) -> None:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    try:
        log_in(phone, world.customer.email, two_factor=False)  # its check needs the wide nav
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto("/me/usage/north/NORTH-SDP-1/day/")
        _charted(phone, "usage-day")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"the day page scrolls sideways on a phone ({width}px)"
        screenshot(phone, "customer-day-phone")
        phone.goto("/me/usage/north/NORTH-SDP-1/year/")
        _charted(phone, "usage-range")
        screenshot(phone, "customer-year-phone")
        phone.goto("/me/usage/north/NORTH-SDP-1/plans/")
        phone.wait_for_selector("[data-testid=cheapest]")
        screenshot(phone, "customer-plans-phone")
    finally:
        context.close()
