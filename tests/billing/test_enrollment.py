"""Issue #19: quantities only for enrolled SDPs from their group's TOU billing start; the
registry column ``tou_billing_from``; the rollout's TOU-billed counts use the same rule."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.urls import reverse

from billing.models import BillingQuantity, Status
from billing.services import BillingError, billing_quantity_request, billing_request_release
from ldc.models import EnrollmentGroup
from meters.models import ServiceDeliveryPoint
from meters.registry.enrollment import is_tou_billed_on, tou_billed_on
from meters.registry.sync import read_registry_csv, registry_sync
from portal.models import AuditEvent
from tests.billing.test_billing_api import ask, token_header

pytestmark = pytest.mark.django_db


def _sdp(ldc: Any, sdp_id: str = "SDP-1001") -> ServiceDeliveryPoint:
    return ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id=sdp_id)


def _quantities(request: Any) -> list[BillingQuantity]:
    return list(BillingQuantity.objects.filter(request=request).order_by("start"))


def test_an_sdp_in_no_enrollment_group_is_refused_not_computed(validated: Any) -> None:
    sdp = _sdp(validated)
    sdp.tou_billing_from = None
    sdp.save(update_fields=["tou_billing_from"])
    request = billing_quantity_request(
        ldc=validated, sdp=sdp, start=dt.date(2026, 3, 7), end=dt.date(2026, 3, 8), actor=None
    )
    (only,) = _quantities(request)
    assert request.status == only.status == Status.REFUSED
    assert only.pending_reasons[0]["code"] == "not_enrolled"
    assert only.pending_reasons[0]["tou_billing_from"] is None
    assert only.total_kwh == 0 and only.periods_kwh == {}
    with pytest.raises(BillingError, match="not TOU-billed"):
        billing_request_release(request=request, actor=None)


def test_a_request_across_the_tou_start_refuses_the_first_span_and_computes_the_rest(
    client: Any, validated: Any
) -> None:
    sdp = _sdp(validated)
    sdp.tou_billing_from = dt.date(2026, 3, 8)
    sdp.save(update_fields=["tou_billing_from"])
    response = ask(client, token_header(validated), "SDP-1001")
    assert response.status_code in (200, 201), response.content
    body = response.json()
    refused, billed = body["quantities"]
    assert (refused["start"], refused["end"], refused["status"]) == (
        "2026-03-07",
        "2026-03-07",
        "refused",
    )
    assert refused["refusal"] == {
        "code": "not_enrolled",
        "tou_billing_from": "2026-03-08",
        "message": "not enrolled: TOU billing starts on 2026-03-08",
    }
    assert (billed["start"], billed["end"], billed["status"]) == (
        "2026-03-08",
        "2026-03-08",
        "complete",
    )
    assert billed["total_kwh"] > 0 and billed["refusal"] is None
    assert body["status"] == "complete"  # the refused span does not hold the request back
    # The billed span alone is what the whole-period quantity has for the 8th.
    sdp.tou_billing_from = dt.date(2025, 1, 1)
    sdp.save(update_fields=["tou_billing_from"])
    again = ask(client, token_header(validated), "SDP-1001").json()["quantities"]
    assert len(again) == 1 and again[0]["start"] == "2026-03-07"  # the refused row is gone
    day8 = billing_quantity_request(
        ldc=validated, sdp=sdp, start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 8), actor=None
    )
    assert _quantities(day8)[0].total_kwh == pytest.approx(billed["total_kwh"])
    # The release takes the computed span; the request's release works with a refused one.
    sdp.tou_billing_from = dt.date(2026, 3, 8)
    sdp.save(update_fields=["tou_billing_from"])
    ask(client, token_header(validated), "SDP-1001")
    url = reverse("api:billing-request-release", args=[body["request_id"]])
    released = client.post(url, **token_header(validated))
    assert released.status_code == 200, released.content
    statuses = [q["status"] for q in released.json()["quantities"]]
    assert statuses == ["refused", "released"]


def test_the_registry_column_enrolls_sdps_as_a_group_of_their_own(sample_ldc: Any) -> None:
    ldc = sample_ldc
    ServiceDeliveryPoint.objects.for_ldc(ldc).update(tou_billing_from=None)
    text = (
        "sdp_id,meter_id,rate_class,commodity_rate_class,postal_code,service_multiplier,"
        "ami_headend,billing_agent,bidirectional,effective_from,effective_to,tou_billing_from\n"
        "SDP-1001,MTR-1001,residential,tou,M5V 2T6,1,HESA,BILLCO,false,2025-01-01,,2024-05-01\n"
        "SDP-1002,MTR-1002,residential,ulo,M4C 1B5,1,HESA,BILLCO,false,2025-01-01,,\n"
        "SDP-1003,MTR-1003,gs_lt_50,tou,L5B 3C2,1,HESA,BILLCO,false,2025-01-01,,05/01/2024\n"
    )
    result = registry_sync(
        ldc=ldc, rows=read_registry_csv(io.StringIO(text)), actor=None, source="r.csv"
    )
    assert [(e["row"], e["field"]) for e in result.errors] == [(4, "tou_billing_from")]
    assert result.tou_billing_set == 1
    assert _sdp(ldc).tou_billing_from == dt.date(2024, 5, 1)
    assert _sdp(ldc, "SDP-1002").tou_billing_from is None
    group = EnrollmentGroup.objects.for_ldc(ldc).get()
    assert group.tou_billing_start == dt.date(2024, 5, 1)
    assert list(group.members.values_list("sdp__sdp_id", flat=True)) == ["SDP-1001"]
    assert AuditEvent.objects.filter(action="enrollment_group.from_registry").count() == 1
    # Loading the same file again changes nothing and makes no second group.
    registry_sync(ldc=ldc, rows=read_registry_csv(io.StringIO(text)), actor=None, source="r")
    assert EnrollmentGroup.objects.for_ldc(ldc).count() == 1


def test_the_rollout_counts_tou_billed_sdps_by_the_same_rule(sample_ldc: Any) -> None:
    from ldc.sme.rollout import _sdp_counts

    sdps = ServiceDeliveryPoint.objects.for_ldc(sample_ldc)
    sdps.update(tou_billing_from=None)
    sdps.filter(sdp_id="SDP-1001").update(tou_billing_from=dt.date(2026, 1, 1))
    sdps.filter(sdp_id="SDP-1002").update(tou_billing_from=dt.date(2026, 6, 1))
    day = dt.date(2026, 3, 7)
    assert list(sdps.filter(tou_billed_on(day)).values_list("sdp_id", flat=True)) == ["SDP-1001"]
    assert is_tou_billed_on(dt.date(2026, 1, 1), day) and not is_tou_billed_on(None, day)
    assert _sdp_counts(day)[sample_ldc.pk]["tou_billed"] == 1
