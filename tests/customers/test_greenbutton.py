from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.urls import reverse

from customers import greenbutton
from customers.greenbutton import MeterDays
from meters.reads.day_arrays import IntervalFlag
from meters.reads.interfaces import green_button
from meters.reads.interfaces.base import IntervalBatch, Quality
from portal.models import AuditEvent

TZ = ZoneInfo("America/Toronto")
_F = IntervalFlag


def _days(minutes: int = 60, days: int = 3) -> MeterDays:
    n = 1440 // minutes
    rng = np.random.default_rng(3)
    wh = rng.integers(0, 5000, (days, n)).astype(np.int32)
    flags = np.full((days, n), _F.RECEIVED | _F.VALIDATED, np.uint8)
    half = n // 2
    flags[0, half] = _F.RECEIVED | _F.MISSING
    flags[1, half] = _F.RECEIVED | _F.ESTIMATED
    flags[1, half + 1] = _F.RECEIVED | _F.EDITED
    flags[2, half] = _F.RECEIVED | _F.SUSPECT
    first_day = 20_520  # 2026-03-07 UTC
    day = np.arange(first_day, first_day + days, dtype=np.int64)
    # The installation (asked range) starts and ends mid-day: blocks are clipped.
    first_s, after_s = day[0] * 86_400 + 5 * 3600, (day[-1] + 1) * 86_400 - 3600
    return MeterDays("MTR-9", minutes, day, wh, flags, int(first_s), int(after_s))


def _parse(text: str) -> IntervalBatch:
    batches = green_button.parse(io.BytesIO(text.encode()), filename="gb.xml", tz=TZ)
    return IntervalBatch.concat([b.intervals for b in batches])


