"""Local time, vectorised: UTC instants to a zone's wall-clock dates and back, with no zoneinfo
call per value.

A zone's offset periods (spans of constant UTC offset) are found once per zone and years and kept;
``np.searchsorted`` over them places any number of instants. "Naive seconds" are seconds since
1970-01-01T00:00 of a wall clock read as if it were UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

DAY_S = 86_400
_HOUR = 3600
_PROBE = 6 * _HOUR
_FAR = np.int64(1) << np.int64(60)  # stands for +/- infinity in the period table


def _offset_at(tz: ZoneInfo, instant: int) -> int:
    """UTC offset in seconds of ``tz`` at UTC epoch second ``instant``."""
    offset = datetime.fromtimestamp(instant, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _year_start(year: int) -> int:
    return int((np.datetime64(f"{year:04d}-01-01", "s") - np.datetime64(0, "s")).astype(np.int64))


@lru_cache(maxsize=1024)
def _year_transitions(tz: ZoneInfo, year: int) -> tuple[tuple[int, int], ...]:
    """(UTC instant, offset from then on) of each offset change of ``tz`` during UTC ``year``."""
    start, end = _year_start(year), _year_start(year + 1)
    found: list[tuple[int, int]] = []
    before = _offset_at(tz, start)
    # Probed every few hours (no zone of the tz database changes its offset twice within
    # _PROBE; a year is 1,460 probes instead of 8,760 hourly ones, once per process and zone).
    for probe in range(start + _PROBE, end + _PROBE, _PROBE):
        probe = min(probe, end)
        after = _offset_at(tz, probe)
        if after != before:
            # Bisect to the exact second (some zones change at :30 or :45).
            lo, hi = probe - _PROBE, probe
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset_at(tz, mid) == before else (lo, mid)
            found.append((hi, after))
            before = after
    return tuple(found)


@dataclass(frozen=True)
class OffsetPeriods:
    """Spans of constant offset, in wall-clock (naive) seconds, ordered in time."""

    local_start: np.ndarray  # first naive second of each period
    local_end: np.ndarray  # first naive second after it (exclusive)
    offset: np.ndarray  # UTC offset (s) during the period


@lru_cache(maxsize=256)
def offset_periods(tz: ZoneInfo, first_year: int, last_year: int) -> OffsetPeriods:
    """The offset periods of ``tz`` covering wall-clock years first_year..last_year."""
    # One year of margin each side: a local date near New Year may be another year in UTC.
    lo, hi = first_year - 1, last_year + 1
    changes = [t for year in range(lo, hi + 1) for t in _year_transitions(tz, year)]
    instants = np.array([t for t, _ in changes], dtype=np.int64)
    offsets = np.array([_offset_at(tz, _year_start(lo))] + [o for _, o in changes], np.int64)
    utc_start = np.concatenate([[-_FAR], instants])
    utc_end = np.concatenate([instants, [_FAR]])
    return OffsetPeriods(utc_start + offsets, utc_end + offsets, offsets)


@dataclass(frozen=True)
class Resolved:
    """UTC readings of wall-clock labels: both instants of a repeated label, and gap labels."""

    first: np.ndarray  # earliest UTC instant the label names
    second: np.ndarray  # the later instant of a repeated (fall-back) label, else == first
    nonexistent: np.ndarray  # bool: the label falls in a spring-forward gap

    @property
    def ambiguous(self) -> np.ndarray:
        """Labels that occur twice (fall back)."""
        return self.second != self.first


def _year_range(low: int, high: int) -> tuple[int, int]:
    years = np.array([low, high]).astype("datetime64[s]").astype("datetime64[Y]")
    first, last = (int(y) + 1970 for y in years.astype(np.int64))
    return first, last


def local_to_utc(naive: np.ndarray, tz: ZoneInfo) -> Resolved:
    """Resolve int64 naive wall-clock seconds of zone ``tz`` to UTC epoch seconds.

    The arrays of the result may be shared (``second`` is ``first`` when no label repeats):
    copy before changing one in place.
    """
    naive = np.asarray(naive, dtype=np.int64)
    if naive.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return Resolved(empty, empty, np.empty(0, dtype=bool))
    low, high = int(naive.min()), int(naive.max())
    table = offset_periods(tz, *_year_range(low, high))
    # The latest period starting at or before each label; the previous one may still cover it
    # (a fall-back repeat), and a label past the end of its period sits in a gap.
    k_low, k_high = (np.searchsorted(table.local_start, [low, high], side="right") - 1).tolist()
    after_repeats = k_low == 0 or low >= table.local_end[k_low - 1]
    if k_low == k_high and high < table.local_end[k_low] and after_repeats:
        # All in one period, none in a gap or a repeated hour (most batches): one offset.
        utc = naive - table.offset[k_low]
        return Resolved(utc, utc, np.zeros(naive.size, dtype=bool))
    k = np.searchsorted(table.local_start, naive, side="right") - 1
    previous = np.maximum(k - 1, 0)
    nonexistent = naive >= table.local_end[k]
    ambiguous = (k > 0) & (naive < table.local_end[previous])
    later = naive - table.offset[k]
    earlier = np.where(ambiguous, naive - table.offset[previous], later)
    return Resolved(earlier, later, nonexistent)


def _years(utc: np.ndarray) -> tuple[int, int]:
    years = np.array([utc.min(), utc.max()]).astype("datetime64[s]").astype("datetime64[Y]")
    first, last = (int(y) + 1970 for y in years.astype(np.int64))
    return first, last


def _offsets(utc: np.ndarray, tz: ZoneInfo) -> int | np.ndarray:
    """UTC offset (s) of ``tz`` at each of the (non-empty, int64) instants: one number when they
    all lie in one offset period (a batch of a month without a change), with no search per
    instant."""
    low, high = int(utc.min()), int(utc.max())
    table = offset_periods(tz, *_years(np.array([low, high])))
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
