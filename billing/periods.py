"""RPP price periods (TOU, ULO) and tier splits (tiered), computed in local time with numpy.

The calendars are data (``CALENDAR``): adding a plan, or moving an hour, is a change of rows, not
of code. An interval belongs to the season, day kind and price period of its local *start*: every
OEB period boundary is on the hour, so an hourly or shorter interval never straddles one, and the
hour 07:00-08:00 is the hour "from 7 a.m.". Pure: arrays in, arrays out, no Django, no ORM.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from portal.calendar.holidays import holiday_mask, weekend_mask
from portal.calendar.localtime import local_days, utc_offsets

DAY_S = 86_400
HOUR_S = 3_600

Season = Literal["winter", "summer", "all"]
DayKind = Literal["weekday", "weekend", "all"]  # "weekend" = Saturday, Sunday and TOU holidays

# Season codes, in the order of season_codes(). OEB: summer May 1 - Oct 31, winter Nov 1 - Apr 30.
SEASON_NAMES: tuple[str, ...] = ("winter", "summer")
SUMMER_MONTHS = frozenset({5, 6, 7, 8, 9, 10})
_SEASON_OF_MONTH = np.array([0] + [int(m in SUMMER_MONTHS) for m in range(1, 13)], dtype=np.uint8)

# Price periods of each plan; a period code is the index of its name here.
PERIOD_NAMES: dict[str, tuple[str, ...]] = {
    "tou": ("off_peak", "mid_peak", "on_peak"),
    "ulo": ("ultra_low_overnight", "weekend_off_peak", "mid_peak", "on_peak"),
    # Tiered prices do not depend on the hour: one period; tiers come from tiered_split().
    "tiered": ("all_hours",),
}

# (plan, season, day kind, start hour, end hour, period): local wall-clock hours [start, end).
# Source: the hour tables of the OEB RPP price announcements (e.g. news release 2025-10-17).
CALENDAR: tuple[tuple[str, Season, DayKind, int, int, str], ...] = (
    # TOU winter (Nov 1 - Apr 30): two weekday peaks, morning and evening, for heat and light.
    ("tou", "winter", "weekday", 0, 7, "off_peak"),
    ("tou", "winter", "weekday", 7, 11, "on_peak"),
    ("tou", "winter", "weekday", 11, 17, "mid_peak"),
    ("tou", "winter", "weekday", 17, 19, "on_peak"),
    ("tou", "winter", "weekday", 19, 24, "off_peak"),
    # TOU summer (May 1 - Oct 31): one midday peak, for air conditioning.
    ("tou", "summer", "weekday", 0, 7, "off_peak"),
    ("tou", "summer", "weekday", 7, 11, "mid_peak"),
    ("tou", "summer", "weekday", 11, 17, "on_peak"),
    ("tou", "summer", "weekday", 17, 19, "mid_peak"),
    ("tou", "summer", "weekday", 19, 24, "off_peak"),
    # TOU weekends and holidays: off-peak all day, all year.
    ("tou", "all", "weekend", 0, 24, "off_peak"),
    # ULO: the same periods all year (OEB ULO price plan, from May 1 2023).
    ("ulo", "all", "all", 0, 7, "ultra_low_overnight"),
    ("ulo", "all", "weekday", 7, 16, "mid_peak"),
    ("ulo", "all", "weekday", 16, 21, "on_peak"),
    ("ulo", "all", "weekday", 21, 23, "mid_peak"),
    ("ulo", "all", "weekend", 7, 23, "weekend_off_peak"),
    ("ulo", "all", "all", 23, 24, "ultra_low_overnight"),
    # Tiered: one period, every hour.
    ("tiered", "all", "all", 0, 24, "all_hours"),
)

# Monthly tier-1 thresholds (kWh) by rate class and season. OEB RPP tiered prices: residential
# 600 kWh/month in summer and 1,000 in winter (more at the lower price for winter heat and
# light); non-residential (general service < 50 kW) 750 kWh/month all year.
TIER_THRESHOLDS_KWH: dict[str, dict[str, float]] = {
    "residential": {"summer": 600.0, "winter": 1000.0},
    "gs_lt_50": {"summer": 750.0, "winter": 750.0},
}

_UNSET = np.uint8(255)
_BUCKET_S = 900  # every UTC offset and DST change in use is a whole quarter hour
_MAX_BUCKETS = 4_000_000  # ~114 years of quarter hours: the per-bucket table stays small


# The calendar's identity, recorded with each billing quantity (#19: what produced it): a change
# of any row gives another id.
CALENDAR_ID = "rpp-" + hashlib.sha256(repr(CALENDAR).encode()).hexdigest()[:12]


def _compile(plan: str) -> np.ndarray:
    """(day class * 24 + local hour) -> period code of ``plan``, checked to cover each hour once."""
    names = PERIOD_NAMES[plan]
    table = np.full((len(SEASON_NAMES), 2, 24), _UNSET, dtype=np.uint8)
    for row_plan, season, day_kind, start, end, period in CALENDAR:
        if row_plan != plan:
            continue
        seasons = range(2) if season == "all" else [SEASON_NAMES.index(season)]
        kinds = range(2) if day_kind == "all" else [("weekday", "weekend").index(day_kind)]
        for s in seasons:
            for k in kinds:
                if (table[s, k, start:end] != _UNSET).any():
                    raise ValueError(f"{plan}: {season} {day_kind} hours {start}-{end} overlap")
                table[s, k, start:end] = names.index(period)
    if (table == _UNSET).any():
        raise ValueError(f"{plan}: the calendar leaves some hours without a period")
    return table.reshape(-1)


_LOOKUP: dict[str, np.ndarray] = {plan: _compile(plan) for plan in PERIOD_NAMES}


def months_of(local_days: np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of local days (int days since 1970-01-01)."""
    dates = np.asarray(local_days, dtype=np.int64).astype("datetime64[D]")
    return dates.astype("datetime64[M]").astype(np.int64) % 12 + 1


