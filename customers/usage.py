"""A customer's usage as numpy arrays: hours from stored days, periods, costs, insights.

Pure: arrays in, arrays out, no Django, no ORM (tested without a database). The pages load an
SDP's stored days once (customers.selectors.sdp_days) and every figure on the page comes from
the hourly arrays built here: one query for the reads, whatever the page shows.

Hours are UTC hours (every OEB period boundary and every local midnight in use is on a UTC
hour); local time is applied with billing.periods / meters.localtime when grouping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from billing.periods import PERIOD_NAMES, local_clock, period_codes
from billing.prices import PRICE_NAMES, PriceSet, price_intervals, price_matrix, price_set_index
from meters.reads.day_arrays import IntervalFlag
from portal.calendar.localtime import local_days

HOUR_S = 3_600
DAY_S = 86_400
_EPOCH = dt.date(1970, 1, 1)
_MISSING = np.uint8(IntervalFlag.MISSING)
_ESTIMATED = np.uint8(IntervalFlag.ESTIMATED)

# Ontario's typical residential split of kWh by TOU period (OEB RPP price setting assumption).
TYPICAL_TOU_SHARE: dict[str, float] = {"off_peak": 0.65, "mid_peak": 0.17, "on_peak": 0.18}
PLAN_OF_RATE_CLASS = {"tou": "tou", "ulo": "ulo", "tiered": "tiered"}


def plan_of(commodity_rate_class: str) -> str:
    """The RPP plan of an SDP's commodity rate class (TOU when not set)."""
    return PLAN_OF_RATE_CLASS.get(commodity_rate_class or "", "tou")


@dataclass
class DayBlock:
    """Stored days of one interval length: UTC day numbers and (K, n) current values and flags."""

    day: np.ndarray  # int64 (K,)
    wh: np.ndarray  # int32 (K, n)
    flags: np.ndarray  # uint8 (K, n)


@dataclass
class Hours:
    """Consecutive UTC hours [first, first + H h): kWh, and which are estimated or missing."""

    start: np.ndarray  # int64 (H,) UTC epoch s
    kwh: np.ndarray  # float64 (H,), 0 where missing
    estimated: np.ndarray  # bool (H,): some of the hour is estimated (or partly missing)
    missing: np.ndarray  # bool (H,): no value at all for the hour

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def select(self, mask: np.ndarray | slice) -> Hours:
        return Hours(self.start[mask], self.kwh[mask], self.estimated[mask], self.missing[mask])

    def between(self, first_s: int, after_s: int) -> Hours:
        return self.select((self.start >= first_s) & (self.start < after_s))


