"""The Smart Metering Charge: seeded rates, the meter-count rule, statements, the command and
the rebate shared by meter count (#23)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from ldc import charges
from ldc.models import SmcRate, SmcRebate, SmcStatement
from meters.models import MeterInstallation
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def fleet(slug: str, n: int, start: dt.date = dt.date(2025, 1, 1)) -> Any:
    ldc = factories.LdcFactory(slug=slug, name=slug.title())
    for _ in range(n):
        factories.install(factories.SdpFactory(ldc=ldc), factories.MeterFactory(ldc=ldc), start)
    return ldc


def test_the_oeb_rates_are_seeded_with_their_source() -> None:
    assert charges.rate_on(dt.date(2013, 5, 1)).rate == Decimal("0.79")
    assert charges.rate_on(dt.date(2020, 6, 30)).rate == Decimal("0.57")
    current = charges.rate_on(dt.date(2026, 11, 30))
    assert current.rate == Decimal("0.42") and current.decision == "EB-2022-0137"
    assert all(r.source for r in SmcRate.objects.all())
    with pytest.raises(ValidationError, match="No Smart Metering Charge rate"):
        charges.rate_on(dt.date(2012, 1, 31))


def test_meters_are_counted_on_the_months_last_day() -> None:
    ldc = fleet("alpha", 3)
    sdp = factories.SdpFactory(ldc=ldc)
    # removed on 29 November: not counted for November; installed 1 December: not counted
    old = factories.install(sdp, factories.MeterFactory(ldc=ldc), dt.date(2025, 1, 1))
    MeterInstallation.objects.filter(pk=old.pk).update(effective_to=dt.date(2026, 11, 29))
    factories.install(sdp, factories.MeterFactory(ldc=ldc), dt.date(2026, 12, 1))
    # removed on the last day itself: still installed that day, counted
    other = factories.install(
        factories.SdpFactory(ldc=ldc), factories.MeterFactory(ldc=ldc), dt.date(2026, 2, 1)
    )
    MeterInstallation.objects.filter(pk=other.pk).update(effective_to=dt.date(2026, 11, 30))
    assert charges.meters_on(dt.date(2026, 11, 30), [ldc]) == {ldc.pk: 4}


def test_statement_amount_rate_and_charge_type(django_assert_max_num_queries: Any) -> None:
    a, b = fleet("alpha", 7), fleet("beta", 2)
    rows = {r.ldc.slug: r for r in charges.statements_make(month=dt.date(2026, 11, 1), ldcs=[a, b])}
    assert (rows["alpha"].meters, rows["alpha"].amount) == (7, Decimal("2.94"))
    assert rows["beta"].amount == Decimal("0.84") and rows["beta"].charge_type == "9980"
    # again: the same rows remade, not doubled
    charges.statements_make(month=dt.date(2026, 11, 1), ldcs=[a, b])
    assert SmcStatement.objects.filter(month=dt.date(2026, 11, 1)).count() == 2
    assert AuditEvent.objects.filter(action="smc_statement.remade").count() == 2


def test_command_prints_the_csv(world: Any) -> None:
    fleet("alpha", 5)
    out = io.StringIO()
    call_command("sme_charges", "--month", "2026-11", "--ldc", "alpha", stdout=out)
    assert out.getvalue() == "ldc,month,meters,rate,amount\nalpha,2026-11,5,0.42,2.10\n"
    out = io.StringIO()
    call_command("sme_charges", "--month", "2026-11", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "ldc,month,meters,rate,amount"
    assert {line.split(",")[0] for line in lines[1:]} == {"alpha", "north", "south"}
    with pytest.raises(CommandError, match="not a month"):
        call_command("sme_charges", "--month", "2026/11", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no LDC with the slug 'nope'"):
        call_command("sme_charges", "--month", "2026-11", "--ldc", "nope", stdout=io.StringIO())


def test_the_monthly_task_makes_last_months_statements(world: Any) -> None:
    from django.utils import timezone

    from ldc.sme.tasks import smc_statements_monthly

    smc_statements_monthly.apply()
    last = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert SmcStatement.objects.filter(month=last).count() == 2


def test_coordinators_see_every_ldcs_statements_an_ldc_only_its_own(world: Any) -> None:
    charges.statements_make(month=dt.date(2026, 11, 1))
    coord = actor_for_user(world.coordinator)
    assert {r.ldc.slug for r in charges.statements_for(coord)} == {"north", "south"}
    staff = actor_for_user(world.user("north", "back_office"))
    assert {r.ldc.slug for r in charges.statements_for(staff)} == {"north"}


def test_rebate_is_shared_by_meter_count_to_the_cent(world: Any) -> None:
    SmcStatement.objects.all().delete()
    MeterInstallation.objects.all().delete()
    a, b, c = fleet("alpha", 1), fleet("beta", 1), fleet("gamma", 1)
    coord = actor_for_user(world.coordinator)
    with pytest.raises(PermissionDenied):
        charges.rebate_record(
            year=2026,
            surplus=Decimal("100"),
            actor=actor_for_user(world.user("north", "ldc_admin")),
        )
    rows = charges.rebate_record(year=2026, surplus=Decimal("100.00"), actor=coord)
    amounts = sorted(r.amount for r in rows)
    assert amounts == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert sum(amounts) == Decimal("100.00") and {r.total_meters for r in rows} == {3}
    with pytest.raises(ValidationError, match="already recorded"):
        charges.rebate_record(year=2026, surplus=Decimal("5"), actor=coord)
    assert SmcRebate.objects.count() == 3
    assert {a.pk, b.pk, c.pk} == {r.ldc_id for r in rows}


def test_pages_and_csv_show_each_their_own(client: Any, world: Any) -> None:
    from django.urls import reverse

    charges.statements_make(month=dt.date(2026, 11, 1))
    client.force_login(world.user("north", "back_office"))
    page = client.get(reverse("ldc:charges")).content.decode()
    assert "Northwind Test Hydro" in page and "Southshore" not in page
    body = client.get(reverse("ldc:charges") + "?format=csv").content.decode()
    assert body.splitlines()[0] == "ldc,month,meters,rate,amount"
    assert [line.split(",")[0] for line in body.splitlines()[1:]] == ["north"]
    assert client.get(reverse("sme_onboarding:charges")).status_code == 403
    client.force_login(world.coordinator)
    body = client.get(reverse("sme_onboarding:charges") + "?format=csv").content.decode()
    assert sorted(line.split(",")[0] for line in body.splitlines()[1:]) == ["north", "south"]
    page = client.post(
        reverse("sme_onboarding:charges"), {"year": "2026", "surplus": "abc"}, follow=True
    ).content.decode()
    assert "surplus: dollars" in page and not SmcRebate.objects.exists()
    client.post(reverse("sme_onboarding:charges"), {"year": "2026", "surplus": "1000.00"})
    assert sum(r.amount for r in SmcRebate.objects.all()) == Decimal("1000.00")
