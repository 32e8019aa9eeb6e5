"""customers.usage: pure maths over arrays (no database)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from billing.prices import PRICE_TABLE
from customers import usage
from customers.usage import DayBlock, Hours
from meters.reads.day_arrays import IntervalFlag

TZ = ZoneInfo("America/Toronto")
_F = IntervalFlag
DAY = usage.day_number(dt.date(2026, 3, 10))  # a Tuesday, winter


def _hours(values: np.ndarray, first_s: int) -> Hours:
    n = values.size
    return Hours(
        start=first_s + np.arange(n, dtype=np.int64) * 3600,
        kwh=np.asarray(values, float),
        estimated=np.zeros(n, bool),
        missing=np.zeros(n, bool),
    )


def test_quarter_hours_are_summed_into_hours() -> None:
    wh = np.arange(96, dtype=np.int32).reshape(1, 96)
    flags = np.full((1, 96), _F.VALIDATED, np.uint8)
    flags[0, 4] = _F.ESTIMATED  # hour 1 partly estimated
    flags[0, 8:12] = _F.MISSING  # hour 2 wholly missing
    flags[0, 12] = _F.MISSING  # hour 3 partly missing
    block = DayBlock(np.array([DAY]), wh, flags)
    hours = usage.hours_from_days([block], DAY * 86_400, (DAY + 1) * 86_400)
    assert len(hours) == 24
    assert hours.kwh[0] == pytest.approx((0 + 1 + 2 + 3) / 1000)
    assert hours.estimated[1] and not hours.estimated[0]
    assert hours.missing[2] and hours.kwh[2] == 0 and not hours.estimated[2]
    assert hours.estimated[3] and hours.kwh[3] == pytest.approx((13 + 14 + 15) / 1000)


def test_days_outside_the_range_are_left_out_and_two_meters_add_up() -> None:
    ones = np.full((2, 24), 1000, np.int32)
    flags = np.zeros((2, 24), np.uint8)
    a = DayBlock(np.array([DAY, DAY + 1]), ones, flags)
    b = DayBlock(np.array([DAY]), ones[:1] * 2, flags[:1])
    hours = usage.hours_from_days([a, b], DAY * 86_400 + 5 * 3600, (DAY + 1) * 86_400 + 5 * 3600)
    assert len(hours) == 24
    np.testing.assert_allclose(hours.kwh, [3.0] * 19 + [1.0] * 5)


def test_local_day_of_a_spring_forward_has_23_hours() -> None:
    from meters.reads.intervals import local_range_utc

    first, after = local_range_utc(dt.date(2026, 3, 8), dt.date(2026, 3, 8), TZ)
    assert len(usage.hours_from_days([], first, after)) == 23


def test_winter_weekday_periods_and_costs() -> None:
    first, _ = local_day_bounds(dt.date(2026, 3, 10))
    hours = _hours(np.ones(24), first)
    codes = usage.hour_codes(hours, "tou", TZ)
    names = np.array(["off_peak", "mid_peak", "on_peak"])[codes]
    assert names[6] == "off_peak" and names[7] == "on_peak" and names[12] == "mid_peak"
    assert names[18] == "on_peak" and names[19] == "off_peak"
    cost = usage.hour_costs(hours, "tou", TZ, PRICE_TABLE, "residential")
    assert cost[7] == pytest.approx(0.203) and cost[0] == pytest.approx(0.098)


def local_day_bounds(day: dt.date) -> tuple[int, int]:
    from meters.reads.intervals import local_range_utc

    return local_range_utc(day, day, TZ)


def test_grouping_by_day_and_month() -> None:
    first, _ = local_day_bounds(dt.date(2026, 1, 30))
    hours = _hours(np.ones(24 * 4), first)  # Jan 30 .. Feb 2
    codes = usage.hour_codes(hours, "tou", TZ)
    cost = usage.hour_costs(hours, "tou", TZ, PRICE_TABLE, "residential")
    days = range(DAY - 60, DAY)
    daily = usage.by_day(hours, codes, cost, 3, TZ, days)
    assert daily.total_kwh.sum() == pytest.approx(96)
    assert (daily.total_kwh[daily.total_kwh > 0] == 24).all()
    month = usage.month_index(dt.date(2026, 1, 1))
    monthly = usage.by_month(hours, codes, cost, 3, TZ, range(month, month + 2))
    np.testing.assert_allclose(monthly.total_kwh, [48, 48])
    assert monthly.cost.sum() == pytest.approx(cost.sum())


def test_heatmap_is_weekday_by_hour() -> None:
    first, _ = local_day_bounds(dt.date(2026, 3, 9))  # Monday
    values = np.tile(np.arange(24, dtype=float), 7)
    grid = usage.heatmap(_hours(values, first), TZ)
    assert grid.shape == (7, 24)
    np.testing.assert_allclose(grid[0], np.arange(24))
    np.testing.assert_allclose(grid[6], np.arange(24))


def test_base_load_is_the_median_daily_minimum() -> None:
    first, _ = local_day_bounds(dt.date(2026, 3, 9))
    values = np.tile(np.r_[np.full(4, 0.3), np.full(20, 1.0)], 5)
    values[24:28] = 0.5  # one day with a higher night
    assert usage.base_load_kw(_hours(values, first), TZ) == pytest.approx(0.3)


def test_unusual_days_are_found_robustly() -> None:
    totals = np.r_[np.full(20, 20.0) + np.arange(20) * 0.1, 60.0]
    days = np.arange(21) + DAY
    odd = usage.unusual_days(days, totals, np.full(21, 24))
    assert [d for d, _, _ in odd] == [DAY + 20]
    assert usage.unusual_days(days[:5], totals[:5], np.full(5, 24)) == []


def test_shifting_on_peak_use_saves_the_price_difference() -> None:
    first, _ = local_day_bounds(dt.date(2026, 3, 10))
    hours = _hours(np.ones(24), first)
    result = usage.shift_saving(hours, "tou", TZ, PRICE_TABLE, share=0.5, target="off_peak")
    # 6 on-peak hours, half moved: 3 kWh x (20.3 - 9.8) ¢.
    assert result["moved_kwh"] == pytest.approx(3.0)
    assert result["saving"] == pytest.approx(3 * (0.203 - 0.098))
    ulo = usage.shift_saving(hours, "ulo", TZ, PRICE_TABLE, share=1, target="ultra_low_overnight")
    assert ulo["saving"] == pytest.approx(5 * (0.391 - 0.039))
    assert usage.shift_saving(hours, "tou", TZ, PRICE_TABLE, share=0, target="off_peak")[
        "saving"
    ] == pytest.approx(0)


def test_current_period_and_when_it_ends() -> None:
    at = int(dt.datetime(2026, 3, 10, 17, 30, tzinfo=TZ).timestamp())
    period, until = usage.current_period(at, "tou", TZ)
    assert period == "on_peak"
    assert dt.datetime.fromtimestamp(until, TZ).hour == 19
    friday_night = int(dt.datetime(2026, 3, 13, 20, 0, tzinfo=TZ).timestamp())
    period, until = usage.current_period(friday_night, "tou", TZ)
    assert period == "off_peak"  # through the weekend to Monday 7 a.m.
    assert dt.datetime.fromtimestamp(until, TZ) == dt.datetime(2026, 3, 16, 7, tzinfo=TZ)


def test_plan_of_rate_class() -> None:
    assert usage.plan_of("ulo") == "ulo" and usage.plan_of("") == "tou"
    assert usage.shares({"a": 1.0, "b": 3.0}) == {"a": 0.25, "b": 0.75}
