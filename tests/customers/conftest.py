"""Stored hourly days for the world's customer meters (straight into the interval table)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from meters.reads import day_store
from meters.reads.day_arrays import FLAGS_OF_QUALITY, DayBlock, IntervalFlag, day_key
from meters.reads.interfaces.base import Quality
from portal.calendar.localtime import day_number


def store_hourly(
    meter: Any, first: dt.date, days: int, *, seed: int = 1, estimated_hours: int = 0
) -> DayBlock:
    """``days`` UTC days of hourly reads from ``first`` (evening peak, a little noise); the last
    ``estimated_hours`` hours of each day estimated, hour 3 of the first day missing."""
    rng = np.random.default_rng(seed)
    shape = 300 + 900 * np.exp(-((np.arange(24) - 22) ** 2) / 8.0)  # UTC 22 h = 17 h EST
    wh = np.rint(shape * rng.uniform(0.8, 1.2, (days, 24))).astype(np.int32)
    quality = np.full((days, 24), Quality.ACTUAL, np.uint8)
    if estimated_hours:
        quality[:, 24 - estimated_hours :] = Quality.ESTIMATED
    quality[0, 3] = Quality.MISSING
    wh[0, 3] = 0
    flags = FLAGS_OF_QUALITY[quality].copy()
    flags[quality != Quality.MISSING] |= np.uint8(IntervalFlag.VALIDATED)
    start = day_number(first)
    keys = day_key(np.full(days, meter.pk), 1, np.arange(start, start + days))
    block = DayBlock(keys, 60, wh, flags, wh.copy(), quality, np.ones(days, np.int64))
    day_store.ensure_partitions(block.day)
    day_store.save_days(meter.ldc, block)
    return block


@pytest.fixture
def north_reads(world: Any) -> DayBlock:
    """NORTH-MTR-1: 2025-01-01 .. 2026-03-31 hourly, two estimated hours a day."""
    days = (dt.date(2026, 4, 1) - dt.date(2025, 1, 1)).days
    return store_hourly(world.objects["north_meter"], dt.date(2025, 1, 1), days, estimated_hours=2)
