"""#18 meter identity: the registry's optional external_id, and reads resolved by serial or by it
(Green Button UsagePoint keys by their last segment only when that is unique in the file)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from meters.models import Meter
from meters.reads.resolve import ALTERNATIVES, MeterResolver
from meters.registry.sync import COLUMNS, read_registry_csv, registry_sync
from tests import factories

pytestmark = pytest.mark.django_db

ROW = {
    "rate_class": "residential",
    "commodity_rate_class": "tou",
    "postal_code": "K1A 0B1",
    "service_multiplier": "1",
    "ami_headend": "HE1",
    "billing_agent": "BA1",
    "bidirectional": "false",
    "effective_from": "2010-01-01",
    "effective_to": "",
}


def sync(ldc: Any, *rows: dict[str, str]) -> Any:
    numbered = [(i, ROW | r) for i, r in enumerate(rows, start=1)]
    return registry_sync(ldc=ldc, rows=numbered, actor=None, source="test")


def test_external_id_is_optional_and_kept_unique_in_the_ldc() -> None:
    ldc = factories.LdcFactory()
    result = sync(
        ldc,
        {"sdp_id": "S1", "meter_id": "M1", "external_id": "User/9b6c7063/UsagePoint/01"},
        {"sdp_id": "S2", "meter_id": "M2"},
        {"sdp_id": "S3", "meter_id": "M3", "external_id": "User/9b6c7063/UsagePoint/01"},
    )
    assert [(e["row"], e["field"]) for e in result.errors] == [(3, "external_id")]
    assert "already meter M1's" in result.errors[0]["message"]
    ids = dict(Meter.objects.for_ldc(ldc).values_list("serial", "external_id"))
    assert ids == {"M1": "User/9b6c7063/UsagePoint/01", "M2": ""}
    # Another LDC may use the same key; an empty cell later leaves the stored id as it was.
    other = factories.LdcFactory()
    assert not sync(other, {"sdp_id": "S1", "meter_id": "X", "external_id": ids["M1"]}).errors
    assert not sync(ldc, {"sdp_id": "S1", "meter_id": "M1", "external_id": ""}).errors
    assert Meter.objects.for_ldc(ldc).get(serial="M1").external_id == ids["M1"]


def test_registry_csv_with_and_without_the_external_id_column() -> None:
    ldc = factories.LdcFactory()
    values = [ROW.get(c, "") for c in COLUMNS]
    old = ",".join(COLUMNS) + "\n" + ",".join(["S1", "M1", *values[2:]]) + "\n"
    assert not registry_sync(
        ldc=ldc, rows=read_registry_csv(io.BytesIO(old.encode())), actor=None, source="old"
    ).errors
    new = (
        ",".join([*COLUMNS, "external_id"])
        + "\n"
        + ",".join(["S2", "M2", *values[2:], "RetailCustomer/4299914/UsagePoint/4284792"])
        + "\n"
    )
    assert not registry_sync(
        ldc=ldc, rows=read_registry_csv(io.BytesIO(new.encode())), actor=None, source="new"
    ).errors
    assert dict(Meter.objects.for_ldc(ldc).values_list("serial", "external_id")) == {
        "M1": "",
        "M2": "RetailCustomer/4299914/UsagePoint/4284792",
    }


def test_sync_api_takes_external_id_and_meter_api_and_page_show_it(client: Any, world: Any) -> None:
    from django.urls import reverse

    from tests.meters.test_pages_and_api import token

    auth = token(world, "back_office")
    row = ROW | {"sdp_id": "S1", "meter_id": "M1", "external_id": "mRID-1"}
    response = client.post(
        reverse("api:registry-sync"),
        {"rows": [row]},
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert response.status_code == 200, response.content
    assert response.json()["errors"] == []
    meter = client.get(reverse("api:meter-detail", args=["M1"]), HTTP_AUTHORIZATION=auth).json()
    assert meter["external_id"] == "mRID-1"
    client.force_login(world.user("north", "back_office"))
    page = client.get(reverse("meters:meter-detail", args=["M1"]))
    assert page.status_code == 200 and b"<code>mRID-1</code>" in page.content


def resolver(ldc: Any, codes: list[str], **kwargs: Any) -> MeterResolver:
    return MeterResolver(ldc, codes, **kwargs)


def test_a_read_resolves_by_serial_or_external_id_and_ambiguity_is_never_merged() -> None:
    ldc = factories.LdcFactory()
    a = factories.MeterFactory(ldc=ldc, serial="01", external_id="")
    b = factories.MeterFactory(ldc=ldc, serial="B", external_id="User/2/UsagePoint/01")
    c = factories.MeterFactory(ldc=ldc, serial="C", external_id="mrid-c")
    # by serial, by external_id, by any of a code's alternatives (IEC mRID or Names/name)
    r = resolver(ldc, ["01", "mrid-c", f"nope{ALTERNATIVES}B"])
    assert r.pk_of_code.tolist() == [a.pk, c.pk, b.pk]
    assert not r.ambiguous_of_code.any()
    # Green Button keys: external_id first; else the last segment when unique among the keys.
    r = resolver(ldc, ["User/2/UsagePoint/01", "User/1/UsagePoint/01"], last_segment=True)
    assert r.pk_of_code.tolist() == [b.pk, -1]
    assert r.ambiguous_of_code.tolist() == [False, True]  # "01" is not unique in the file
    r = resolver(ldc, ["RetailCustomer/7/UsagePoint/01"], last_segment=True)
    assert r.pk_of_code.tolist() == [a.pk]
    # two codes of one file that resolve to one meter: both ambiguous, neither merged
    r = resolver(ldc, ["B", "User/2/UsagePoint/01"], last_segment=True)
    assert r.pk_of_code.tolist() == [-1, -1]
    assert r.ambiguous_of_code.tolist() == [True, True]
    # without last_segment (not Green Button) a key is looked up as it is
    assert resolver(ldc, ["RetailCustomer/7/UsagePoint/01"]).pk_of_code.tolist() == [-1]
