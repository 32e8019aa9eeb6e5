"""Measurement Canada seal tracking (#23): registry columns meter_type and seal_year, seal expiry
from the type's period, the re-verification list and compliance-sampling lots."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from meters import seals
from meters.models import Meter, SamplingLot, SealPeriod
from meters.registry.sync import read_registry_csv, registry_sync
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db
HEADER = (
    "sdp_id,meter_id,rate_class,commodity_rate_class,postal_code,service_multiplier,"
    "ami_headend,billing_agent,bidirectional,effective_from,effective_to"
)
TODAY = dt.date(2026, 12, 7)


def sync(ldc: Any, text: str) -> Any:
    return registry_sync(
        ldc=ldc, rows=read_registry_csv(io.BytesIO(text.encode())), actor=None, source="t.csv"
    )


def test_old_header_still_loads_and_new_columns_set_type_and_seal_year(world: Any) -> None:
    old = f"{HEADER}\nS-1,M-1,residential,tou,M6G 2K9,1,HE,BA,false,2025-01-01,\n"
    assert sync(world.north, old).loaded == 1
    new = (
        f"{HEADER},meter_type,seal_year\n"
        "S-1,M-1,residential,tou,M6G 2K9,1,HE,BA,false,2025-01-01,,Elster REX2,2019\n"
        "S-2,M-2,residential,tou,M6G 2K9,1,HE,BA,false,2025-01-01,,Elster REX2,19\n"
    )
    result = sync(world.north, new)
    assert result.loaded == 1
    assert result.errors == [
        {"row": 3, "field": "seal_year", "message": "'19' is not a year (YYYY)"}
    ]
    meter = Meter.objects.for_ldc(world.north).get(serial="M-1")
    assert (meter.meter_type, meter.seal_year) == ("Elster REX2", 2019)
    assert not Meter.objects.for_ldc(world.north).filter(serial="M-2").exists()
    with pytest.raises(Exception, match="header must be exactly"):
        list(read_registry_csv(io.BytesIO(f"{HEADER},colour\n".encode())))


def fleet(ldc: Any, kind: str, year: int, n: int) -> None:
    for _ in range(n):
        factories.MeterFactory(ldc=ldc, meter_type=kind, seal_year=year)


def test_seal_expiry_from_the_types_period_and_the_reverification_list(world: Any) -> None:
    SealPeriod.objects.create(meter_type="Old EM", initial_years=6, source="test")
    fleet(world.north, "Old EM", 2019, 2)  # 2025: overdue
    fleet(world.north, "REX2", 2018, 3)  # default 8 years: 2026, this year
    fleet(world.north, "REX2", 2019, 1)  # 2027: next year
    fleet(world.north, "REX2", 2020, 4)  # 2028: later, not listed
    fleet(world.south, "REX2", 2018, 5)  # another LDC's
    found = {
        (g.meter_type, g.seal_year): (g.meters, g.seal_expires, g.due)
        for g in seals.groups(world.north, TODAY)
    }
    assert found == {
        ("Old EM", 2019): (2, 2025, "overdue"),
        ("REX2", 2018): (3, 2026, "this_year"),
        ("REX2", 2019): (1, 2027, "next_year"),
        ("REX2", 2020): (4, 2028, None),
    }
    rows = seals.reverification_list(world.north, TODAY)
    assert [r["due"] for r in rows] == ["overdue"] * 2 + ["this_year"] * 3 + ["next_year"]


def test_sampling_lot_pass_extends_the_seal_and_fail_schedules_removal(world: Any) -> None:
    fleet(world.north, "REX2", 2018, 30)
    fleet(world.north, "REX2", 2017, 200)
    admin = actor_for_user(world.user("north", "ldc_admin"))
    with pytest.raises(PermissionDenied):
        seals.lot_create(
            ldc=world.north,
            meter_type="REX2",
            seal_year=2018,
            actor=actor_for_user(world.user("south", "ldc_admin")),
        )
    lot = seals.lot_create(ldc=world.north, meter_type="REX2", seal_year=2018, actor=admin)
    assert (lot.lot_size, lot.sample_size, lot.acceptance_number) == (30, 20, 0)
    with pytest.raises(ValidationError, match="between 0 and the sample size"):
        seals.lot_record_result(lot=lot, nonconforming=21, actor=admin)
    lot = seals.lot_record_result(lot=lot, nonconforming=0, actor=admin)
    assert lot.result == "passed" and lot.seal_expires == 2026 + 4
    assert {g.seal_year: g.seal_expires for g in seals.groups(world.north, TODAY)}[2018] == 2030
    with pytest.raises(ValidationError, match="already recorded"):
        seals.lot_record_result(lot=lot, nonconforming=0, actor=admin)
    bad = seals.lot_create(ldc=world.north, meter_type="REX2", seal_year=2017, actor=admin)
    assert (bad.sample_size, bad.acceptance_number) == (50, 1)
    bad = seals.lot_record_result(lot=bad, nonconforming=2, actor=admin)
    assert bad.result == "failed" and bad.seal_expires == 2025
    assert bad.removal_by == dt.date(max(2025, timezone.localdate().year), 12, 31)
    actions = set(AuditEvent.objects.for_ldc(world.north).values_list("action", flat=True))
    assert {"sampling_lot.created", "sampling_lot.passed", "sampling_lot.failed"} <= actions
    assert SamplingLot.objects.for_ldc(world.south).count() == 0


def test_seals_page_csv_and_lot_forms(client: Any, world: Any) -> None:
    from django.urls import reverse

    fleet(world.north, "REX2", 2010, 12)
    fleet(world.south, "REX2", 2010, 3)
    client.force_login(world.user("north", "ldc_admin"))
    page = client.get(reverse("ldc:seals")).content.decode()
    assert "Overdue: <strong>12</strong>" in page
    body = client.get(reverse("ldc:seals") + "?format=csv").content.decode().splitlines()
    assert body[0] == "meter_id,meter_type,seal_year,seal_expires,due,removal_by"
    assert len(body) == 13 and all(",REX2,2010,2018,overdue," in line for line in body[1:])
    page = client.post(
        reverse("ldc:seals"), {"meter_type": "REX2", "seal_year": "x"}, follow=True
    ).content.decode()
    assert "Seal year: a year" in page
    client.post(reverse("ldc:seals"), {"meter_type": "REX2", "seal_year": "2010"})
    lot = SamplingLot.objects.for_ldc(world.north).get()
    assert lot.lot_size == 12
    client.post(reverse("ldc:seals"), {"lot": lot.pk, "nonconforming": "0"})
    lot.refresh_from_db()
    assert lot.result == "passed" and lot.seal_expires == 2022


def test_coordinators_see_counts_per_ldc(client: Any, world: Any) -> None:
    from django.urls import reverse

    fleet(world.north, "REX2", 2010, 12)
    fleet(world.south, "REX2", 2019, 3)
    client.force_login(world.user("north", "ldc_admin"))
    assert client.get(reverse("sme_onboarding:seals")).status_code == 403
    client.force_login(world.coordinator)
    body = client.get(reverse("sme_onboarding:seals") + "?format=csv").content.decode()
    lines = body.splitlines()
    assert lines[0] == "ldc,sealed,overdue,this_year,next_year"
    assert "north,12,12,0,0" in lines
    assert any(line.startswith("south,3,") for line in lines)
