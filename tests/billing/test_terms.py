"""Issue #19: effective-dated SDP terms (plan, rate classes, multiplier, billing cycle, billing
agent): a change is a new row from its date; quantities use the terms of each day."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from billing.models import BillingQuantity
from billing.services import billing_batch_request, billing_quantity_request
from meters.models import BillingCycle, SdpTerms, ServiceDeliveryPoint
from meters.registry.sync import read_registry_csv, registry_sync
from meters.registry.terms import next_period_start, sdp_plan_choose
from portal.models import AuditEvent
from tests.billing.terms_helpers import HEADER, change_terms

pytestmark = pytest.mark.django_db
D7, D8 = dt.date(2026, 3, 7), dt.date(2026, 3, 8)


def _sdp(ldc: Any, sdp_id: str = "SDP-1001") -> ServiceDeliveryPoint:
    return ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id=sdp_id)


def _spans(ldc: Any, sdp_id: str, start: dt.date, end: dt.date) -> list[BillingQuantity]:
    request = billing_quantity_request(
        ldc=ldc, sdp=_sdp(ldc, sdp_id), start=start, end=end, actor=None
    )
    return list(BillingQuantity.objects.filter(request=request).order_by("start"))


def test_a_multiplier_change_applies_from_its_date_and_leaves_the_past(validated: Any) -> None:
    (day7,) = _spans(validated, "SDP-1002", D7, D7)
    (day8,) = _spans(validated, "SDP-1002", D8, D8)
    change_terms(validated, "SDP-1002", D8, service_multiplier=40)
    first, second = _spans(validated, "SDP-1002", D7, D8)
    assert (first.start, first.end, first.service_multiplier) == (D7, D7, 1)
    assert (second.start, second.end, second.service_multiplier) == (D8, D8, 40)
    assert first.total_kwh == pytest.approx(day7.total_kwh)
    assert second.total_kwh == pytest.approx(40 * day8.total_kwh, abs=1e-3)
    rows = SdpTerms.objects.filter(sdp=_sdp(validated, "SDP-1002")).order_by("effective_from")
    assert [(r.effective_from, float(r.service_multiplier)) for r in rows] == [
        (dt.date(2025, 1, 1), 1.0),
        (D8, 40.0),
    ]
    # The same row again (a file sent twice) records nothing new.
    assert change_terms(validated, "SDP-1002", D8, service_multiplier=40).terms_created == 0


def test_a_plan_choice_applies_from_the_next_billing_period(validated: Any) -> None:
    cycle = BillingCycle.objects.create(ldc=validated, code="C07", read_day=7)
    change_terms(validated, "SDP-1001", dt.date(2026, 2, 1), billing_cycle="C07")
    sdp = _sdp(validated)
    assert sdp.billing_cycle == cycle
    # Chosen on the 7th, the cycle's read day: the period holding it ends that day.
    row = sdp_plan_choose(sdp=sdp, plan="ulo", chosen_on=D7, actor=None)
    assert row.effective_from == D8 and row.commodity_rate_class == "ulo"
    assert AuditEvent.objects.filter(action="sdp.plan_chosen").count() == 1
    tou, ulo = _spans(validated, "SDP-1001", D7, D8)
    assert (tou.start, tou.plan, set(tou.periods_kwh)) == (
        D7,
        "tou",
        {"on_peak", "mid_peak", "off_peak"},
    )
    assert (ulo.start, ulo.plan) == (D8, "ulo")
    assert "ultra_low_overnight" in ulo.periods_kwh
    # A request that starts on the 8th is for the ULO plan.
    (alone,) = _spans(validated, "SDP-1001", D8, D8)
    assert alone.request.plan == "ulo"


def test_next_period_start_follows_the_read_day() -> None:
    assert next_period_start(15, dt.date(2026, 3, 10)) == dt.date(2026, 3, 16)
    assert next_period_start(15, dt.date(2026, 3, 16)) == dt.date(2026, 4, 16)
    assert next_period_start(31, dt.date(2026, 2, 10)) == dt.date(2026, 3, 1)
    assert next_period_start(None, dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)


def test_registry_billing_cycle_column_and_the_batch_by_the_terms_in_effect(
    validated: Any,
) -> None:
    BillingCycle.objects.create(ldc=validated, code="C08", read_day=8)
    bad = (
        HEADER + "SDP-1001,MTR-1001,residential,tou,M5V 2T6,1,HESA,BILLCO,false,2026-03-01,,NOPE\n"
    )
    result = registry_sync(
        ldc=validated, rows=read_registry_csv(io.StringIO(bad)), actor=None, source="b"
    )
    assert [(e["row"], e["field"]) for e in result.errors] == [(2, "billing_cycle")]
    assert "NOPE" in result.errors[0]["message"]
    assert not SdpTerms.objects.filter(sdp=_sdp(validated), effective_from=D7).exists()
    for sdp_id in ("SDP-1001", "SDP-1002"):
        change_terms(validated, sdp_id, dt.date(2026, 3, 1), billing_cycle="C08")
    cycle = BillingCycle.objects.get(ldc=validated, code="C08")
    batch = billing_batch_request(ldc=validated, cycle=cycle, start=D7, end=D8, actor=None)
    assert batch.sdps == 2
