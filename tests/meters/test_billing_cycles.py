"""Issue #19: an LDC's billing cycles on a page of their own (not only the Django admin), and
the SDP page's history of effective-dated terms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from meters.models import BillingCycle, SdpTerms
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_back_office_adds_and_changes_a_cycle_and_errors_say_why(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "back_office"))
    url = reverse("meters:billing-cycles")
    response = client.post(url, {"code": "C15", "name": "Mid-month", "read_day": 15})
    assert response.status_code == 302
    cycle = BillingCycle.objects.get(ldc=world.north, code="C15")
    assert cycle.read_day == 15
    client.post(url, {"code": "C15", "name": "Mid-month", "read_day": 16})
    cycle.refresh_from_db()
    assert cycle.read_day == 16
    events = AuditEvent.objects.filter(action="billing_cycle.saved")
    assert events.count() == 2 and events.order_by("pk").last().before == {
        "name": "Mid-month",
        "read_day": 15,
    }
    bad = client.post(url, {"code": "C32", "read_day": 32})
    assert bad.status_code == 200
    assert "read_day" in bad.context["form"].errors
    assert not BillingCycle.objects.filter(code="C32").exists()
    page = client.get(url)
    assert b"C15" in page.content and b"Save cycle" in page.content
    # Another LDC sees none of north's cycles.
    client.force_login(world.user("south", "back_office"))
    assert b"C15" not in client.get(url).content


def test_a_role_that_only_views_sees_the_cycles_and_cannot_change_them(
    client: Any, world: Any
) -> None:
    BillingCycle.objects.create(ldc=world.north, code="C01", read_day=1)
    client.force_login(world.user("north", "ami_operator"))
    url = reverse("meters:billing-cycles")
    page = client.get(url)
    assert page.status_code == 200 and b"C01" in page.content
    assert b"Save cycle" not in page.content
    refused = client.post(url, {"code": "C02", "read_day": 2})
    assert refused.status_code == 200
    assert not BillingCycle.objects.filter(code="C02").exists()


def test_the_sdp_page_shows_the_terms_history(client: Any, world: Any) -> None:
    sdp = world.objects["north_sdp"]
    cycle = BillingCycle.objects.create(ldc=world.north, code="C20", read_day=20)
    SdpTerms.objects.create(
        ldc=world.north, sdp=sdp, effective_from=dt.date(2025, 1, 1), commodity_rate_class="tou"
    )
    SdpTerms.objects.create(
        ldc=world.north,
        sdp=sdp,
        effective_from=dt.date(2099, 1, 21),
        commodity_rate_class="ulo",
        service_multiplier=40,
        billing_cycle=cycle,
        source="plan choice",
    )
    client.force_login(world.user("north", "billing_agent"))
    page = client.get(reverse("meters:sdp-detail", args=[sdp.sdp_id])).content.decode()
    assert "Billing terms over time" in page
    assert page.index("2099-01-21") < page.index("2025-01-01")  # newest first
    assert "upcoming" in page and "Ultra-low overnight" in page and "C20" in page
