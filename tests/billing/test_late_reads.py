"""A late actual that changes a released quantity: ingestion -> VEE -> billing, on its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from billing.models import BillingQuantity, ReplacementNotice
from billing.services import billing_quantity_release, billing_quantity_request
from meters.models import ServiceDeliveryPoint
from tests.billing.conftest import load

pytestmark = pytest.mark.django_db


def test_a_late_actual_replaces_a_released_quantity_with_a_notice(
    validated: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1002")
    request = billing_quantity_request(
        ldc=validated, sdp=sdp, start=dt.date(2026, 3, 7), end=dt.date(2026, 3, 8), actor=None
    )
    first = BillingQuantity.objects.get(request=request, version=1)
    billing_quantity_release(quantity=first, actor=None)
    first.refresh_from_db()
    released_total = first.total_kwh
    late = b"meter_id,timestamp,kwh,quality_flag\nMTR-1002,2026-03-07T15:00:00-05:00,3.000,A\n"
    with django_capture_on_commit_callbacks(execute=True):  # VEE, then billing, as on workers
        load(validated, late, "late.csv")
    second = BillingQuantity.objects.get(request=request, version=2)
    assert second.total_kwh != released_total
    notice = ReplacementNotice.objects.get(request=request)
    assert notice.replaces == first and notice.quantity == second
    first.refresh_from_db()
    assert first.status == "released" and first.total_kwh == released_total  # never changed
