"""Every VEE rule with its real input (issue 20): the service gives V02 the registry's multiplier,
V03 the stored actual a re-sent one replaced, V11 the SDP's enrollment, V14 the SDP's estimated
days before the block. Each test fails if the service stops giving the rule its input."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pytest

from meters.models import Meter, RegisterRead, ServiceDeliveryPoint, VeeException, VeeSettings
from meters.reads import day_store, ingest
from meters.reads.day_arrays import DayBlock, IntervalFlag, day_key
from meters.vee.service import vee_run_days
from tests.meters.conftest import sample_file

pytestmark = pytest.mark.django_db
FIRST, LAST = 20519, 20521  # UTC days 2026-03-07 .. 2026-03-09
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


def load(ldc: Any, data: bytes, name: str) -> None:
    read_file, _ = ingest.read_file_receive(
        ldc=ldc, interface="csv", upload=io.BytesIO(data), name=name, actor=None, via="test",
        queue=False,
    )  # fmt: skip
    assert ingest.read_file_ingest(read_file=read_file).status == "loaded"


def vee(ldc: Any) -> None:
    meters = list(Meter.objects.for_ldc(ldc).values_list("pk", flat=True))
    vee_run_days(ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=LAST, now=NOW)


def open_rules(ldc: Any, serial: str) -> dict[str, str]:
    rows = VeeException.objects.for_ldc(ldc).filter(meter__serial=serial, status="open")
    return {e.rule: e.detail for e in rows}


def test_v03_a_re_sent_actual_that_changed_is_an_exception_with_both_values(
    sample_ldc: Any,
) -> None:
    load(sample_ldc, sample_file("csv").read_bytes(), "first.csv")
    vee(sample_ldc)
    assert "V03" not in open_rules(sample_ldc, "MTR-1001")
    resent = b"meter_id,timestamp,kwh,quality_flag\nMTR-1001,2026-03-07T02:00:00-05:00,0.999,A\n"
    load(sample_ldc, resent, "again.csv")
    vee(sample_ldc)
    detail = open_rules(sample_ldc, "MTR-1001")["V03"]
    assert "stored_wh=325" in detail and "new_wh=999" in detail


def test_v11_reads_of_an_sdp_not_active_or_not_enrolled_fire(sample_ldc: Any) -> None:
    load(sample_ldc, sample_file("csv").read_bytes(), "first.csv")
    vee(sample_ldc)
    assert "V11" not in open_rules(sample_ldc, "MTR-1001")
    ServiceDeliveryPoint.objects.filter(sdp_id="SDP-1001").update(status="inactive")
    vee(sample_ldc)
    assert "V11" in open_rules(sample_ldc, "MTR-1001")
    assert "V11" not in open_rules(sample_ldc, "MTR-1002")
    # With enrollment required, an SDP enrolled only later fails too; one enrolled before passes.
    VeeSettings.objects.create(ldc=sample_ldc, params={"v11_require_enrollment": True})
    ServiceDeliveryPoint.objects.filter(sdp_id="SDP-1002").update(enrolled_on=dt.date(2026, 4, 1))
    ServiceDeliveryPoint.objects.filter(sdp_id="SDP-1003").update(enrolled_on=dt.date(2026, 1, 1))
    vee(sample_ldc)
    assert "V11" in open_rules(sample_ldc, "MTR-1002")
    assert "V11" not in open_rules(sample_ldc, "MTR-1003")


def test_v02_intervals_at_the_sdps_multiplier_times_the_register_fire(sample_ldc: Any) -> None:
    load(sample_ldc, sample_file("csv").read_bytes(), "first.csv")
    meter = Meter.objects.get(ldc=sample_ldc, serial="MTR-1001")
    day = local_day_wh(sample_ldc, meter.pk)
    start = dt.datetime(2026, 3, 7, 5, tzinfo=dt.UTC)  # the local day 2026-03-07
    for at, wh in ((start, 1_000_000), (start + dt.timedelta(days=1), 1_000_000 + day // 40)):
        RegisterRead.objects.create(ldc=sample_ldc, meter=meter, channel=1, read_at=at, wh=wh)
    vee(sample_ldc)
    assert "V02" not in open_rules(sample_ldc, "MTR-1001")  # multiplier 1: V05's mismatch only
    ServiceDeliveryPoint.objects.filter(sdp_id="SDP-1001").update(service_multiplier=40)
    vee(sample_ldc)
    detail = open_rules(sample_ldc, "MTR-1001")["V02"]
    assert "registry_multiplier=40.0" in detail and "interval_to_register=40" in detail


def local_day_wh(ldc: Any, meter: int) -> int:
    """Wh of 2026-03-07 local (05:00 UTC to 05:00 UTC): the end of one UTC row, the next's start."""
    box = day_store.vee_stored(ldc, [meter], FIRST, FIRST + 1)[60]
    return int(box.block.wh[0, 5:].sum() + box.block.wh[1, :5].sum())


def test_v14_counts_the_sdps_estimated_days_before_the_block(sample_ldc: Any) -> None:
    meter = Meter.objects.get(ldc=sample_ldc, serial="MTR-1003")
    # 40 estimated days before the sample's first day, nothing received since.
    days = np.arange(FIRST - 40, FIRST)
    wh = np.full((len(days), 24), 400, np.int32)
    block = DayBlock(
        day_key(np.full(len(days), meter.pk), 1, days), 60, wh,
        np.full(wh.shape, IntervalFlag.ESTIMATED | IntervalFlag.VALIDATED, np.uint8),
        wh.copy(), np.full(wh.shape, 255, np.uint8), np.ones(len(days), np.int64),
    )  # fmt: skip
    day_store.ensure_partitions(days)  # PostgreSQL: the months before the sample
    day_store.save_days(sample_ldc, block)
    # 30 days allowed: the block alone (22 days of history + 3) stays under it.
    VeeSettings.objects.create(ldc=sample_ldc, params={"v14_max_estimated_days": 30})
    vee(sample_ldc)
    assert "V14" in open_rules(sample_ldc, "MTR-1003")
    assert "estimated_days=" in open_rules(sample_ldc, "MTR-1003")["V14"]
