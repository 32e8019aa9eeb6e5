"""Issue #19: a bidirectional SDP's received energy (channel 2) is billed and settled beside the
delivered (O. Reg. 393/07 s. 0.1 "billing quantity data" (b), as amended by O. Reg. 133/23)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from django.urls import reverse

from billing.bills import settlement_hourly
from billing.services import billing_quantity_request
from ldc.services import api_token_create
from meters.models import IntervalDay, ServiceDeliveryPoint
from tests.billing.terms_helpers import change_terms

pytestmark = pytest.mark.django_db
START, END = dt.date(2026, 3, 7), dt.date(2026, 3, 8)


def _received_quarter(ldc: Any, sdp_id: str) -> int:
    """Store channel 2 as a quarter of channel 1 (same flags) for the SDP's meter; total Wh."""
    sdp = ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id=sdp_id)
    sdp.bidirectional = True
    sdp.save(update_fields=["bidirectional"])
    meter = sdp.installs.get().meter_id
    total = 0
    for day in IntervalDay.objects.for_ldc(ldc).filter(meter_id=meter, channel=1):
        wh = np.frombuffer(bytes(day.wh), "<i4") // 4
        total += int(wh.sum())
        IntervalDay.objects.create(
            ldc=ldc,
            meter_id=meter,
            channel=2,
            day=day.day,
            interval_minutes=day.interval_minutes,
            wh=wh.astype("<i4").tobytes(),
            flags=bytes(day.flags),
            raw_wh=wh.astype("<i4").tobytes(),
            raw_quality=bytes(day.raw_quality),
        )
    return total


def test_a_bidirectional_sdps_received_and_net_figures(client: Any, validated: Any) -> None:
    _received_quarter(validated, "SDP-1001")
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1001")
    plain = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1002")
    request = billing_quantity_request(ldc=validated, sdp=sdp, start=START, end=END, actor=None)
    q = request.quantities.get()
    assert q.status == "complete", q.pending_reasons
    assert q.total_kwh > 0 and 0 < q.received_total_kwh < q.total_kwh / 3
    assert q.net_total_kwh == pytest.approx(q.total_kwh - q.received_total_kwh, abs=1e-3)
    assert set(q.received_periods_kwh) == set(q.periods_kwh)
    assert sum(q.received_periods_kwh.values()) == pytest.approx(q.received_total_kwh, abs=1e-3)
    other = billing_quantity_request(ldc=validated, sdp=plain, start=START, end=END, actor=None)
    assert other.quantities.get().received_total_kwh is None  # not bidirectional
    # The API body and the settlement CSV carry both directions.
    _, key = api_token_create(ldc=validated, name="CIS", role="billing_agent", actor=None)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    body = client.get(
        reverse("api:billing-request-detail", args=[request.public_id]), **auth
    ).json()
    assert body["quantities"][0]["received_total_kwh"] == q.received_total_kwh
    assert body["quantities"][0]["net_total_kwh"] == q.net_total_kwh
    lines = (
        client.get(
            reverse("api:billing-settlement"), {"start": str(START), "end": str(END)}, **auth
        )
        .content.decode()
        .splitlines()
    )
    header = lines[0].split(",")
    received = sum(float(line.split(",")[header.index("received_kwh")]) for line in lines[1:])
    assert received == pytest.approx(q.received_total_kwh, abs=0.01)


def test_the_multiplier_scales_the_received_energy_too(validated: Any) -> None:
    stored_wh = _received_quarter(validated, "SDP-1001")
    change_terms(validated, "SDP-1001", dt.date(2026, 3, 1), service_multiplier=40)
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1001")
    q = billing_quantity_request(
        ldc=validated, sdp=sdp, start=START, end=END, actor=None
    ).quantities.get()
    in_period = q.received_total_kwh / 40
    assert 0 < in_period <= stored_wh / 1000
    hourly = settlement_hourly(ldc=validated, start=START, end=END)
    assert hourly["received_kwh"].sum() == pytest.approx(q.received_total_kwh, abs=0.01)