def _expected(days: MeterDays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    flat = greenbutton.flatten(days)
    quality = np.full(flat.start.shape, Quality.ACTUAL, np.uint8)
    quality[flat.quality == 10] = Quality.SUSPECT
    quality[(flat.quality == 8) | (flat.quality == 7)] = Quality.ESTIMATED
    quality[flat.missing] = Quality.MISSING
    return flat.start, np.where(flat.missing, 0, flat.wh), quality


@pytest.mark.parametrize("minutes", [60, 15])
def test_feed_reads_back_to_the_same_intervals(minutes: int) -> None:
    days = _days(minutes)
    text = greenbutton.espi_feed(
        [days], tz=TZ, sdp_label="SDP-1", feed_key="north-SDP-1", now=dt.datetime.now(dt.UTC)
    )
    parsed = _parse(text)
    order = np.argsort(parsed.start)
    start, wh, quality = _expected(days)
    assert set(parsed.meter.tolist()) == {"MTR-9"}
    assert (parsed.minutes == minutes).all()
    np.testing.assert_array_equal(parsed.start[order], start)
    np.testing.assert_array_equal(parsed.wh[order], wh)
    np.testing.assert_array_equal(parsed.quality[order], quality)
    assert (quality == Quality.MISSING).sum() == 1 and (quality == Quality.ESTIMATED).sum() == 2


def test_csv_has_every_interval_and_marks_missing_and_estimated() -> None:
    days = _days()
    lines = greenbutton.csv_text([days], TZ).splitlines()
    assert lines[0] == greenbutton.CSV_HEADER
    assert len(lines) - 1 == greenbutton.interval_count([days])
    assert any(line.endswith(",,MISSING") for line in lines)
    assert any(line.endswith(",ESTIMATED") for line in lines)
    assert lines[1].split(",")[3].endswith("-05:00")


# --- through the page ---------------------------------------------------------------------


def _download(client: Any, **data: str) -> Any:
    url = reverse("customers:usage-download", args=["north", "NORTH-SDP-1"])
    return client.post(url, {"start": "2025-03-01", "end": "2026-02-28", "format": "xml"} | data)


@pytest.mark.django_db
def test_download_round_trips_the_stored_reads_and_is_audited(
    client: Any, world: Any, north_reads: Any
) -> None:
    client.force_login(world.customer)
    response = _download(client)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    parsed = _parse(response.content.decode())
    first, after = 1_740_805_200, 1_772_341_200  # 2025-03-01 00:00 EST .. 2026-03-01 00:00 EST
    stored_days = north_reads.day
    keep = (stored_days * 86_400 >= first - 86_400) & (stored_days * 86_400 < after)
    starts = (stored_days[keep][:, None] * 86_400 + np.arange(24) * 3600).ravel()
    wh = north_reads.wh[keep].ravel()
    inside = (starts >= first) & (starts < after)
    order = np.argsort(parsed.start)
    np.testing.assert_array_equal(parsed.start[order], starts[inside])
    missing = parsed.quality[order] == Quality.MISSING
    np.testing.assert_array_equal(parsed.wh[order][~missing], wh[inside][~missing])
    assert (parsed.quality[order] == Quality.ESTIMATED).sum() == 2 * 365
    event = AuditEvent.objects.get(action="usage.exported")
    assert event.actor == world.customer and event.ldc == world.north
    assert event.after["format"] == "xml" and event.after["intervals"] == inside.sum()


@pytest.mark.django_db
def test_csv_download_is_audited_too(client: Any, world: Any, north_reads: Any) -> None:
    client.force_login(world.customer)
    response = _download(client, format="csv")
    assert response.status_code == 200
    assert response.content.decode().startswith(greenbutton.CSV_HEADER)
    assert AuditEvent.objects.filter(action="usage.exported", after__format="csv").count() == 1


@pytest.mark.django_db
def test_more_than_24_months_is_refused_and_not_audited(client: Any, world: Any) -> None:
    client.force_login(world.customer)
    response = _download(client, start="2024-01-01", end="2026-01-01")
    assert response.status_code == 200
    assert "at most 24 months" in response.content.decode()
    ok = _download(client, start="2024-01-02", end="2026-01-01")
    assert ok.status_code == 200 and ok["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="usage.exported").count() == 1


@pytest.mark.django_db
def test_another_customer_cannot_download(client: Any, world: Any) -> None:
    client.force_login(world.customer_south)
    assert _download(client).status_code == 404
    assert not AuditEvent.objects.filter(action="usage.exported").exists()


@pytest.mark.parametrize("minutes", [60, 15])
def test_download_feed_validates_against_the_espi_schema(minutes: int) -> None:
    from tests.espi import assert_valid_espi

    days = _days(minutes)
    text = greenbutton.espi_feed(
        [days], tz=TZ, sdp_label="SDP-1", feed_key="north-SDP-1", now=dt.datetime.now(dt.UTC)
    )
    assert_valid_espi(text)


def test_blocks_are_local_days_with_ontario_dst_rules() -> None:
    """2026-03-08 (DST starts) is one block of 23 hours; the rules are Ontario's."""
    import re

    days = _days(60, days=3)
    days = MeterDays(days.serial, 60, days.day, days.wh, days.flags, 0, 2**40)
    text = greenbutton.espi_feed(
        [days], tz=TZ, sdp_label="SDP-1", feed_key="k", now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    )
    assert (
        "<dstEndRule>B40E2000</dstEndRule><dstOffset>3600</dstOffset>"
        "<dstStartRule>360E2000</dstStartRule><tzOffset>-18000</tzOffset>" in text
    )
    blocks = dict(
        re.findall(r"IntervalBlock/(\d{8})\" type=\"espi-entry[^<]*.*?<duration>(\d+)<", text)
    )
    assert blocks["20260308"] == str(23 * 3600)
    start = re.search(r"IntervalBlock/20260308\".*?<start>(\d+)</start>", text)
    assert start and int(start.group(1)) == int(dt.datetime(2026, 3, 8, tzinfo=TZ).timestamp())


@pytest.mark.django_db
def test_download_carries_monthly_usage_summaries_with_cost_and_validates(
    client: Any, world: Any, north_reads: Any
) -> None:
    import re

    from tests.espi import assert_valid_espi

    client.force_login(world.customer)
    text = _download(client).content.decode()
    assert_valid_espi(text)
    summaries = re.findall(
        r"UsageSummary/(\d{6})\".*?<billLastPeriod>(\d+)</billLastPeriod>.*?"
        r"<uom>72</uom><value>(\d+)</value>",
        text,
    )
    assert [m for m, _, _ in summaries] == [
        f"{y}{m:02d}" for y, m in [(2025, k) for k in range(3, 13)] + [(2026, 1), (2026, 2)]
    ]
    parsed = _parse(text)
    present = parsed.quality != Quality.MISSING
    assert abs(sum(int(v) for _, _, v in summaries) - int(parsed.wh[present].sum())) <= 12
    assert all(int(cost) > 0 for _, cost, _ in summaries)
