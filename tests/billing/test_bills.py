"""Energy charges under each plan (priced piecewise across price changes), pages, prices."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.urls import reverse

from billing.bills import energy_charge
from billing.models import OebPriceSet
from billing.quantities import Flat
from billing.selectors import price_table
from ldc.services import api_token_create
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("America/Toronto")


def hours(first: dt.datetime, count: int, kwh: float = 1.0) -> Flat:
    start = int(first.timestamp()) + 3600 * np.arange(count, dtype=np.int64)
    n = start.size
    return Flat(
        np.zeros(n, np.int64),
        start,
        np.full(n, int(kwh * 1000), np.int64),
        np.full(n, 32, np.uint8),
        np.full(n, 60, np.int64),
    )


def test_a_period_across_a_price_change_is_priced_piecewise() -> None:
    # Oct 31 2025 (Friday) at the May 2025 prices, Nov 1 (Saturday) at the Nov 2025 ones.
    # Half a kWh an hour stays below the prorated tier-1 thresholds (600/31 and 1,000/30 kWh).
    flat = hours(dt.datetime(2025, 10, 31, tzinfo=TZ), 48, kwh=0.5)
    table = price_table()
    tiered = energy_charge(flat, "tiered", TZ, table, "residential")
    assert tiered["charge"] == pytest.approx(12 * 0.093 + 12 * 0.120, abs=0.01)
    assert tiered["price_sets"] == ["2025-05-01", "2025-11-01"]
    tou = energy_charge(flat, "tou", TZ, table, "residential")
    # Friday summer hours: 12 off-peak, 6 on-peak (11-17), 6 mid-peak; Saturday off-peak.
    expected = 12 * 0.076 + 6 * 0.158 + 6 * 0.122 + 24 * 0.098
    assert tou["charge"] == pytest.approx(expected / 2, abs=0.01)
    assert tou["periods_kwh"] == {"on_peak": 3.0, "mid_peak": 3.0, "off_peak": 18.0}


def test_plan_comparison_of_an_sdp_through_the_api(client: Any, validated: Any) -> None:
    _, key = api_token_create(ldc=validated, name="CIS", role="billing_agent", actor=None)
    response = client.get(
        reverse("api:billing-compare"),
        {"sdp_id": "SDP-1001", "start": "2026-03-07", "end": "2026-03-08"},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    plans = {p["plan"]: p for p in body["plans"]}
    total = plans["tou"]["total_kwh"]
    assert total > 0 and body["coverage"] == 1.0
    # A weekend in winter: TOU is all off-peak (9.8 ¢), tiered below the threshold (12.0 ¢).
    assert plans["tou"]["charge"] == pytest.approx(total * 0.098, abs=0.01)
    assert plans["tiered"]["charge"] == pytest.approx(total * 0.12, abs=0.01)
    ulo = plans["ulo"]["periods_kwh"]
    expected = ulo["ultra_low_overnight"] * 0.039 + ulo["weekend_off_peak"] * 0.098
    assert plans["ulo"]["charge"] == pytest.approx(expected, abs=0.01)
    assert body["cheapest"] == min(plans.values(), key=lambda p: p["charge"])["plan"]


def test_settlement_csv_has_hourly_totals_by_rate_class(client: Any, validated: Any) -> None:
    _, key = api_token_create(ldc=validated, name="CIS", role="billing_agent", actor=None)
    response = client.get(
        reverse("api:billing-settlement"),
        {"start": "2026-03-07", "end": "2026-03-08"},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "hour_start_utc,hour_start_local,rate_class,kwh,estimated_kwh,meters,received_kwh"
    )
    rows = [line.split(",") for line in lines[1:]]
    assert {r[2] for r in rows} == {"residential", "gs_lt_50"}
    assert len(rows) == 47 * 2, "23 + 24 local hours, two rate classes"
    assert {r[5] for r in rows if r[2] == "residential"} == {"2"}


def test_coordinators_edit_prices_and_the_change_is_audited(client: Any, world: Any) -> None:
    client.force_login(world.coordinator)
    assert client.get(reverse("billing:prices")).status_code == 200
    form = {"effective": "2026-05-01", "source": "OEB news release 2026-04 (test)"}
    form |= {f"tou__{n}": v for n, v in (("off_peak", 9), ("mid_peak", 15), ("on_peak", 20))}
    form |= {
        "ulo__ultra_low_overnight": 4,
        "ulo__weekend_off_peak": 9,
        "ulo__mid_peak": 15,
        "ulo__on_peak": 39,
        "tiered__tier1": 12,
        "tiered__tier2": 14,
    }
    response = client.post(reverse("billing:price-new"), form)
    assert response.status_code == 302
    row = OebPriceSet.objects.get(effective=dt.date(2026, 5, 1))
    assert row.cents_per_kwh["ulo"]["on_peak"] == 39
    assert AuditEvent.objects.filter(action="oeb_prices.saved").count() == 1
    assert price_table()[-1].effective == dt.date(2026, 5, 1)
    client.force_login(world.user("north", "ldc_admin"))
    assert client.post(reverse("billing:price-new"), form).status_code == 403


def test_the_pages_request_show_and_release(client: Any, validated: Any, world: Any) -> None:
    from portal.tenancy import Membership

    user = world.user("north", "back_office")
    Membership.objects.filter(user=user).update(ldc=validated)
    user._openmdmr_membership = None
    client.force_login(user)
    response = client.post(
        reverse("billing:request"),
        {"sdp_id": "SDP-1003", "start": "2026-03-07", "end": "2026-03-08", "plan": ""},
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "MTR-1003" in text and "Release to billing" in text and "Plan comparison" in text
    public_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    client.post(reverse("billing:release", args=[public_id]))
    assert "Released" in client.get(reverse("billing:list")).content.decode()
