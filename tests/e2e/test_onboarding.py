"""An LDC administrator works a stage's checklist and submits it; the SME coordinator signs it
off; the LDC's dashboard then shows the next stage. Then a look at the other onboarding pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ldc.models import Evidence, LdcStage
from tests import factories
from tests.e2e.conftest import log_in, nav_to, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_submits_coordinator_signs_off_dashboard_moves_on(
    page: Any, browser: Any, live_server: Any, world: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    evidence = tmp_path / "registration-application.pdf"
    evidence.write_bytes(b"%PDF-1.4 registration application of Northwind Test Hydro")

    factories.onboarding_records(world.north)  # application and contacts (/ldc/records/)
    log_in(page, world.user("north", "ldc_admin").email, two_factor=True)
    page.wait_for_selector("[data-testid=dash-stage]")
    assert "Preparation" in page.locator("[data-testid=dash-stage]").inner_text()
    nav_to(page, "Stages")
    page.wait_for_selector("[data-figure=stage-gantt] .main-svg")
    screenshot(page, "onboarding-stages")
    page.click("[data-testid=stage-timeline] >> text=Preparation")
    page.wait_for_selector("[data-testid=checklist]")

    rows = page.locator("[data-testid=checklist] details")
    for i in range(rows.count()):
        details = page.locator("[data-testid=checklist] details").nth(i)
        details.locator("summary").click()
        if i == 0:
            details.locator("input[type=file]").set_input_files(str(evidence))
            details.locator("button:has-text('Upload')").click()
            page.wait_for_selector("text=is kept as evidence")
            details = page.locator("[data-testid=checklist] details").nth(i)
            details.locator("summary").click()
        details.locator("select[name=status]").select_option("done")
        details.locator("select[name=owner]").select_option(
            label=world.user("north", "back_office").email
        )
        details.locator("button:has-text('Save')").click()
        page.wait_for_selector("text=is saved.")
    assert Evidence.objects.for_ldc(world.north).count() == 1
    assert "registration-application.pdf" in page.locator("[data-testid=checklist]").inner_text()
    screenshot(page, "onboarding-stage-detail")
    page.click("[data-testid=submit-stage]")
    page.wait_for_selector("text=is submitted to the SME")
    assert page.locator("[data-testid=stage-status]").inner_text() == "Submitted for sign-off"

    sme = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    coordinator = sme.new_page()
    coordinator.set_default_timeout(15_000)
    log_in(coordinator, world.coordinator.email, two_factor=True)
    coordinator.goto("/sme/onboarding/")
    coordinator.click("[data-testid=onboarding-list] >> text=Northwind Test Hydro")
    coordinator.wait_for_selector("[data-testid=stage-timeline]")
    screenshot(coordinator, "onboarding-sme-stages")
    coordinator.click("[data-testid=stage-timeline] button:has-text('Sign off')")
    coordinator.wait_for_selector("text=is signed off")
    sme.close()
    assert LdcStage.objects.for_ldc(world.north).get(stage="preparation").status == "signed_off"

    page.goto("/")
    page.wait_for_selector("[data-figure=dash-stages] .main-svg")
    text = page.locator("[data-testid=dash-stage]").inner_text()
    assert "System and business-process development" in text
    screenshot(page, "onboarding-dashboard")


def test_production_ldc_groups_and_training_pages(page: Any, world: Any) -> None:
    factories.production_ldc(world.north)
    admin = world.user("north", "ldc_admin")
    factories.complete_required_course(admin, world.north)
    factories.training_session(course_code="introduction", place="Online", online=True)
    log_in(page, admin.email, two_factor=True)
    nav_to(page, "Enrollment groups")
    page.click("text=New customer group")
    page.click("button:has-text('Create from filter')")
    page.wait_for_selector("text=Customer group 1 is created.")
    page.select_option("select[name=step]", "registered")
    page.click("main button:has-text('Record')")
    page.wait_for_selector("text=SDPs registered: recorded.")
    screenshot(page, "onboarding-group-detail")
    nav_to(page, "Training")
    page.wait_for_selector("[data-testid=sessions]")
    page.click("[data-testid=sessions] button:has-text('Register')")
    page.wait_for_selector("text=You have a seat")
    assert "missing" in page.locator("main").inner_text()
    screenshot(page, "onboarding-training")
