"""UTC instants to local dates and offsets (meters.localtime) against zoneinfo, one by one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from portal.calendar.localtime import local_days, utc_offsets

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def expected(instants: np.ndarray, tz: ZoneInfo) -> tuple[list[int], list[int]]:
    moments = [EPOCH + dt.timedelta(seconds=s) for s in instants.tolist()]
    offsets = [int(m.astimezone(tz).utcoffset().total_seconds()) for m in moments]
    days = [(m.astimezone(tz).date() - EPOCH.date()).days for m in moments]
    return offsets, days


@pytest.mark.parametrize(
    ("first", "hours"),
    [
        ("2026-01-05T00:00:00+00:00", 24 * 30),  # one offset all along (the quick path)
        ("2026-03-01T00:00:00+00:00", 24 * 40),  # across spring forward
        ("2026-10-25T00:00:00+00:00", 24 * 14),  # across fall back
        ("2025-12-31T03:00:00+00:00", 5),  # local New Year's Eve, UTC New Year's Day
    ],
)
@pytest.mark.parametrize("zone", ["America/Toronto", "America/St_Johns", "Australia/Lord_Howe"])
def test_offsets_and_local_days_match_zoneinfo(first: str, hours: int, zone: str) -> None:
    tz = ZoneInfo(zone)
    start = int(dt.datetime.fromisoformat(first).timestamp())
    instants = start + 900 * np.arange(hours * 4, dtype=np.int64)[::-1]  # any order
    offsets, days = expected(instants, tz)
    assert utc_offsets(instants, tz).tolist() == offsets
    assert local_days(instants, tz).tolist() == days


def test_nothing_in_nothing_out() -> None:
    tz = ZoneInfo("America/Toronto")
    assert local_days(np.empty(0, np.int64), tz).size == 0
    assert utc_offsets(np.empty(0, np.int64), tz).size == 0
