"""OEB Regulated Price Plan prices with effective dates, and pricing of intervals across changes.

Prices are data: ``PRICE_TABLE`` holds the sets published by the Ontario Energy Board (OEB
Regulated Price Plan Price Reports, announced in the OEB's news releases), in ¢/kWh as the OEB
publishes them. The billing models will load coordinator-edited sets into the same
``PriceSet`` shape; these functions take any such table. Each interval is priced at the set in
effect on its local start date, so a billing period that spans a price change is priced
piecewise. Pure: arrays in, arrays out, no Django, no ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from billing.periods import (
    PERIOD_NAMES,
    by_bucket,
    local_day_numbers,
    period_codes,
    tier_threshold_kwh,
)
from portal.calendar.localtime import local_days

_EPOCH = dt.date(1970, 1, 1)

# The names each plan's prices are given under, in code order (tiered: by tier, not by hour).
PRICE_NAMES: dict[str, tuple[str, ...]] = {
    "tou": PERIOD_NAMES["tou"],
    "ulo": PERIOD_NAMES["ulo"],
    "tiered": ("tier1", "tier2"),
}


@dataclass(frozen=True)
class PriceSet:
    """The RPP commodity prices (¢/kWh) of every plan from one effective date on."""

    effective: dt.date  # local date: prices apply to intervals starting on or after it
    cents_per_kwh: Mapping[str, Mapping[str, float]]  # plan -> period or tier -> ¢/kWh
    source: str
    unverified: tuple[str, ...] = field(default=())  # "plan.name" figures not checked at source

    def price(self, plan: str, name: str) -> float:
        """¢/kWh of one period (or tier) of one plan."""
        return self.cents_per_kwh[plan][name]


_RELEASE_2023 = "OEB news release, Oct 2023 (RPP Price Report Nov 1 2023 - Oct 31 2024)"
_RELEASE_2024 = "OEB news release 2024-10-18 (RPP Price Report Nov 1 2024 - Oct 31 2025)"
_RELEASE_2025 = "OEB news release 2025-10-17 (RPP Price Report Nov 1 2025 - Oct 31 2026)"

_PRICES_NOV_2024: dict[str, dict[str, float]] = {
    "tou": {"off_peak": 7.6, "mid_peak": 12.2, "on_peak": 15.8},
    "ulo": {
        "ultra_low_overnight": 2.8,
        "weekend_off_peak": 7.6,
        "mid_peak": 12.2,
        "on_peak": 28.4,
    },
    "tiered": {"tier1": 9.3, "tier2": 11.0},
}

PRICE_TABLE: tuple[PriceSet, ...] = (
    PriceSet(
        effective=dt.date(2023, 11, 1),
        cents_per_kwh={
            "tou": {"off_peak": 8.7, "mid_peak": 12.2, "on_peak": 18.2},
            # ULO figures as quoted from the OEB by LDCs (Alectra, Hydro Hawkesbury).
            "ulo": {
                "ultra_low_overnight": 2.8,
                "weekend_off_peak": 8.7,
                "mid_peak": 12.2,
                "on_peak": 28.6,
            },
            "tiered": {"tier1": 10.3, "tier2": 12.5},
        },
        source=_RELEASE_2023,
    ),
    PriceSet(
        effective=dt.date(2024, 11, 1),
        cents_per_kwh=_PRICES_NOV_2024,  # ULO also as quoted by Hydro Ottawa, RSLU
        source=_RELEASE_2024,
    ),
    # May 1 2025 changed the TOU hours (summer) and the residential tier threshold (600 kWh),
    # not the prices: the Nov 1 2024 prices ran to Oct 31 2025 (OEB sets RPP prices for 12
    # months from Nov 1). Kept as its own set so every seasonal date the issue names is here.
    PriceSet(
        effective=dt.date(2025, 5, 1),
        cents_per_kwh=_PRICES_NOV_2024,
        source=_RELEASE_2024 + "; unchanged on May 1 2025 (summer hours only)",
        unverified=("tiered.tier1", "tiered.tier2"),  # TOU and ULO seen unchanged; tiered inferred
    ),
    PriceSet(
        effective=dt.date(2025, 11, 1),
        cents_per_kwh={
            "tou": {"off_peak": 9.8, "mid_peak": 15.7, "on_peak": 20.3},
            "ulo": {
                "ultra_low_overnight": 3.9,
                "weekend_off_peak": 9.8,
                # Not seen at source: equal to TOU mid-peak as in every earlier set.
                "mid_peak": 15.7,
                # Not seen at source (the copy read was cut off): check the RPP Price Report.
                "on_peak": 39.1,
            },
            "tiered": {"tier1": 12.0, "tier2": 14.2},
        },
        source=_RELEASE_2025,
        unverified=("ulo.mid_peak", "ulo.on_peak"),
    ),
)


def _effective_days(price_table: Sequence[PriceSet]) -> np.ndarray:
    days = np.array([(s.effective - _EPOCH).days for s in price_table], dtype=np.int64)
    if days.size == 0 or (np.diff(days) <= 0).any():
        raise ValueError("a price table needs price sets in strictly increasing effective order")
    return days


def price_matrix(plan: str, price_table: Sequence[PriceSet] = PRICE_TABLE) -> np.ndarray:
    """(price set, period or tier) array of ¢/kWh of ``plan``, in PRICE_NAMES[plan] order."""
    if plan not in PRICE_NAMES:
        raise ValueError(f"unknown price plan {plan!r}")
    names = PRICE_NAMES[plan]
    rows = []
    for price_set in price_table:
        prices = price_set.cents_per_kwh.get(plan, {})
        missing = [name for name in names if name not in prices]
        if missing:
            raise ValueError(f"price set of {price_set.effective} has no {plan} {missing[0]}")
        rows.append([prices[name] for name in names])
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def price_set_index(local_days: np.ndarray, price_table: Sequence[PriceSet]) -> np.ndarray:
    """Index of the price set in effect on each local day (int days since 1970-01-01)."""
    days = np.asarray(local_days, dtype=np.int64)
    effective = _effective_days(price_table)
    index = np.searchsorted(effective, days, side="right") - 1
    if days.size and int(days.min()) < effective[0]:
        first = _EPOCH + dt.timedelta(days=int(days.min()))
        raise ValueError(f"no price set in effect on {first} (earliest {price_table[0].effective})")
    return index


def price_set_on(day: dt.date, price_table: Sequence[PriceSet] = PRICE_TABLE) -> PriceSet:
    """The price set in effect on local date ``day``."""
    index = price_set_index(np.array([(day - _EPOCH).days]), price_table)
    return price_table[int(index[0])]


def price_intervals(
    utc_start: np.ndarray,
    kwh: np.ndarray,
    plan: str,
    tz: ZoneInfo,
    price_table: Sequence[PriceSet] = PRICE_TABLE,
    *,
    rate_class: str = "residential",
) -> np.ndarray:
    """Cost in dollars of each interval, at the prices in effect on its local start date.

    TOU and ULO: the price of the interval's period; intervals may be of many meters (any
    shape). Tiered: the intervals are one account's, since the tiers depend on its monthly
    total; each local calendar month's kWh is split at the rate class's threshold (see
    ``_tiered_dollars_per_kwh``) and every interval of the month pays that tier-1/tier-2 mix at
    its own date's prices.
    """
    utc = np.asarray(utc_start, dtype=np.int64)
    energy = np.asarray(kwh, dtype=np.float64)
    if utc.shape != energy.shape:
        raise ValueError("utc_start and kwh differ in shape")
    dollars = price_matrix(plan, price_table) / 100.0  # $/kWh, (price set, period or tier)
    if utc.size == 0:
        return np.zeros(utc.shape)
    if plan == "tiered":
        per_kwh = _tiered_dollars_per_kwh(utc, energy, tz, dollars, price_table, rate_class)
    else:

        def rate(instants: np.ndarray) -> np.ndarray:
            which = price_set_index(local_days(instants, tz), price_table)
            return dollars[which, period_codes(instants, plan, tz)]

        # The rate depends on the local hour and date only: one gather per interval.
        per_kwh = by_bucket(utc, tz, rate)
    return energy * per_kwh


def _tiered_dollars_per_kwh(
    utc: np.ndarray,
    energy: np.ndarray,
    tz: ZoneInfo,
    dollars: np.ndarray,
    price_table: Sequence[PriceSet],
    rate_class: str,
) -> np.ndarray:
    """Per interval, the $/kWh of its month's tier mix at its own date's prices.

    Billing periods are seldom calendar months, so each month's threshold is prorated by the
    share of that month's days the intervals span (first to last local day present): a full
    month gets the whole monthly threshold, half a month half of it.
    """
    relative = local_day_numbers(utc, tz).reshape(-1)
    low = int(relative.min())
    relative -= low  # in place: days from the first one
    span = np.arange(low, low + int(relative.max()) + 1)
    month_of_day = span.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first_month = int(month_of_day[0])
    months = np.arange(first_month, int(month_of_day[-1]) + 1)
    sets = len(price_table)
    # Each day's (month, price set) pair as one key: totals and rates are per key, and the
    # keys are few, so each interval costs one gather.
    key_of_day = (month_of_day - first_month) * sets + price_set_index(span, price_table)
    key = key_of_day[relative]
    totals = np.bincount(key, energy.reshape(-1), months.size * sets).reshape(-1, sets).sum(1)
    present = np.zeros(span.size, dtype=bool)
    present[relative] = True
    share = _tier1_share(totals, _threshold(rate_class, months, month_of_day, present))
    per_key = share[:, None] * dollars[None, :, 0] + (1.0 - share[:, None]) * dollars[None, :, 1]
    return per_key.reshape(-1)[key].reshape(utc.shape)


def _threshold(
    rate_class: str, months: np.ndarray, month_of_day: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Tier-1 kWh of each month, prorated by the days of it the intervals span."""
    present_days = np.flatnonzero(present)  # sorted, from the first day
    present_month = month_of_day[present_days]
    left = np.searchsorted(present_month, months, "left")
    right = np.searchsorted(present_month, months, "right")
    last = present_days.size - 1  # a month without intervals (a gap) has left == right
    spanned = present_days[np.minimum(right - 1, last)] - present_days[np.minimum(left, last)] + 1
    month_starts = np.arange(months[0], months[-1] + 2).astype("datetime64[M]")
    month_days = np.diff(month_starts.astype("datetime64[D]").astype(np.int64))
    threshold = tier_threshold_kwh(rate_class, months % 12 + 1)
    return threshold * np.where(right > left, spanned, month_days) / month_days


