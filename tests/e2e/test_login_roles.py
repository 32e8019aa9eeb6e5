"""Each role signs in through the real pages (TOTP for staff) and lands on its own home."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import charts_drawn, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STAFF_HOMES = [
    ("ldc_admin", ["Members", "API tokens", "Audit trail"]),
    ("back_office", ["Service points", "Read files"]),
    ("billing_agent", ["Service points"]),
    ("ami_operator", ["Read files"]),
]


@pytest.mark.parametrize(("role", "nav"), STAFF_HOMES)
def test_ldc_staff_sign_in_with_two_factor_and_see_their_ldc(
    page: Any, world: Any, role: str, nav: list[str]
) -> None:
    log_in(page, world.user("north", role).email, two_factor=True)
    assert page.locator("h1").inner_text() == "Northwind Test Hydro"
    # Entries sit in menus grouped by task (text_content: the closed menus' entries too).
    menu = page.locator("nav[aria-label=Main]").text_content()
    for label in nav:
        assert label in menu
    if role != "ldc_admin":
        assert "Members" not in menu
    assert "Southshore" not in page.content()
    # The grouped menu fits on one row of a laptop screen (17 flat links wrapped to three).
    page.set_viewport_size({"width": 1366, "height": 900})
    assert page.locator("[data-testid=main-nav]").bounding_box()["height"] < 60
    if "Read files" in nav:
        page.get_by_role("button", name="Reads").click()
        page.get_by_role("link", name="Read files").click()
        page.wait_for_url("**/registry/read-files/")
    screenshot(page, f"home-{role}")


def test_coordinator_signs_in_and_sees_every_ldc(page: Any, world: Any) -> None:
    log_in(page, world.coordinator.email, two_factor=True)
    assert page.locator("h1").inner_text() == "Province rollout"
    screenshot(page, "home-coordinator")
    charts_drawn(page)  # the funnel, size classes and top-12 share are charts
    page.goto("/rollout/ldcs/")
    table = page.locator("[data-testid=rollout-table]").inner_text()
    assert "Northwind Test Hydro" in table and "Southshore Test Power" in table


def test_customer_signs_in_without_two_factor_and_sees_their_account(page: Any, world: Any) -> None:
    log_in(page, world.customer.email, two_factor=False)
    assert page.locator("h1").inner_text() == "My accounts"
    body = page.content()
    assert "NORTH-ACCT-1" in body and "SOUTH-ACCT-1" not in body
    screenshot(page, "home-customer")


def test_staff_without_two_factor_must_enrol_first(page: Any, world: Any) -> None:
    from allauth.mfa.models import Authenticator

    user = world.user("north", "back_office")
    Authenticator.objects.filter(user=user).delete()
    page.goto("/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    assert "Authenticator" in page.content()
    page.goto("/registry/sdps/")
    assert "/accounts/2fa/totp/activate/" in page.url
    screenshot(page, "enrol-totp")
