from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from customers.models import AccountLink

pytestmark = pytest.mark.django_db

PAGES = ["day", "week", "month", "year", "plans", "insights", "download"]


def _url(page: str, slug: str = "north", sdp_id: str = "NORTH-SDP-1") -> str:
    return reverse(f"customers:usage-{page}", args=[slug, sdp_id])


@pytest.mark.parametrize("page", PAGES)
def test_customer_sees_own_sdp_pages(client: Any, world: Any, north_reads: Any, page: str) -> None:
    client.force_login(world.customer)
    response = client.get(_url(page), {"date": "2026-03-10"})
    assert response.status_code == 200
    assert "NORTH-SDP-1" in response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_another_customers_sdp_is_not_found(client: Any, world: Any, page: str) -> None:
    client.force_login(world.customer_south)
    assert client.get(_url(page)).status_code == 404
    assert client.get(_url(page, "south", "NORTH-SDP-1")).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_staff_and_coordinators_cannot_see_customer_pages(
    client: Any, world: Any, page: str
) -> None:
    for person in (world.user("north", "ldc_admin"), world.coordinator):
        client.force_login(person)
        assert client.get(_url(page)).status_code == 403


def test_unlinked_sdp_is_not_found(client: Any, world: Any) -> None:
    AccountLink.objects.filter(user=world.customer).delete()
    client.force_login(world.customer)
    assert client.get(_url("day")).status_code == 404


def test_day_page_shows_periods_costs_estimates_and_now(
    client: Any, world: Any, north_reads: Any
) -> None:
    client.force_login(world.customer)
    response = client.get(_url("day"), {"date": "2026-03-10"})
    body = response.content.decode()
    assert "On-peak" in body and "Off-peak" in body and "Mid-peak" in body
    assert "estimated" in body
    assert "It is <strong>" in body and "until" in body
    assert "Latest reading: Tue 2026-03-31" in body
    figure = response.context["figure"]
    assert any("(estimated)" in trace["name"] for trace in figure["data"])
    assert response.context["hours_total"] == 24
    assert response.context["total_cost"] > 0
    assert response["Cache-Control"].startswith("private")


def test_year_page_compares_with_last_year(client: Any, world: Any, north_reads: Any) -> None:
    client.force_login(world.customer)
    response = client.get(_url("year"), {"date": "2026-02-01"})
    context = response.context
    assert context["start"].isoformat() == "2026-01-01"
    assert context["last_year_kwh"] > 0
    assert context["base_kw"] is not None and context["base_kw"] > 0.2
    names = [t["name"] for t in context["figure"]["data"]]
    assert "Same period last year (kWh)" in names and "Cost ($)" in names


def test_today_explains_reads_arrive_next_day(client: Any, world: Any) -> None:
    client.force_login(world.customer)
    body = client.get(_url("day"), {"date": "2099-01-01"}).content.decode()
    assert "No reads for this day yet" in body


def test_plans_marks_cheapest_and_what_if_saves(client: Any, world: Any, north_reads: Any) -> None:
    client.force_login(world.customer)
    response = client.get(_url("plans"), {"share": "50", "target": "ultra_low_overnight"})
    assert response.status_code == 200
    compared = response.context["compared"]
    assert compared["cheapest"] in {"tou", "ulo", "tiered"}
    assert sum(p["cheapest"] for p in compared["plans"]) == 1
    assert response.context["what_if"]["saving"] > 0
    assert 'data-testid="cheapest"' in response.content.decode()


def test_usage_page_reads_in_few_queries(
    client: Any, world: Any, north_reads: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.customer)
    client.get(_url("year"))  # warm the price cache
    with django_assert_max_num_queries(9):
        assert client.get(_url("year"), {"date": "2026-02-01"}).status_code == 200


def test_learn_page_names_the_period_now(client: Any, world: Any) -> None:
    client.force_login(world.customer)
    body = client.get(reverse("customers:learn")).content.decode()
    assert "Time-of-use" in body and "until" in body and "¢/kWh" in body


def test_home_links_to_usage(client: Any, world: Any) -> None:
    client.force_login(world.customer)
    body = client.get(reverse("home")).content.decode()
    assert _url("day") in body
