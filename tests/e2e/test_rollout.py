"""A coordinator watches the rollout in the browser: table, CSV, targets, waves; staff see DQ."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from ldc.sme.rollout import CSV_COLUMNS, rollout_snapshot_take
from portal.models import RolloutTarget
from portal.tenancy import LDC
from tests.e2e.conftest import log_in, nav_to, screenshot
from tests.portal.test_rollout import build_rollout_world, north_rate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rollout_world(world: Any) -> Any:
    return build_rollout_world(world)


def test_coordinator_watches_the_rollout(page: Any, rollout_world: Any) -> None:
    rollout_snapshot_take()
    log_in(page, rollout_world.coordinator.email, two_factor=True)
    page.wait_for_selector("[data-testid=province-figures]")
    page.wait_for_selector("[data-figure=stage-funnel] .main-svg")
    page.wait_for_selector("[data-figure=trend-meters_installed] .main-svg")
    assert page.locator("[data-testid=fig-tou_billed]").inner_text() == "1"
    screenshot(page, "rollout-home")

    nav_to(page, "LDC table")
    page.wait_for_selector("[data-testid=rollout-table]")
    page.click("a[data-sort=customers]")  # numbers: largest first
    page.wait_for_selector("th[aria-sort=descending] a[data-sort=customers]")
    assert _ldcs(page) == ["south", "north"]
    page.click("a[data-sort=customers]")
    page.wait_for_selector("th[aria-sort=ascending] a[data-sort=customers]")
    assert _ldcs(page) == ["north", "south"]
    page.select_option("#f-stage", "sit")
    page.click("[data-testid=ldc-filters] button[type=submit]")
    page.wait_for_url("**stage=sit**")
    assert _ldcs(page) == ["north"]
    screenshot(page, "rollout-table-filtered")

    with page.expect_download() as download:
        page.click("[data-testid=csv-export]")
    text = Path(download.value.path()).read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS and [r[0] for r in rows[1:]] == ["north"]

    page.click("a.btn:has-text('Clear')")
    page.fill("#wave-south", "3")
    page.click("tr[data-ldc=south] button[data-action=wave]")
    page.wait_for_selector("text=Southshore Test Power: wave 3.")
    assert page.locator("tr[data-ldc=south] [data-testid=wave]").inner_text() == "3"
    assert LDC.objects.get(slug="south").enrollment_wave == 3
    screenshot(page, "rollout-table-wave")

    nav_to(page, "Targets")
    page.select_option("select[name=metric]", "tou_billed")
    page.fill("input[name=value]", "3600000")
    page.fill("input[name=due_date]", "2027-05-01")
    page.fill("input[name=note]", "Provincial TOU target")
    page.click("[data-testid=target-form] button[type=submit]")
    page.wait_for_selector("text=Target set")
    # Grouped as the browser's locale says (3,600,000 or 3 600 000).
    assert "3600000" in _digits(page.locator("[data-testid=current-targets]").inner_text())
    assert RolloutTarget.objects.get().value == 3_600_000
    screenshot(page, "rollout-targets")

    nav_to(page, "Data quality")
    page.click("[data-testid=quality-index] >> text=Northwind Test Hydro")
    page.wait_for_selector("[data-figure=daily-read-success] .main-svg")
    assert page.locator("[data-testid=week-success]").inner_text() == f"{north_rate()} %"
    screenshot(page, "rollout-quality-coordinator")

    page.goto("/sme/ldcs/north/")
    page.wait_for_selector("[data-testid=stage-timeline]")
    screenshot(page, "rollout-ldc-detail")


def _digits(text: str) -> str:
    """The text without digit-group separators."""
    return text.replace(",", "").replace("\xa0", "").replace("\u202f", "")


def _ldcs(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=rollout-table] tbody tr[data-ldc]", "rows => rows.map(r => r.dataset.ldc)"
    )


def test_ldc_staff_see_their_weekly_data_quality(page: Any, rollout_world: Any) -> None:
    log_in(page, rollout_world.user("north", "ami_operator").email, two_factor=True)
    nav_to(page, "Weekly data quality")
    page.wait_for_selector("[data-figure=daily-read-success] .main-svg")
    assert "Northwind Test Hydro" in page.locator("h1").inner_text()
    assert "V01" in page.locator("[data-testid=rule-table]").inner_text()
    screenshot(page, "rollout-quality-staff")
