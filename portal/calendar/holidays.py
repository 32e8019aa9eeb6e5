"""Ontario RPP time-of-use holidays: the days priced off-peak (TOU) and weekend off-peak (ULO).

The OEB prices ten holidays like weekends (OEB Regulated Price Plan Manual, definition of
"holiday" for TOU pricing; the OEB's yearly "Holiday Schedule for Time-of-Use Prices"). The list
is the OEB's, not the statutory one: the Civic Holiday is in it, while Easter Monday, Remembrance
Day and the National Day for Truth and Reconciliation are not. When a holiday falls on a weekend,
the next weekday that is not itself a holiday is priced as the holiday instead (Christmas on
Saturday 2021 -> Monday 27, Boxing Day on Sunday -> Tuesday 28). Pure: no Django, no ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache

import numpy as np

_EPOCH = dt.date(1970, 1, 1)
_MONDAY = 0
_SATURDAY = 5
# Beyond this many days the lookup table of holiday_mask would be wasteful: use np.isin instead.
_TABLE_LIMIT_DAYS = 400 * 366


def easter_sunday(year: int) -> dt.date:
    """Easter Sunday of ``year`` (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th (1-based) ``weekday`` (Monday 0) of ``month``."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _victoria_day(year: int) -> dt.date:
    # The Monday before May 25: the last Monday on or before May 24.
    may_24 = dt.date(year, 5, 24)
    return may_24 - dt.timedelta(days=may_24.weekday() - _MONDAY)


# The ten RPP holidays as data: name -> the rule giving its calendar date in a year.
HOLIDAY_RULES: dict[str, Callable[[int], dt.date]] = {
    "New Year's Day": lambda year: dt.date(year, 1, 1),
    "Family Day": lambda year: nth_weekday(year, 2, _MONDAY, 3),
    "Good Friday": lambda year: easter_sunday(year) - dt.timedelta(days=2),
    "Victoria Day": _victoria_day,
    "Canada Day": lambda year: dt.date(year, 7, 1),
    "Civic Holiday": lambda year: nth_weekday(year, 8, _MONDAY, 1),
    "Labour Day": lambda year: nth_weekday(year, 9, _MONDAY, 1),
    "Thanksgiving": lambda year: nth_weekday(year, 10, _MONDAY, 2),
    "Christmas Day": lambda year: dt.date(year, 12, 25),
    "Boxing Day": lambda year: dt.date(year, 12, 26),
}


@lru_cache(maxsize=512)
def _observed(year: int) -> tuple[tuple[dt.date, str], ...]:
    """(observed date, name) of each holiday of ``year``, in date order."""
    actual = sorted((rule(year), name) for name, rule in HOLIDAY_RULES.items())
    # Weekday holidays hold their own dates first, so a weekend holiday cannot move onto one
    # (Christmas Sunday 2022 -> Tuesday 27, since Boxing Day is Monday 26).
    taken = {day for day, _ in actual if day.weekday() < _SATURDAY}
    observed = []
    for day, name in actual:  # date order: Christmas moves before Boxing Day does
        if day.weekday() >= _SATURDAY:
            while day.weekday() >= _SATURDAY or day in taken:
                day += dt.timedelta(days=1)
            taken.add(day)
        observed.append((day, name))
    return tuple(sorted(observed))


def tou_holidays(year: int) -> dict[dt.date, str]:
    """The days of ``year`` priced as holidays (moved off weekends), with the holiday's name."""
    return dict(_observed(year))


@lru_cache(maxsize=512)
def _holiday_day_numbers(year: int) -> np.ndarray:
    days = np.array([(day - _EPOCH).days for day, _ in _observed(year)], dtype=np.int64)
    days.setflags(write=False)  # cached and shared: nobody may change it
    return days


def holiday_days(first_year: int, last_year: int) -> np.ndarray:
    """Sorted day numbers (days since 1970-01-01) of the TOU holidays of the years given."""
    parts = [_holiday_day_numbers(year) for year in range(first_year, last_year + 1)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _year_of(day: int) -> int:
    return (_EPOCH + dt.timedelta(days=day)).year


def holiday_mask(local_days: np.ndarray) -> np.ndarray:
    """Which local days (int days since 1970-01-01, any shape) are TOU holidays."""
    days = np.asarray(local_days, dtype=np.int64)
    if days.size == 0:
        return np.zeros(days.shape, dtype=bool)
    low, high = int(days.min()), int(days.max())
    holidays = holiday_days(_year_of(low), _year_of(high))
    if high - low > _TABLE_LIMIT_DAYS:
        return np.isin(days, holidays)
    # One gather from a small per-day table is far faster than np.isin on millions of values.
    table = np.zeros(high - low + 1, dtype=bool)
    inside = holidays[(holidays >= low) & (holidays <= high)]
    table[inside - low] = True
    return table[days - low]


def weekend_mask(local_days: np.ndarray) -> np.ndarray:
    """Which local days (int days since 1970-01-01) are a Saturday or a Sunday."""
    # 1970-01-01 was a Thursday: (day + 3) % 7 numbers Monday 0 ... Sunday 6.
    return (np.asarray(local_days, dtype=np.int64) + 3) % 7 >= _SATURDAY


def business_days(start: dt.date, count: int) -> list[dt.date]:
    """``count`` Ontario business days from ``start`` on (no weekend, no statutory holiday)."""
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5 and day not in tou_holidays(day.year):
            days.append(day)
        day += dt.timedelta(days=1)
    return days
