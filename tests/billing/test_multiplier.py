"""Issue #19: a billing quantity is metered kWh x the SDP's service multiplier."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from billing.models import BillingQuantity
from billing.services import billing_quantity_request
from meters.models import ServiceDeliveryPoint
from tests.billing.terms_helpers import change_terms

pytestmark = pytest.mark.django_db


def _quantity(ldc: Any, sdp: ServiceDeliveryPoint, end: dt.date) -> BillingQuantity:
    request = billing_quantity_request(
        ldc=ldc, sdp=sdp, start=dt.date(2026, 3, 7), end=end, actor=None
    )
    return BillingQuantity.objects.filter(request=request).order_by("-version").first()


def test_multiplier_40_gives_40_times(validated: Any) -> None:
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1002")
    assert sdp.service_multiplier == 1
    plain = _quantity(validated, sdp, dt.date(2026, 3, 8))
    assert plain.total_kwh > 0
    change_terms(validated, "SDP-1002", dt.date(2026, 3, 1), service_multiplier=40)
    scaled = _quantity(validated, sdp, dt.date(2026, 3, 9))  # a new request: computed afresh
    one_day = _quantity(validated, sdp, dt.date(2026, 3, 8))  # same span, recomputed on request
    for q in (scaled, one_day):
        assert q is not None
    assert one_day.total_kwh == pytest.approx(40 * plain.total_kwh, abs=1e-3)
    for name, kwh in plain.periods_kwh.items():
        assert one_day.periods_kwh[name] == pytest.approx(40 * kwh, abs=1e-3)


def test_settlement_and_plan_comparison_use_the_multiplier(validated: Any) -> None:
    from billing.bills import sdp_intervals, settlement_hourly

    start, end = dt.date(2026, 3, 7), dt.date(2026, 3, 8)
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1002")
    before = settlement_hourly(ldc=validated, start=start, end=end)["kwh"].sum()
    plain = float(sdp_intervals(ldc=validated, sdp=sdp, start=start, end=end)[0].wh.sum())
    assert plain > 0
    change_terms(validated, "SDP-1002", dt.date(2026, 3, 1), service_multiplier=40)
    sdp.refresh_from_db()
    scaled = float(sdp_intervals(ldc=validated, sdp=sdp, start=start, end=end)[0].wh.sum())
    assert scaled == pytest.approx(40 * plain)
    after = settlement_hourly(ldc=validated, start=start, end=end)["kwh"].sum()
    # Only SDP-1002 changed: the settlement total grows by 39x its energy.
    assert after == pytest.approx(before + 39 * plain / 1000, abs=0.01)
