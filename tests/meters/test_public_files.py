"""#18 Shows it: each public read file of tests/data/public/ loads exactly as its README
(tests/data/public/SOURCES.md) says: every stored interval with a value is compared with
``expected/<file>.csv``, and what is not stored is listed with its reason."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from meters.models import ReadRejection
from meters.reads.interfaces.base import Quality
from meters.reads.intervals import NEVER, intervals_between, iso_utc, kwh_text
from meters.registry.sync import registry_sync
from tests import factories
from tests.meters.test_ingest import ingest

pytestmark = pytest.mark.django_db

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
ROW = {
    "rate_class": "residential",
    "commodity_rate_class": "tou",
    "postal_code": "K1A 0B1",
    "service_multiplier": "1",
    "ami_headend": "HE1",
    "billing_agent": "BA1",
    "bidirectional": "true",
    "effective_from": "2008-01-01",
    "effective_to": "",
}


def ldc_with(meters: dict[str, str]) -> Any:
    """An LDC with one SDP per meter (serial -> external_id, may be empty)."""
    ldc = factories.LdcFactory(slug="public", time_zone="America/Toronto")
    rows = [
        (i, ROW | {"sdp_id": f"SDP-{i}", "meter_id": serial, "external_id": external})
        for i, (serial, external) in enumerate(meters.items(), start=1)
    ]
    assert not registry_sync(ldc=ldc, rows=rows, actor=None, source="test").errors
    return ldc


def load(ldc: Any, interface: str, folder: str, name: str) -> Any:
    read_file = ingest(ldc, interface, (PUBLIC / folder / name).read_bytes(), name)
    assert read_file.status == "loaded", read_file.error
    return read_file


def stored(ldc: Any, label: dict[str, str]) -> list[tuple[str, ...]]:
    """Every stored interval with a value, as the expected files' rows (meters by ``label``)."""
    first = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp())
    after = int(dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp())
    iv = intervals_between(ldc, first, after)
    iv = iv.select((iv.raw_quality != NEVER) & (iv.raw_quality != Quality.MISSING))
    end = iv.start + iv.minutes.astype("int64") * 60
    columns = [iso_utc(iv.start), iso_utc(end), kwh_text(iv.raw_wh), iv.channel.astype(str)]
    return sorted(
        (label[str(m)], *map(str, rest)) for m, *rest in zip(iv.meter, *columns, strict=True)
    )


def expected(name: str) -> list[tuple[str, ...]]:
    with (PUBLIC / "expected" / name).open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        return sorted(tuple(row) for row in reader)


def rejected(read_file: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for reason, n in ReadRejection.objects.filter(read_file=read_file).values_list(
        "reason", "intervals"
    ):
        found[reason] = found.get(reason, 0) + n
    return found


COASTAL = "openespi_sdk_Coastal_Single_Family_Jan_1_2011_to_Jan_1_2012"
FIVE = "openespi_sdk_1hrLP_32DaysFiveUsagePoints_M"
BATCH = "openespi_sdk_BatchFeedThreeUsagePoints_M"
CMEP = "smartsynch_CMEP_Sample.2"


def test_coastal_single_family_relative_links_dst_readings_and_a_conflict() -> None:
    ldc = ldc_with({"01": ""})  # resolved by the key's last segment: one UsagePoint
    read_file = load(ldc, "green_button", "green_button", f"{COASTAL}.xml")
    assert stored(ldc, {"01": "01"}) == expected(f"{COASTAL}.csv")
    assert len(expected(f"{COASTAL}.csv")) == 8756
    reasons = rejected(read_file)
    assert reasons == {"reading_duration": 2, "duplicate_conflict": 2}
    conflicts = ReadRejection.objects.filter(read_file=read_file, reason="duplicate_conflict")
    hour = dt.datetime(2011, 3, 13, 17, tzinfo=dt.UTC)
    assert {(c.first_start, c.last_start) for c in conflicts} == {(hour, hour)}
    assert read_file.report["read_success_pct"] <= 100.0


def test_five_usage_points_all_01_by_external_id_one_meter_each() -> None:
    keys = {f"M{n}": f"User/9b6c706{n}/UsagePoint/01" for n in range(3, 8)}
    ldc = ldc_with(keys)
    read_file = load(ldc, "green_button", "green_button", f"{FIVE}.xml")
    assert stored(ldc, keys) == expected(f"{FIVE}.csv")
    assert read_file.intervals_rejected == 0
    assert read_file.report["read_success_pct"] <= 100.0


def test_five_usage_points_without_external_id_are_ambiguous_never_merged() -> None:
    ldc = ldc_with({"01": ""})
    read_file = load(ldc, "green_button", "green_button", f"{FIVE}.xml")
    assert stored(ldc, {"01": "01"}) == []
    assert rejected(read_file) == {"ambiguous_meter": 3840}
    listed = set(
        ReadRejection.objects.filter(read_file=read_file).values_list("meter_serial", flat=True)
    )
    assert listed == {f"User/9b6c706{n}/UsagePoint/01" for n in range(3, 8)}
    assert read_file.report["read_success_pct"] <= 100.0


def test_batch_feed_without_interval_length_delivered_and_received() -> None:
    keys = {
        "4284792": "RetailCustomer/4299914/UsagePoint/4284792",
        "4284793": "RetailCustomer/4299915/UsagePoint/4284793",
        "4284794": "RetailCustomer/4299915/UsagePoint/4284794",
    }
    ldc = ldc_with(keys)
    read_file = load(ldc, "green_button", "green_button", f"{BATCH}.xml")
    rows = stored(ldc, keys)
    assert rows == expected(f"{BATCH}.csv")
    assert [r[4] for r in rows].count("1") == 192 and [r[4] for r in rows].count("2") == 192
    assert read_file.intervals_rejected == 0


def test_smartsynch_cmep_kwh_stored_kvarh_listed_with_its_unit_register_kept() -> None:
    from meters.models import RegisterRead

    ldc = ldc_with({"05550268": ""})
    read_file = load(ldc, "cmep", "cmep", f"{CMEP}.don")
    assert stored(ldc, {"05550268": "05550268"}) == expected(f"{CMEP}.csv")
    assert rejected(read_file) == {"not_loaded_kvarh": 97}  # 96 KVARH intervals + KVARHREG
    message = ReadRejection.objects.filter(read_file=read_file).first()
    assert message is not None and "kvarh" in message.message
    registers = list(RegisterRead.objects.values_list("channel", "wh"))
    assert registers == [(1, 5897114)]  # the KWHREG read, 5,897.11432 kWh
