"""Issue #19: a registry change that reaches back into a released quantity's period makes the
new version and its notice at once; a quantity that no longer applies gets a `cancel` notice."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.urls import reverse

from billing.models import BillingQuantity, ReplacementNotice
from billing.services import billing_quantity_request, billing_request_release
from ldc.services import api_token_create
from meters.models import ServiceDeliveryPoint
from meters.registry.sync import read_registry_csv, registry_sync
from tests.billing.terms_helpers import change_terms

pytestmark = pytest.mark.django_db
HEADER = (
    "sdp_id,meter_id,rate_class,commodity_rate_class,postal_code,service_multiplier,"
    "ami_headend,billing_agent,bidirectional,effective_from,effective_to\n"
)
ROW = "SDP-1001,{meter},residential,tou,M5V 2T6,1,HESA,BILLCO,false,{start},{end}\n"


def _released(ldc: Any) -> BillingQuantity:
    sdp = ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id="SDP-1001")
    request = billing_quantity_request(
        ldc=ldc, sdp=sdp, start=dt.date(2026, 3, 7), end=dt.date(2026, 3, 8), actor=None
    )
    (quantity,) = billing_request_release(request=request, actor=None)
    return quantity


def _sync(ldc: Any, *rows: str) -> None:
    text = HEADER + "".join(rows)
    result = registry_sync(
        ldc=ldc, rows=read_registry_csv(io.StringIO(text)), actor=None, source="x"
    )
    assert not result.errors, result.errors


def test_a_back_dated_meter_exchange_raises_a_notice_at_once(
    validated: Any, django_capture_on_commit_callbacks: Any
) -> None:
    released = _released(validated)
    with django_capture_on_commit_callbacks(execute=True):
        _sync(
            validated,
            ROW.format(meter="MTR-1001", start="2025-01-01", end="2026-03-07"),
            ROW.format(meter="MTR-9001", start="2026-03-08", end=""),
        )
    notice = ReplacementNotice.objects.get(replaces=released)
    assert notice.kind == "replace" and notice.quantity.version == 2
    assert notice.quantity.end == dt.date(2026, 3, 7)
    assert "registry changed" in notice.reason
    released.refresh_from_db()
    assert released.status == "released" and released.end == dt.date(2026, 3, 8)  # as released
    new_meter = BillingQuantity.objects.get(request=released.request, meter__serial="MTR-9001")
    assert new_meter.start == dt.date(2026, 3, 8) and new_meter.status == "pending"


def test_a_quantity_that_no_longer_applies_gets_a_cancel_notice(
    client: Any, validated: Any, django_capture_on_commit_callbacks: Any
) -> None:
    released = _released(validated)
    with django_capture_on_commit_callbacks(execute=True):  # removed before the period began
        _sync(validated, ROW.format(meter="MTR-1001", start="2025-01-01", end="2026-03-06"))
    notice = ReplacementNotice.objects.get(replaces=released)
    assert notice.kind == "cancel" and notice.quantity is None
    released.refresh_from_db()
    assert released.cancelled_at is not None and released.status == "released"
    _, key = api_token_create(ldc=validated, name="CIS", role="billing_agent", actor=None)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    [body] = client.get(reverse("api:billing-notice-list"), {"open": "true"}, **auth).json()[
        "results"
    ]
    assert body["kind"] == "cancel" and body["quantity_id"] is None
    assert body["replaces_quantity_id"] == released.public_id
    detail = client.get(
        reverse("api:billing-request-detail", args=[released.request.public_id]), **auth
    ).json()
    assert detail["quantities"] == []  # nothing applies any more


def test_a_back_dated_multiplier_change_replaces_the_released_quantity(
    validated: Any, django_capture_on_commit_callbacks: Any
) -> None:
    released = _released(validated)
    with django_capture_on_commit_callbacks(execute=True):
        change_terms(validated, "SDP-1001", dt.date(2026, 3, 1), service_multiplier=2)
    notice = ReplacementNotice.objects.get(replaces=released)
    assert notice.quantity.total_kwh == pytest.approx(2 * released.total_kwh, abs=1e-3)