def hours_from_days(blocks: Sequence[DayBlock], first_s: int, after_s: int) -> Hours:
    """Hourly kWh over [first_s, after_s) from stored days of any lengths dividing an hour.

    Sub-hourly days are summed with a reshape (K, 24, per-hour); meters exchanged within a day
    add up (bincount). An hour with no valid slot is missing; one with an estimated slot, or
    with some slots missing, is estimated.
    """
    first_s -= first_s % HOUR_S
    count = max(0, -(-(after_s - first_s) // HOUR_S))
    wh = np.zeros(count)
    valid = np.zeros(count, np.int64)
    expected = np.zeros(count, np.int64)
    estimated = np.zeros(count, np.int64)
    for block in blocks:
        if not len(block.day):
            continue
        k, n = block.wh.shape
        if n % 24:  # intervals longer than an hour: not hourly data, left out of hourly views
            continue
        per = n // 24
        good = (block.flags & _MISSING) == 0
        sums = np.where(good, block.wh, 0).reshape(k, 24, per).sum(axis=2, dtype=np.int64)
        goods = good.reshape(k, 24, per).sum(axis=2)
        ests = ((block.flags & _ESTIMATED) != 0).reshape(k, 24, per).any(axis=2)
        index = (block.day[:, None] * DAY_S + np.arange(24) * HOUR_S - first_s) // HOUR_S
        inside = (index >= 0) & (index < count)
        at = index[inside]
        wh += np.bincount(at, sums[inside], count)
        valid += np.bincount(at, goods[inside], count).astype(np.int64)
        expected += np.bincount(at, minlength=count) * per
        estimated += np.bincount(at, ests[inside], count).astype(np.int64)
    missing = valid == 0
    partial = (valid > 0) & (valid < expected)
    return Hours(
        start=first_s + np.arange(count, dtype=np.int64) * HOUR_S,
        kwh=wh / 1000.0,
        estimated=((estimated > 0) | partial) & ~missing,
        missing=missing,
    )


# --- periods and costs ---------------------------------------------------------------------


def hour_codes(hours: Hours, plan: str, tz: ZoneInfo) -> np.ndarray:
    """Price-period code (index into PERIOD_NAMES[plan]) of each hour."""
    return period_codes(hours.start, plan, tz)


def hour_costs(
    hours: Hours, plan: str, tz: ZoneInfo, table: Sequence[PriceSet], rate_class: str
) -> np.ndarray:
    """Dollars of each hour under ``plan`` at the prices in effect that day (0 where missing)."""
    if not len(hours):
        return np.zeros(0)
    return price_intervals(
        hours.start, hours.kwh, plan, tz, table, rate_class=rate_class or "residential"
    )


def rates_per_kwh(hours: Hours, plan: str, tz: ZoneInfo, table: Sequence[PriceSet]) -> np.ndarray:
    """$/kWh of each hour's period under a time-of-use plan (TOU or ULO)."""
    if not len(hours):
        return np.zeros(0)
    dollars = price_matrix(plan, table) / 100.0
    which = price_set_index(local_days(hours.start, tz), table)
    return dollars[which, period_codes(hours.start, plan, tz)]


@dataclass
class Grouped:
    """Totals per group (local day or month) and period; cost and estimated kWh per group."""

    keys: np.ndarray  # int64 (G,): local day numbers, or months since 1970-01
    kwh: np.ndarray  # float64 (G, P)
    cost: np.ndarray  # float64 (G,)
    estimated_kwh: np.ndarray  # float64 (G,)
    hours: np.ndarray  # int64 (G,): hours with a value

    @property
    def total_kwh(self) -> np.ndarray:
        return self.kwh.sum(axis=1)


def group_hours(
    hours: Hours,
    codes: np.ndarray,
    cost: np.ndarray,
    n_periods: int,
    keys: np.ndarray,
    all_keys: np.ndarray,
) -> Grouped:
    """Sum kWh by (group key, period), cost and estimated kWh by key, over ``all_keys``."""
    g = len(all_keys)
    at = np.searchsorted(all_keys, keys)
    ok = (at < g) & (all_keys[np.minimum(at, g - 1)] == keys) if g else np.zeros(0, bool)
    at, codes = at[ok], np.asarray(codes)[ok]
    kwh, est = hours.kwh[ok], hours.estimated[ok]
    by_period = np.bincount(at * n_periods + codes, kwh, g * n_periods).reshape(g, n_periods)
    return Grouped(
        keys=all_keys,
        kwh=by_period,
        cost=np.bincount(at, cost[ok], g),
        estimated_kwh=np.bincount(at, np.where(est, kwh, 0.0), g),
        hours=np.bincount(at, ~hours.missing[ok], g).astype(np.int64),
    )


def local_day_keys(hours: Hours, tz: ZoneInfo) -> np.ndarray:
    """Local day number of each hour."""
    return local_days(hours.start, tz)


def month_keys(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of local day numbers."""
    return np.asarray(days, np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(int)


def by_day(
    hours: Hours, codes: np.ndarray, cost: np.ndarray, n_periods: int, tz: ZoneInfo, days: range
) -> Grouped:
    """Totals per local day of ``days`` (day numbers)."""
    all_keys = np.arange(days.start, days.stop, dtype=np.int64)
    return group_hours(hours, codes, cost, n_periods, local_day_keys(hours, tz), all_keys)


def by_month(
    hours: Hours, codes: np.ndarray, cost: np.ndarray, n_periods: int, tz: ZoneInfo, months: range
) -> Grouped:
    """Totals per local calendar month of ``months`` (months since 1970-01)."""
    all_keys = np.arange(months.start, months.stop, dtype=np.int64)
    keys = month_keys(local_day_keys(hours, tz))
    return group_hours(hours, codes, cost, n_periods, keys, all_keys)


def period_totals(kwh: np.ndarray, codes: np.ndarray, plan: str) -> dict[str, float]:
    """kWh per period name of ``plan``."""
    names = PERIOD_NAMES[plan]
    sums = np.bincount(np.asarray(codes, np.int64), kwh, len(names))
    return dict(zip(names, sums.tolist(), strict=True))


# --- shape of use ----------------------------------------------------------------------------


def heatmap(hours: Hours, tz: ZoneInfo) -> np.ndarray:
    """Mean kWh by local weekday (0 Monday) x local hour (7 x 24); NaN where no data."""
    ok = ~hours.missing
    days, hour = local_clock(hours.start[ok], tz)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    key = weekday * 24 + hour
    sums = np.bincount(key, hours.kwh[ok], 7 * 24)
    counts = np.bincount(key, minlength=7 * 24)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).reshape(7, 24)


def daily_minimum(hours: Hours, tz: ZoneInfo, min_hours: int = 20) -> np.ndarray:
    """Each local day's lowest hourly kWh (days with at least ``min_hours`` values)."""
    ok = ~hours.missing
    if not ok.any():
        return np.zeros(0)
    days = local_day_keys(hours, tz)[ok]
    kwh = hours.kwh[ok]
    order = np.lexsort((kwh, days))
    days, kwh = days[order], kwh[order]
    first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    counts = np.diff(np.r_[first, days.size])
    return kwh[first][counts >= min_hours]


def base_load_kw(hours: Hours, tz: ZoneInfo) -> float | None:
    """The always-on load (kW): the median of each day's lowest hour (kWh in an hour = mean kW)."""
    minima = daily_minimum(hours, tz)
    return float(np.median(minima)) if minima.size else None


def unusual_days(
    days: np.ndarray, totals: np.ndarray, hours: np.ndarray, *, threshold: float = 3.5
) -> list[tuple[int, float, float]]:
    """(day, kWh, typical kWh) of complete days far from the usual (robust z-score > threshold).

    The typical day is the median of complete days; the spread the median absolute deviation,
    so one very odd day does not hide another. A day must also be 40 % off the median.
    """
    full = hours >= 23
    if full.sum() < 7:
        return []
    values = totals[full]
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * 1.4826 or 1e-9
    score = np.abs(totals - median) / mad
    odd = full & (score > threshold) & (np.abs(totals - median) > 0.4 * median)
    picks = np.flatnonzero(odd)
    picks = picks[np.argsort(-score[picks])][:5]
    return [(int(days[i]), float(totals[i]), median) for i in sorted(picks.tolist())]


def shares(totals: dict[str, float]) -> dict[str, float]:
    """Each name's share of the total (0 when nothing was used)."""
    whole = sum(totals.values())
    return {name: (value / whole if whole > 0 else 0.0) for name, value in totals.items()}


# --- what if ---------------------------------------------------------------------------------


def shift_saving(
    hours: Hours,
    plan: str,
    tz: ZoneInfo,
    table: Sequence[PriceSet],
    *,
    share: float,
    target: str,
) -> dict[str, float]:
    """Move ``share`` of every on-peak hour's kWh to ``target`` (a period of ``plan``) that day.

    Each moved kWh stops paying its on-peak price and pays the target period's price of the
    same price set. Returns the kWh moved, the cost before and after, and the saving ($).
    """
    if plan not in ("tou", "ulo"):
        raise ValueError("a shift needs a time-of-use plan")
    names = PERIOD_NAMES[plan]
    share = float(min(max(share, 0.0), 1.0))
    if not len(hours):
        return {"moved_kwh": 0.0, "before": 0.0, "after": 0.0, "saving": 0.0}
    dollars = price_matrix(plan, table) / 100.0
    which = price_set_index(local_days(hours.start, tz), table)
    codes = period_codes(hours.start, plan, tz)
    rate = dollars[which, codes]
    on = codes == names.index("on_peak")
    moved = np.where(on, hours.kwh * share, 0.0)
    target_rate = dollars[which, names.index(target)]
    before = float((hours.kwh * rate).sum())
    saving = float((moved * (rate - target_rate)).sum())
    return {
        "moved_kwh": float(moved.sum()),
        "before": before,
        "after": before - saving,
        "saving": saving,
    }


# --- the clock ---------------------------------------------------------------------------------


def current_period(now_s: int, plan: str, tz: ZoneInfo) -> tuple[str, int]:
    """The period of ``plan`` at ``now_s`` and the UTC second it ends (searching 8 days)."""
    hour = now_s - now_s % HOUR_S
    starts = hour + np.arange(8 * 24, dtype=np.int64) * HOUR_S
    codes = period_codes(starts, plan, tz)
    change = np.flatnonzero(codes != codes[0])
    until = int(starts[change[0]]) if change.size else int(starts[-1] + HOUR_S)
    return PERIOD_NAMES[plan][int(codes[0])], until


def price_names(plan: str) -> tuple[str, ...]:
    return PRICE_NAMES[plan]


def local_date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(day))


def day_number(date: dt.date) -> int:
    return (date - _EPOCH).days


def month_start(month: int) -> dt.date:
    """First date of a month given as months since 1970-01."""
    return dt.date(1970 + month // 12, month % 12 + 1, 1)


def month_index(date: dt.date) -> int:
    return (date.year - 1970) * 12 + date.month - 1