def season_codes(local_days: np.ndarray) -> np.ndarray:
    """Season code (index into SEASON_NAMES) of local days (int days since 1970-01-01)."""
    return _SEASON_OF_MONTH[months_of(local_days)]


def day_classes(local_days: np.ndarray) -> np.ndarray:
    """season * 2 + (1 on weekends and TOU holidays, else 0), per local day."""
    days = np.asarray(local_days, dtype=np.int64)
    off = weekend_mask(days) | holiday_mask(days)
    return season_codes(days) * np.uint8(2) + off.astype(np.uint8)


def local_clock(utc_start: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Local day number and local hour (0-23) of each UTC epoch second."""
    utc = np.asarray(utc_start, dtype=np.int64)
    local = utc + utc_offsets(utc.reshape(-1), tz).reshape(utc.shape)
    days, seconds = np.divmod(local, DAY_S)
    return days, seconds // HOUR_S


def by_bucket(
    utc_start: np.ndarray, tz: ZoneInfo, values: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``values(utc)`` per element, evaluated once per 15-minute UTC bucket and gathered.

    ``values`` must depend only on local wall-clock time at hour (or coarser) resolution, such
    as a period code or a local day. Offsets and DST changes are whole quarter hours in every
    zone in use, so all instants of a bucket share them; a bucket where that fails (a
    historical offset such as -5:17:32) is detected and its elements evaluated one by one.
    """
    utc = np.asarray(utc_start, dtype=np.int64)
    flat = utc.reshape(-1)
    if flat.size == 0:
        return values(flat).reshape(utc.shape)
    first, last = int(flat.min()) // _BUCKET_S, int(flat.max()) // _BUCKET_S
    if last - first + 1 > min(flat.size, _MAX_BUCKETS):  # sparse instants: direct is cheaper
        return values(flat).reshape(utc.shape)
    starts = np.arange(first, last + 1, dtype=np.int64) * _BUCKET_S
    ends = starts + (_BUCKET_S - 1)
    table = values(starts)
    same = (table == values(ends)) & (utc_offsets(starts, tz) == utc_offsets(ends, tz))
    bucket = flat // _BUCKET_S
    bucket -= first  # in place: no second 8-byte-per-value temporary
    out = table[bucket]
    if not same.all():
        odd = ~same[bucket]
        out[odd] = values(flat[odd])
    return out.reshape(utc.shape)


def _codes_direct(utc: np.ndarray, plan: str, tz: ZoneInfo) -> np.ndarray:
    days, hours = local_clock(utc, tz)
    low = int(days.min())
    # Classify each distinct day once, then one gather per instant.
    classes = day_classes(np.arange(low, int(days.max()) + 1))
    return _LOOKUP[plan][classes[days - low].astype(np.intp) * 24 + hours]


def period_codes(utc_start: np.ndarray, plan: str, tz: ZoneInfo) -> np.ndarray:
    """Period code (index into PERIOD_NAMES[plan]) of intervals starting at UTC epoch seconds."""
    if plan not in _LOOKUP:
        raise ValueError(f"unknown price plan {plan!r}")
    utc = np.asarray(utc_start, dtype=np.int64)
    if utc.size == 0:
        return np.empty(utc.shape, dtype=np.uint8)
    return by_bucket(utc, tz, lambda instants: _codes_direct(instants, plan, tz))


def local_day_numbers(utc_start: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Local day (int days since 1970-01-01) of each UTC epoch second, fast on dense series."""
    utc = np.asarray(utc_start, dtype=np.int64)
    if utc.size == 0:
        return np.empty(utc.shape, dtype=np.int64)
    return by_bucket(utc, tz, lambda instants: local_days(instants, tz))


def period_kwh(codes: np.ndarray, kwh: np.ndarray, plan: str) -> dict[str, float]:
    """Total kWh of each price period of ``plan``, by name (every period present, maybe 0)."""
    names = PERIOD_NAMES[plan]
    totals = np.bincount(np.asarray(codes).reshape(-1), np.asarray(kwh).reshape(-1), len(names))
    return {name: float(total) for name, total in zip(names, totals, strict=True)}


def tier_threshold_kwh(rate_class: str | np.ndarray, month: int | np.ndarray) -> np.ndarray:
    """Monthly tier-1 threshold (kWh) of a rate class (or an array of them) in a month (1-12)."""
    months = np.asarray(month, dtype=np.int64)
    if ((months < 1) | (months > 12)).any():
        raise ValueError("months are 1-12")
    names, which = np.unique(np.asarray(rate_class, dtype=str), return_inverse=True)
    unknown = [name for name in names.tolist() if name not in TIER_THRESHOLDS_KWH]
    if unknown:
        raise ValueError(f"no tier threshold for rate class {unknown[0]!r}")
    # (class, season) table, then one gather: rate classes are few, values many.
    table = np.array([[TIER_THRESHOLDS_KWH[name][s] for s in SEASON_NAMES] for name in names])
    return np.asarray(table[which.reshape(np.shape(rate_class)), _SEASON_OF_MONTH[months]])


def tiered_split(
    kwh_by_month: np.ndarray, rate_class: str | np.ndarray, month: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Split monthly kWh into (tier 1 kWh, tier 2 kWh) at the rate class's threshold that month."""
    kwh = np.asarray(kwh_by_month, dtype=np.float64)
    threshold = tier_threshold_kwh(rate_class, month)
    # A month with net export (negative kWh) has no tier 2: min() leaves it all in tier 1.
    tier1 = np.minimum(kwh, threshold)
    return tier1, kwh - tier1
