"""OEB RPP prices by effective date, and intervals priced piecewise across a price change."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from billing.prices import (
    PRICE_NAMES,
    PRICE_TABLE,
    PriceSet,
    price_intervals,
    price_matrix,
    price_set_on,
)

TZ = ZoneInfo("America/Toronto")
HOUR = 3600
D = dt.date


def utc(year: int, month: int, day: int, hour: int = 0) -> int:
    """UTC epoch seconds of a Toronto wall-clock time."""
    return int(dt.datetime(year, month, day, hour, tzinfo=TZ).timestamp())


def hourly(first: dt.date, last: dt.date) -> np.ndarray:
    """UTC starts of every local hour from ``first`` to ``last`` inclusive (DST days too)."""
    return np.arange(utc(first.year, first.month, first.day), _end(last), HOUR)


def _end(last: dt.date) -> int:
    after = last + dt.timedelta(days=1)
    return utc(after.year, after.month, after.day)


@pytest.mark.parametrize(
    ("day", "effective"),
    [
        (D(2023, 11, 1), D(2023, 11, 1)),
        (D(2024, 10, 31), D(2023, 11, 1)),
        (D(2024, 11, 1), D(2024, 11, 1)),
        (D(2025, 4, 30), D(2024, 11, 1)),
        (D(2025, 5, 1), D(2025, 5, 1)),
        (D(2025, 10, 31), D(2025, 5, 1)),
        (D(2025, 11, 1), D(2025, 11, 1)),
        (D(2027, 6, 1), D(2025, 11, 1)),
    ],
)
def test_price_set_in_effect_on_a_date(day: dt.date, effective: dt.date) -> None:
    assert price_set_on(day).effective == effective


def test_no_price_set_before_the_first_one() -> None:
    with pytest.raises(ValueError, match="2023-10-31"):
        price_set_on(D(2023, 10, 31))


@pytest.mark.parametrize(
    ("effective", "plan", "prices"),
    [
        (D(2023, 11, 1), "tou", (8.7, 12.2, 18.2)),
        (D(2023, 11, 1), "ulo", (2.8, 8.7, 12.2, 28.6)),
        (D(2023, 11, 1), "tiered", (10.3, 12.5)),
        (D(2024, 11, 1), "tou", (7.6, 12.2, 15.8)),
        (D(2024, 11, 1), "ulo", (2.8, 7.6, 12.2, 28.4)),
        (D(2024, 11, 1), "tiered", (9.3, 11.0)),
        (D(2025, 5, 1), "tou", (7.6, 12.2, 15.8)),  # summer hours, same prices
        (D(2025, 11, 1), "tou", (9.8, 15.7, 20.3)),
        (D(2025, 11, 1), "ulo", (3.9, 9.8, 15.7, 39.1)),
        (D(2025, 11, 1), "tiered", (12.0, 14.2)),
    ],
)
def test_oeb_prices_in_cents_per_kwh(
    effective: dt.date, plan: str, prices: tuple[float, ...]
) -> None:
    price_set = price_set_on(effective)
    assert tuple(price_set.price(plan, name) for name in PRICE_NAMES[plan]) == prices


def test_every_price_set_names_its_source_and_prices_every_plan() -> None:
    for price_set in PRICE_TABLE:
        assert "OEB" in price_set.source
        for plan in PRICE_NAMES:
            assert set(price_set.cents_per_kwh[plan]) == set(PRICE_NAMES[plan])
        for flagged in price_set.unverified:
            plan, name = flagged.split(".")
            assert name in PRICE_NAMES[plan]
    assert price_matrix("ulo").shape == (len(PRICE_TABLE), 4)


def test_tou_interval_priced_at_its_period_and_date() -> None:
    starts = np.array([utc(2026, 1, 14, 8), utc(2026, 1, 14, 12), utc(2026, 1, 14, 20)])
    cost = price_intervals(starts, np.array([1.0, 2.0, 10.0]), "tou", TZ)
    assert cost == pytest.approx([0.203, 2 * 0.157, 10 * 0.098])


def test_tou_period_spanning_a_price_change_is_priced_piecewise() -> None:
    # Thu Oct 30 - Mon Nov 3 2025, 1 kWh an hour. Nov 1 brings new prices *and* winter hours.
    starts = hourly(D(2025, 10, 30), D(2025, 11, 3))
    cost = price_intervals(starts, np.ones(starts.size), "tou", TZ)
    # Oct 30 and 31 (summer weekdays, old prices): 12 off, 6 mid, 6 on each.
    october = 2 * (12 * 7.6 + 6 * 12.2 + 6 * 15.8)
    # Nov 1 and 2 (weekend; Nov 2 has 25 hours as DST ends) and Mon Nov 3 (winter weekday).
    november = (24 + 25) * 9.8 + (12 * 9.8 + 6 * 15.7 + 6 * 20.3)
    assert cost.sum() == pytest.approx((october + november) / 100)


def test_interval_priced_by_its_local_start_date_not_its_utc_date() -> None:
    # Oct 31 2025 23:00 local is Nov 1 03:00 UTC: still October's prices.
    starts = np.array([utc(2025, 10, 31, 23), utc(2025, 11, 1, 0)])
    cost = price_intervals(starts, np.ones(2), "tou", TZ)
    assert cost == pytest.approx([0.076, 0.098])


def test_ulo_spanning_a_price_change_is_priced_piecewise() -> None:
    starts = np.array([utc(2025, 10, 31, 17), utc(2025, 10, 31, 23), utc(2025, 11, 3, 17)])
    starts = np.append(starts, [utc(2025, 11, 3, 2), utc(2025, 11, 1, 12), utc(2025, 10, 31, 9)])
    cost = price_intervals(starts, np.ones(starts.size), "ulo", TZ)
    assert cost == pytest.approx([0.284, 0.028, 0.391, 0.039, 0.098, 0.122])


def test_tiered_full_months_split_at_the_seasonal_threshold() -> None:
    # July 2026 (summer, 744 h) and January 2026 (winter, 744 h), 1 kWh an hour, residential.
    july = price_intervals(hourly(D(2026, 7, 1), D(2026, 7, 31)), np.ones(744), "tiered", TZ)
    january = price_intervals(hourly(D(2026, 1, 1), D(2026, 1, 31)), np.ones(744), "tiered", TZ)
    assert july.sum() == pytest.approx((600 * 12.0 + 144 * 14.2) / 100)
    assert january.sum() == pytest.approx(744 * 12.0 / 100)  # under 1,000 kWh: all tier 1


def test_tiered_small_general_service_threshold_is_750_all_year() -> None:
    starts = hourly(D(2026, 1, 1), D(2026, 1, 31))
    cost = price_intervals(starts, np.ones(744), "tiered", TZ, rate_class="gs_lt_50")
    assert cost.sum() == pytest.approx((744 * 12.0) / 100)
    cost = price_intervals(starts, np.full(744, 2.0), "tiered", TZ, rate_class="gs_lt_50")
    assert cost.sum() == pytest.approx((750 * 12.0 + 738 * 14.2) / 100)


def test_tiered_billing_period_across_a_price_change_prorates_and_prices_piecewise() -> None:
    # Oct 16 - Nov 15 2025, 1 kWh an hour: 16 October days (384 kWh, summer, old prices) and
    # 15 November days (361 kWh: Nov 2 has 25 hours; winter, new prices).
    starts = hourly(D(2025, 10, 16), D(2025, 11, 15))
    cost = price_intervals(starts, np.ones(starts.size), "tiered", TZ)
    october_threshold = 600 * 16 / 31
    october = october_threshold * 9.3 + (384 - october_threshold) * 11.0
    november = 361 * 12.0  # threshold 1,000 * 15 / 30 = 500 kWh: all tier 1
    assert cost.sum() == pytest.approx((october + november) / 100)


def test_tiered_month_with_net_export_pays_tier_1_only() -> None:
    starts = hourly(D(2026, 7, 1), D(2026, 7, 2))
    cost = price_intervals(starts, np.full(starts.size, -1.0), "tiered", TZ)
    assert cost.sum() == pytest.approx(-48 * 12.0 / 100)


def test_coordinator_edited_price_table_is_used() -> None:
    first = dataclasses.replace(PRICE_TABLE[0], effective=D(2020, 1, 1))
    table = [first, *PRICE_TABLE]
    cost = price_intervals(np.array([utc(2021, 3, 3, 8)]), np.ones(1), "tou", TZ, table)
    assert cost == pytest.approx([0.182])


def test_price_table_out_of_order_or_incomplete_is_refused() -> None:
    starts, kwh = np.array([utc(2026, 1, 14, 8)]), np.ones(1)
    with pytest.raises(ValueError, match="increasing"):
        price_intervals(starts, kwh, "tou", TZ, list(reversed(PRICE_TABLE)))
    partial = PriceSet(D(2026, 1, 1), {"tou": {"off_peak": 1.0}}, "test")
    with pytest.raises(ValueError, match="mid_peak"):
        price_intervals(starts, kwh, "tou", TZ, [*PRICE_TABLE, partial])


def test_price_intervals_checks_shapes_and_takes_empty_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        price_intervals(np.array([0, 1]), np.ones(3), "tou", TZ)
    empty = np.empty(0, dtype=np.int64)
    assert price_intervals(empty, np.empty(0), "ulo", TZ).shape == (0,)


def test_price_intervals_keeps_a_meters_by_hours_grid() -> None:
    starts = np.tile(hourly(D(2026, 1, 14), D(2026, 1, 14)), (3, 1))
    cost = price_intervals(starts, np.ones(starts.shape), "tou", TZ)
    assert cost.shape == (3, 24)
    assert cost.sum(axis=1) == pytest.approx([(12 * 9.8 + 6 * 15.7 + 6 * 20.3) / 100] * 3)
