"""Issue #19: billed quantities reproducible from stored data. Release, edit, late actual:
--reproduce says 'reproduced' for version 1 and version 2; --explain lists the intervals."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.models import BillingQuantity
from ldc.services import api_token_create
from meters.models import IntervalDay, IntervalDayVersion, Meter
from meters.vee.service import interval_edit
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests.billing.conftest import load

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("billing_quantities", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def _request_and_release(ldc: Any) -> list[dict[str, Any]]:
    code, out = _run(
        "--ldc",
        ldc.slug,
        "--sdp",
        "SDP-1001",
        "--start",
        "2026-03-07",
        "--end",
        "2026-03-08",
        "--release",
    )
    assert code == 0
    return json.loads(out)


def test_release_edit_late_actual_and_both_versions_reproduce(
    validated: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    [released] = _request_and_release(validated)
    assert released["status"] == "released" and released["version"] == 1
    assert AuditEvent.objects.filter(action="billing_quantity.released").count() == 1
    meter = Meter.objects.for_ldc(validated).get(serial="MTR-1001")
    start = dt.datetime(2026, 3, 7, 15, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        interval_edit(
            ldc=validated,
            meter=meter,
            channel=1,
            start=start,
            end=start + dt.timedelta(hours=1),
            wh=9_999,
            reason="customer_read",
            note="",
            actor=actor_for_user(world.user("north", "back_office")),
        )
    # The edit kept the day as it was and made the next version.
    day = IntervalDay.objects.get(ldc=validated, meter=meter, channel=1, day=dt.date(2026, 3, 7))
    assert day.version == 2
    assert IntervalDayVersion.objects.filter(meter=meter, day=day.day, version=1).exists()
    late = b"meter_id,timestamp,kwh,quality_flag\nMTR-1001,2026-03-08T03:00:00-05:00,2.500,A\n"
    with django_capture_on_commit_callbacks(execute=True):
        load(validated, late, "late.csv")
    rows = BillingQuantity.objects.filter(public_id=released["quantity_id"]).get().request
    versions = {q.version: q for q in BillingQuantity.objects.filter(request=rows)}
    assert set(versions) == {1, 2}
    assert versions[2].total_kwh != versions[1].total_kwh
    for version in (1, 2):
        code, out = _run("--reproduce", versions[version].public_id)
        assert (code, out.strip()) == (0, "reproduced"), out
    # A stored figure that no longer matches its inputs is listed, exit 1.
    BillingQuantity.objects.filter(pk=versions[1].pk).update(total_kwh=1.0)
    code, out = _run("--reproduce", versions[1].public_id)
    assert code == 1 and "total_kwh: stored 1.0" in out


def test_explain_lists_the_intervals_of_each_period(client: Any, validated: Any) -> None:
    [released] = _request_and_release(validated)
    code, out = _run("--explain", released["quantity_id"])
    body = json.loads(out)
    periods = body["channels"]["1"]
    assert periods and set(periods) <= set(released["periods_kwh"])  # a weekend: off-peak
    for name, kwh in released["periods_kwh"].items():
        assert periods.get(name, {"kwh": 0.0})["kwh"] == pytest.approx(kwh, abs=1e-3)
    count = sum(len(p["intervals"]) for p in periods.values())
    assert count == released["intervals_valid"]
    first = periods["off_peak"]["intervals"][0]
    assert set(first) == {"start", "kwh", "flags", "method", "version", "read_file"}
    assert "validated" in first["flags"] and first["version"] == 1
    _, key = api_token_create(ldc=validated, name="CIS", role="billing_agent", actor=None)
    response = client.get(
        reverse("api:billing-request-explain", args=[released["request_id"]]),
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200, response.content
    [api] = response.json()["quantities"]
    assert api["channels"]["1"]["off_peak"]["kwh"] == periods["off_peak"]["kwh"]


def test_the_explain_page_is_reached_from_the_quantity(
    client: Any, validated: Any, world: Any
) -> None:
    [released] = _request_and_release(validated)
    from tests import factories

    user = factories.staff_user(validated, "billing_agent", "billing@sample.test.example")
    client.force_login(user)
    detail = client.get(reverse("billing:detail", args=[released["request_id"]])).content.decode()
    url = reverse("billing:quantity-explain", args=[released["quantity_id"]])
    assert url in detail
    page = client.get(url).content.decode()
    assert "offpeak" in page.lower().replace(" ", "")  # the period's intervals are listed
    assert 'data-testid="reproduce"' in page and "Reproduced:" in page
    client.force_login(world.user("north", "billing_agent"))  # another LDC: not found
    assert client.get(url).status_code == 404
