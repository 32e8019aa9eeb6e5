"""An AMI operator sends a read file in the browser and sees its report; a bad file's fault."""

from __future__ import annotations

from typing import Any

import pytest

from portal.tenancy import Membership
from tests.e2e.conftest import log_in, nav_to, screenshot
from tests.meters.conftest import sample_file
from tests.meters.samples import SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_operator_sends_a_file_and_reads_its_report(page: Any, world: Any, sample_ldc: Any) -> None:
    operator = world.user("north", "ami_operator")
    Membership.objects.filter(user=operator).update(ldc=sample_ldc)
    log_in(page, operator.email, two_factor=True)
    nav_to(page, "Read files")
    page.click("text=Send read files")
    page.select_option("select[name=interface]", "cmep")
    page.set_input_files("input[name=files]", str(sample_file("cmep")))
    screenshot(page, "readfile-upload")
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=readfile-status][data-status=loaded]")
    assert page.locator("[data-testid=accepted]").inner_text() == "141"
    assert "98.58" in page.content()
    screenshot(page, "readfile-report")
    page.goto("/registry/meters/MTR-1002/")
    page.wait_for_selector("[data-figure=meter-reads] .main-svg")  # plotly drew the chart
    assert "1 reported missing" in page.content()
    screenshot(page, "meter-detail")


def test_a_malformed_file_is_shown_rejected_with_its_line(page: Any, world: Any) -> None:
    log_in(page, world.user("north", "back_office").email, two_factor=True)
    page.goto("/registry/read-files/upload/")
    page.select_option("select[name=interface]", "cmep")
    page.set_input_files("input[name=files]", str(SAMPLES / "bad" / "cmep" / "truncated.txt"))
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=readfile-status][data-status=rejected]")
    assert "line 3" in page.locator("[data-testid=readfile-status]").inner_text()
    screenshot(page, "readfile-rejected")


def test_registry_sync_and_data_quality_pages(page: Any, world: Any) -> None:
    log_in(page, world.user("north", "ldc_admin").email, two_factor=True)
    page.goto("/registry/sync/")
    page.set_input_files("input[name=file]", str(SAMPLES / "registry.csv"))
    page.click("main button[type=submit]")
    assert "3 loaded" in page.locator("[data-testid=registry-result]").inner_text()
    screenshot(page, "registry-sync")
    page.goto("/registry/sdps/")
    assert "SDP-1001" in page.content()
    page.click("main >> text=Data quality")
    page.wait_for_url("**/registry/data-quality/")  # content() while navigating reads ''
    assert "Registry data quality" in page.content()
    screenshot(page, "data-quality")
