"""Class load profiles (E5): computed from the LDC's validated reads per rate class, day type
and local hour, kept with their date; a new meter's 9-hour gap is estimated by E5 (issue 20)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from meters.models import ClassProfile, Meter, ServiceDeliveryPoint
from meters.reads import day_store, ingest
from meters.reads.day_arrays import DayBlock, IntervalFlag, day_key
from meters.vee.estimation import Method
from meters.vee.profiles import day_types
from meters.vee.service import vee_run_days
from portal.calendar.localtime import day_number

pytestmark = pytest.mark.django_db
FIRST, LAST = 20519, 20521  # UTC days 2026-03-07 .. 2026-03-09
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
# Wh per local hour of the history meters: night low, an evening peak.
SHAPE = np.array([300] * 7 + [600] * 9 + [900] * 6 + [400] * 2, np.int32)


def store_history(ldc: Any, serial: str, scale: int) -> None:
    """30 validated days before the sample's first day, in local hours (EST: UTC-5)."""
    meter = Meter.objects.get(ldc=ldc, serial=serial)
    days = np.arange(FIRST - 30, FIRST)
    wh = np.tile(np.roll(SHAPE, 5) * scale, (len(days), 1))  # UTC slot h is local hour h-5
    flags = np.full(wh.shape, IntervalFlag.RECEIVED | IntervalFlag.VALIDATED, np.uint8)
    keys = day_key(np.full(len(days), meter.pk), 1, days)
    block = DayBlock(keys, 60, wh, flags, wh.copy(), np.zeros(wh.shape, np.uint8),
                     np.ones(len(days), np.int64))  # fmt: skip
    day_store.ensure_partitions(days)  # PostgreSQL: the months before the sample
    day_store.save_days(ldc, block)


def new_meter_file() -> bytes:
    """MTR-1003's first day, 2026-03-07 local, with 08:00-17:00 (9 hours) missing."""
    lines = ["meter_id,timestamp,kwh,quality_flag"]
    for hour in range(24):
        if 8 <= hour < 17:
            continue
        end = dt.datetime(2026, 3, 7, hour, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        end += dt.timedelta(hours=1)
        lines.append(f"MTR-1003,{end.isoformat()},{SHAPE[hour] * 2 / 1000:.3f},A")
    return ("\n".join(lines) + "\n").encode()


def gap_methods(ldc: Any) -> np.ndarray:
    meter = Meter.objects.get(ldc=ldc, serial="MTR-1003")
    box = day_store.vee_stored(ldc, [meter.pk], FIRST, FIRST)[60]
    return box.methods[0, 13:22], box.block.wh[0, 13:22]  # local 08:00-17:00 EST


def test_a_new_meters_nine_hour_gap_is_estimated_by_e5_from_its_class_profile(
    sample_ldc: Any, settings: Any
) -> None:
    settings.OPENMDMR_VEE_AFTER_INGEST = False
    # MTR-1003 is the new meter, at a residential SDP like the two with history.
    ServiceDeliveryPoint.objects.filter(sdp_id="SDP-1003").update(rate_class="residential")
    store_history(sample_ldc, "MTR-1001", 1)
    store_history(sample_ldc, "MTR-1002", 3)
    read_file, _ = ingest.read_file_receive(
        ldc=sample_ldc, interface="csv", upload=io.BytesIO(new_meter_file()), name="new.csv",
        actor=None, via="test", queue=False,
    )  # fmt: skip
    ingest.read_file_ingest(read_file=read_file)
    meters = list(Meter.objects.for_ldc(sample_ldc).values_list("pk", flat=True))

    def vee() -> None:
        vee_run_days(ldc=sample_ldc, meter_ids=meters, first_day=FIRST, last_day=LAST, now=NOW)

    vee()
    methods, _ = gap_methods(sample_ldc)
    assert (methods == 0).all()  # no like day, no average: without a profile it stays missing

    out = io.StringIO()
    call_command("class_profiles", "--ldc", "sample", "--on", "2026-03-07", stdout=out)
    assert "residential,weekday,2026-03-07" in out.getvalue()
    assert "residential,weekend,2026-03-07" in out.getvalue()  # 2026-03-07 is a Saturday
    weekday = ClassProfile.objects.get(ldc=sample_ldc, rate_class="residential", day_type="weekday")
    assert weekday.first_day == dt.date(2026, 2, 7) and weekday.last_day == dt.date(2026, 3, 6)
    # The average of the two history meters (x1 and x3): twice the shape.
    assert weekday.wh_per_hour[12] == pytest.approx(2 * 600, rel=0.01)

    vee()
    methods, wh = gap_methods(sample_ldc)
    assert (methods == Method.PROFILE).all()  # E5, every hour of the gap
    # The profile (2 x shape) scaled to the new meter's own hours (also 2 x shape): the shape.
    assert wh.tolist() == pytest.approx((2 * SHAPE[8:17]).tolist(), rel=0.02)


def test_day_types_weekday_weekend_holiday() -> None:
    days = np.array([day_number(dt.date(2026, 3, d)) for d in (6, 7, 8)] +
                    [day_number(dt.date(2026, 7, 1))])  # fmt: skip
    assert day_types(days).tolist() == [0, 1, 1, 2]  # Fri, Sat, Sun, Canada Day (Wed)