def _tier1_share(totals: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """The tier-1 share of each month's kWh."""
    # A month with no net consumption pays tier 1 on whatever it has (never a negative tier 2).
    safe = np.where(totals > 0, totals, 1.0)
    return np.where(totals > 0, np.minimum(totals, threshold) / safe, 1.0)


def _next_rpp_change(day: dt.date) -> dt.date:
    """The first RPP price change after ``day``: the OEB sets RPP prices each May 1 and Nov 1
    (OEB RPP Manual / Regulated Price Plan Price Report, semi-annual price setting)."""
    if day < dt.date(day.year, 5, 1):
        return dt.date(day.year, 5, 1)
    if day < dt.date(day.year, 11, 1):
        return dt.date(day.year, 11, 1)
    return dt.date(day.year + 1, 5, 1)


def stale_price_warning(
    start: dt.date, end: dt.date, price_table: Sequence[PriceSet]
) -> dict[str, str] | None:
    """A warning when a priced date in start..end is not covered by any OEB price set: before
    the first one, or on or after the RPP change following the newest (its term has ended)."""
    if not price_table:
        return {"code": "no_price_set", "message": "no OEB price set is loaded"}
    first = min(s.effective for s in price_table)
    newest = max(s.effective for s in price_table)
    covered_until = _next_rpp_change(newest)  # exclusive
    if start < first or end >= covered_until:
        return {
            "code": "stale_prices",
            "message": (
                f"no OEB price set covers every date of {start}..{end}: the sets cover "
                f"{first}..{covered_until - dt.timedelta(days=1)}; load the RPP prices in "
                f"effect from {covered_until if end >= covered_until else first}"
            ),
        }
    return None
