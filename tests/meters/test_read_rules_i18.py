"""#18 rules for what real files send: duplicates inside a file, mixed interval lengths,
export over an empty range, ..."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from meters.models import IntervalDay, ReadRejection
from tests.meters.test_ingest import export, ingest

pytestmark = pytest.mark.django_db


def test_duplicates_inside_a_file_identical_count_once_differing_are_rejected(
    sample_ldc: Any,
) -> None:
    head = "MEPMD01,20080501,HESA,,OPENMDMR,,202603090715,MTR-1001,OK,E,KWH,1,00000100,"
    data = "\n".join(
        [
            head + "2,202603070100,R0,0.371,202603070200,R0,0.200",
            head + "1,202603070100,R0,0.371",  # identical: counted once
            head + "1,202603070300,R0,0.500",
            head + "1,202603070300,R0,0.501",  # differs: both rejected
        ]
    ).encode()
    read_file = ingest(sample_ldc, "cmep", data)
    assert read_file.status == "loaded", read_file.error
    assert (read_file.intervals_accepted, read_file.intervals_rejected) == (2, 2)
    rows = {(r.reason, r.meter_serial, r.line) for r in ReadRejection.objects.all()}
    assert rows == {("duplicate_conflict", "MTR-1001", 3), ("duplicate_conflict", "MTR-1001", 4)}
    assert read_file.report["intervals_duplicate"] == 1
    assert read_file.report["intervals_with_value"] == 2
    day = IntervalDay.objects.get()
    wh = np.frombuffer(bytes(day.wh), "<i4")
    assert sorted(wh[wh != 0].tolist()) == [200, 371]  # nothing of 0.500/0.501 stored


def test_read_success_is_never_above_100_percent_with_a_file_giving_each_hour_five_times(
    sample_ldc: Any,
) -> None:
    head = "MEPMD01,20080501,HESA,,OPENMDMR,,202603090715,MTR-1001,OK,E,KWH,1,00000100,"
    ends = [f"202603{7 + (h + 1) // 24:02d}{(h + 1) % 24:02d}00" for h in range(24)]  # local
    values = ",".join(f"{end},R0,0.100" for end in ends)
    lines = [(head + "24," + values).encode()] * 5
    read_file = ingest(sample_ldc, "cmep", b"\n".join(lines) + b"\n")
    assert read_file.status == "loaded", read_file.error
    assert read_file.intervals_accepted == 24
    assert read_file.report["read_success_pct"] <= 100.0
    assert read_file.report["intervals_duplicate"] == 4 * 24


def test_export_intervals_over_an_empty_range_prints_the_header_and_exits_0(
    sample_ldc: Any,
) -> None:
    assert export(sample_ldc).splitlines() == [
        "meter_id,interval_start_utc,interval_end_utc,kwh,flag,channel,received_kwh,"
        "received_flag,estimation_method,rules_failed"
    ]
    assert export(sample_ldc, "--as-received").splitlines() == [
        "meter_id,interval_start_utc,interval_end_utc,kwh,flag"
    ]


@pytest.mark.parametrize("interface", ["green_button", "iec61968_9", "multispeak"])
def test_poison_xml_encoding_is_a_rejection_naming_the_file(
    sample_ldc: Any, interface: str
) -> None:
    data = b'<?xml version="1.0" encoding="UTF-7"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>\n'
    read_file = ingest(sample_ldc, interface, data, name="poison.xml")
    assert read_file.status == "rejected"
    assert read_file.error.startswith("poison.xml") and "encoding" in read_file.error
