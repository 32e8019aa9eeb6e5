"""UTC instants to local wall-clock dates of a zone, vectorised (no zoneinfo call per value)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from meters.interfaces._localtime import _periods

DAY_S = 86_400


def _years(utc: np.ndarray) -> tuple[int, int]:
    years = np.array([utc.min(), utc.max()]).astype("datetime64[s]").astype("datetime64[Y]")
    first, last = (int(y) + 1970 for y in years.astype(np.int64))
    return first, last


def _offsets(utc: np.ndarray, tz: ZoneInfo) -> int | np.ndarray:
    """UTC offset (s) of ``tz`` at each of the (non-empty, int64) instants: one number when they
    all lie in one offset period (a batch of a month without a change), with no search per
    instant."""
    low, high = int(utc.min()), int(utc.max())
    table = _periods(tz, *_years(np.array([low, high])))
    utc_start = table.local_start - table.offset
    k_low, k_high = np.searchsorted(utc_start, [low, high], side="right") - 1
    if k_low == k_high:
        return int(table.offset[k_low])
    return table.offset[np.searchsorted(utc_start, utc, side="right") - 1]


def utc_offsets(utc: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """UTC offset (s) of ``tz`` at each UTC epoch second."""
    utc = np.asarray(utc, dtype=np.int64)
    if utc.size == 0:
        return np.empty(0, dtype=np.int64)
    offsets = _offsets(utc, tz)
    return np.full(utc.shape, offsets, np.int64) if isinstance(offsets, int) else offsets


def local_days(utc: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Local date of each UTC instant, as days since 1970-01-01."""
    utc = np.asarray(utc, dtype=np.int64)
    if utc.size == 0:
        return np.empty(0, dtype=np.int64)
    return (utc + _offsets(utc, tz)) // DAY_S


@lru_cache(maxsize=4096)
def local_day_bounds(tz: ZoneInfo, day: int) -> tuple[int, int]:
    """UTC epoch seconds of the start and end of local day ``day`` (23 or 25 hours on DST days)."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    start = dt.datetime.combine(date, dt.time(), tz)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def day_number(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def date_of(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
