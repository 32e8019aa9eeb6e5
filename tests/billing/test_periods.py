"""TOU and ULO price periods in local time (seasons, weekends, holidays, DST) and tier splits."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from billing import periods
from billing.periods import (
    PERIOD_NAMES,
    SEASON_NAMES,
    local_clock,
    local_day_numbers,
    period_codes,
    period_kwh,
    season_codes,
    tier_threshold_kwh,
    tiered_split,
)
from portal.calendar.holidays import tou_holidays

TZ = ZoneInfo("America/Toronto")
HOUR = 3600


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> int:
    """UTC epoch seconds of a Toronto wall-clock time."""
    return int(dt.datetime(year, month, day, hour, minute, fold=fold, tzinfo=TZ).timestamp())


def names(plan: str, instants: list[int] | np.ndarray) -> list[str]:
    codes = period_codes(np.asarray(instants, dtype=np.int64), plan, TZ)
    return [PERIOD_NAMES[plan][code] for code in codes.tolist()]


def day_hours(year: int, month: int, day: int) -> list[int]:
    """The UTC starts of the 24 local hours of an ordinary (non-DST-change) day."""
    return [utc(year, month, day) + h * HOUR for h in range(24)]


OFF, MID, ON = "off_peak", "mid_peak", "on_peak"
ULO, WKND = "ultra_low_overnight", "weekend_off_peak"

# Hour by hour, 00:00 to 23:00 local (OEB RPP price periods).
TOU_WINTER_WEEKDAY = [OFF] * 7 + [ON] * 4 + [MID] * 6 + [ON] * 2 + [OFF] * 5
TOU_SUMMER_WEEKDAY = [OFF] * 7 + [MID] * 4 + [ON] * 6 + [MID] * 2 + [OFF] * 5
ULO_WEEKDAY = [ULO] * 7 + [MID] * 9 + [ON] * 5 + [MID] * 2 + [ULO]
ULO_WEEKEND = [ULO] * 7 + [WKND] * 16 + [ULO]


def test_tou_winter_weekday_periods_hour_by_hour() -> None:
    assert names("tou", day_hours(2026, 1, 14)) == TOU_WINTER_WEEKDAY  # a Wednesday


def test_tou_summer_weekday_periods_hour_by_hour() -> None:
    assert names("tou", day_hours(2026, 7, 15)) == TOU_SUMMER_WEEKDAY  # a Wednesday


@pytest.mark.parametrize("day", [(2026, 1, 14), (2026, 7, 15)])
def test_ulo_weekday_periods_are_the_same_in_both_seasons(day: tuple[int, int, int]) -> None:
    assert names("ulo", day_hours(*day)) == ULO_WEEKDAY


@pytest.mark.parametrize("day", [(2026, 1, 17), (2026, 1, 18), (2026, 7, 18), (2026, 7, 19)])
def test_weekends_are_off_peak_all_day(day: tuple[int, int, int]) -> None:
    assert names("tou", day_hours(*day)) == [OFF] * 24
    assert names("ulo", day_hours(*day)) == ULO_WEEKEND


def test_quarter_hour_intervals_take_the_period_of_their_start() -> None:
    starts = [utc(2026, 1, 14, 6, 45), utc(2026, 1, 14, 7), utc(2026, 1, 14, 10, 45)]
    starts += [utc(2026, 1, 14, 11), utc(2026, 1, 14, 18, 45), utc(2026, 1, 14, 19)]
    assert names("tou", starts) == [OFF, ON, ON, MID, ON, OFF]


WEEKDAY_HOLIDAYS = [
    day for year in (2024, 2025, 2026, 2027) for day in tou_holidays(year) if day.weekday() < 5
]


@pytest.mark.parametrize("day", WEEKDAY_HOLIDAYS, ids=str)
def test_holidays_are_priced_like_weekends(day: dt.date) -> None:
    hours = day_hours(day.year, day.month, day.day)
    assert names("tou", hours) == [OFF] * 24
    assert names("ulo", hours) == ULO_WEEKEND


@pytest.mark.parametrize(
    ("day", "hour", "expected"),
    [
        ((2026, 4, 6), 8, ON),  # Easter Monday: winter weekday
        ((2026, 11, 11), 8, ON),  # Remembrance Day: winter weekday
        ((2026, 9, 30), 12, ON),  # Truth and Reconciliation Day: summer weekday
    ],
)
def test_days_that_are_not_tou_holidays_are_weekdays(
    day: tuple[int, int, int], hour: int, expected: str
) -> None:
    assert names("tou", [utc(*day, hour)]) == [expected]
    assert names("ulo", [utc(*day, 17)]) == [ON]


def test_holidays_moved_off_a_weekend_are_off_peak_and_the_next_day_is_not() -> None:
    starts = [utc(2021, 12, 27, 8), utc(2021, 12, 28, 8), utc(2021, 12, 29, 8)]  # Christmas 2021
    starts += [utc(2022, 1, 3, 8), utc(2022, 1, 4, 8)]  # New Year 2022 (Saturday)
    starts += [utc(2023, 7, 3, 12), utc(2023, 7, 4, 12)]  # Canada Day 2023 (Saturday)
    assert names("tou", starts) == [OFF, OFF, ON, OFF, ON, OFF, ON]


def test_spring_forward_day_has_23_hours_all_off_peak() -> None:
    # 2026-03-08, a Sunday: 02:00 EST jumps to 03:00 EDT.
    start, end = utc(2026, 3, 8), utc(2026, 3, 9)
    hours = np.arange(start, end, HOUR)
    assert hours.size == 23
    assert local_clock(hours, TZ)[1].tolist() == [0, 1] + list(range(3, 24))
    assert names("tou", hours) == [OFF] * 23
    assert names("ulo", hours) == [ULO] * 6 + [WKND] * 16 + [ULO]


def test_fall_back_day_has_25_hours_all_off_peak() -> None:
    # 2026-11-01, a Sunday: 02:00 EDT falls back to 01:00 EST; 01:00 comes twice.
    start, end = utc(2026, 11, 1), utc(2026, 11, 2)
    hours = np.arange(start, end, HOUR)
    assert hours.size == 25
    assert local_clock(hours, TZ)[1].tolist() == [0, 1, 1] + list(range(2, 24))
    assert names("tou", hours) == [OFF] * 25
    assert names("ulo", hours) == [ULO] * 8 + [WKND] * 16 + [ULO]


def test_weekday_after_spring_forward_uses_daylight_time() -> None:
    # Friday before (EST, UTC-5): 07:00 local is 12:00 UTC. Monday after (EDT, UTC-4): 11:00 UTC.
    friday = [int(np.datetime64(f"2026-03-06T{h}:00", "s").astype(np.int64)) for h in (11, 12)]
    monday = [int(np.datetime64(f"2026-03-09T{h}:00", "s").astype(np.int64)) for h in (10, 11)]
    assert friday == [utc(2026, 3, 6, 6), utc(2026, 3, 6, 7)]
    assert monday == [utc(2026, 3, 9, 6), utc(2026, 3, 9, 7)]
    assert names("tou", friday + monday) == [OFF, ON, OFF, ON]


def test_weekday_after_fall_back_uses_standard_time_and_winter_hours() -> None:
    # Friday before (EDT, summer): 07:00 local = 11:00 UTC is mid-peak, 11:00 local on-peak.
    friday = [int(np.datetime64(f"2026-10-30T{h}:00", "s").astype(np.int64)) for h in (11, 15)]
    # Monday after (EST, winter): 07:00 local = 12:00 UTC is on-peak, 06:00 local off-peak.
    monday = [int(np.datetime64(f"2026-11-02T{h}:00", "s").astype(np.int64)) for h in (11, 12)]
    assert names("tou", friday + monday) == [MID, ON, OFF, ON]


def test_seasons_change_at_local_midnight() -> None:
    instants = np.array(
        [
            utc(2026, 5, 1) - 1,  # Apr 30 23:59:59 EDT = May 1 03:59:59 UTC: still winter
            utc(2026, 5, 1),
            utc(2026, 11, 1) - 1,  # Oct 31 23:59:59 EDT: still summer
            utc(2026, 11, 1),
        ]
    )
    seasons = season_codes(local_day_numbers(instants, TZ))
    assert [SEASON_NAMES[s] for s in seasons.tolist()] == ["winter", "summer", "summer", "winter"]


def test_tou_hours_change_with_the_season() -> None:
    # 2026: Thu Apr 30 / Fri May 1. 2024: Thu Oct 31 / Fri Nov 1.
    starts = [utc(2026, 4, 30, 7), utc(2026, 5, 1, 7), utc(2026, 4, 30, 11), utc(2026, 5, 1, 11)]
    starts += [utc(2024, 10, 31, 7), utc(2024, 11, 1, 7), utc(2024, 10, 31, 17)]
    starts += [utc(2024, 11, 1, 17), utc(2024, 10, 31, 23)]  # 23:00 Oct 31 is Nov 1 in UTC
    assert names("tou", starts) == [ON, MID, MID, ON, MID, ON, MID, ON, OFF]


def reference_period(instant: int, plan: str) -> str:
    """One interval's period the slow way, straight from the OEB rules."""
    local = dt.datetime.fromtimestamp(instant, TZ)
    day, hour = local.date(), local.hour
    off_day = day.weekday() >= 5 or day in tou_holidays(day.year)
    if plan == "ulo":
        if hour >= 23 or hour < 7:
            return ULO
        return WKND if off_day else ON if 16 <= hour < 21 else MID
    if off_day or hour < 7 or hour >= 19:
        return OFF
    morning_evening = hour < 11 or hour >= 17
    if 5 <= day.month <= 10:
        return MID if morning_evening else ON
    return ON if morning_evening else MID


@pytest.mark.parametrize("plan", ["tou", "ulo"])
def test_vectorised_periods_match_the_rules_for_dense_and_sparse_instants(plan: str) -> None:
    rng = np.random.default_rng(5)
    low, high = utc(2023, 1, 1), utc(2028, 1, 1)
    sparse = rng.integers(low, high, 400)  # direct path: fewer instants than quarter hours
    dense = np.arange(utc(2025, 12, 20), utc(2026, 1, 10), 900)  # bucket path
    for instants in (sparse, dense):
        expected = [reference_period(int(t), plan) for t in instants]
        assert names(plan, instants) == expected


def test_period_codes_keep_the_input_shape() -> None:
    grid = np.array([day_hours(2026, 1, 14), day_hours(2026, 1, 17)])
    codes = period_codes(grid, "tou", TZ)
    assert codes.shape == (2, 24) and codes.dtype == np.uint8
    assert period_codes(np.empty((0,), dtype=np.int64), "tou", TZ).shape == (0,)


def test_tiered_plan_has_one_period_for_every_hour() -> None:
    assert names("tiered", day_hours(2026, 1, 14)) == ["all_hours"] * 24


def test_unknown_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown price plan"):
        period_codes(np.array([0]), "flat", TZ)


def test_period_kwh_totals_every_period_by_name() -> None:
    codes = period_codes(np.array(day_hours(2026, 1, 14)), "tou", TZ)
    totals = period_kwh(codes, np.ones(24), "tou")
    assert totals == {OFF: 12.0, MID: 6.0, ON: 6.0}
    assert period_kwh(np.array([0], dtype=np.uint8), np.array([2.5]), "ulo")[ON] == 0.0


def test_calendar_with_a_gap_or_an_overlap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    gap = tuple(row for row in periods.CALENDAR if row[:5] != ("tou", "winter", "weekday", 7, 11))
    monkeypatch.setattr(periods, "CALENDAR", gap)
    with pytest.raises(ValueError, match="without a period"):
        periods._compile("tou")
    overlap = (*periods.CALENDAR, ("tou", "summer", "weekday", 10, 12, "on_peak"))
    monkeypatch.setattr(periods, "CALENDAR", overlap)
    with pytest.raises(ValueError, match="overlap"):
        periods._compile("tou")


@pytest.mark.parametrize(
    ("rate_class", "month", "threshold"),
    [
        ("residential", 5, 600.0),  # summer: May 1 - Oct 31
        ("residential", 10, 600.0),
        ("residential", 11, 1000.0),  # winter: Nov 1 - Apr 30
        ("residential", 4, 1000.0),
        ("gs_lt_50", 7, 750.0),  # small general service: all year
        ("gs_lt_50", 1, 750.0),
    ],
)
def test_tier_thresholds(rate_class: str, month: int, threshold: float) -> None:
    assert tier_threshold_kwh(rate_class, month) == threshold


def test_tiered_split_at_the_threshold_vectorised() -> None:
    kwh = np.array([450.0, 600.0, 601.5, 1000.0, 1250.0, -20.0])
    month = np.array([7, 7, 7, 1, 1, 1])
    tier1, tier2 = tiered_split(kwh, "residential", month)
    assert tier1.tolist() == [450.0, 600.0, 600.0, 1000.0, 1000.0, -20.0]
    assert tier2.tolist() == [0.0, 0.0, 1.5, 0.0, 250.0, 0.0]


def test_tiered_split_by_rate_class_per_value() -> None:
    classes = np.array(["residential", "gs_lt_50", "gs_lt_50", "residential"])
    tier1, tier2 = tiered_split(np.array([800.0, 800.0, 800.0, 800.0]), classes, 6)
    assert tier1.tolist() == [600.0, 750.0, 750.0, 600.0]
    assert tier2.tolist() == [200.0, 50.0, 50.0, 200.0]


def test_tiered_split_refuses_unknown_rate_class_and_month() -> None:
    with pytest.raises(ValueError, match="gs_50_to_4999"):
        tiered_split(np.array([1.0]), "gs_50_to_4999", 1)
    with pytest.raises(ValueError, match="months"):
        tiered_split(np.array([1.0]), "residential", 13)


def test_day_kind_follows_the_local_date_not_the_utc_date() -> None:
    # 21:00 local is 02:00 UTC the next day: ULO mid-peak on a weekday, weekend off-peak on a
    # holiday. Christmas 2026 is a Friday.
    starts = [utc(2026, 12, 24, 21), utc(2026, 12, 25, 21), utc(2026, 12, 26, 21)]
    assert names("ulo", starts) == [MID, WKND, WKND]


def test_bucketed_path_is_exact_where_offsets_are_not_whole_quarter_hours() -> None:
    # Monrovia kept local mean time, UTC-0:44:30, until 1972: its hours start mid-bucket.
    monrovia = ZoneInfo("Africa/Monrovia")
    instants = np.arange(
        int(np.datetime64("1971-03-01", "s").astype(np.int64)),
        int(np.datetime64("1971-03-15", "s").astype(np.int64)),
        300,
    )
    bucketed = period_codes(instants, "ulo", monrovia)
    assert (bucketed == periods._codes_direct(instants, "ulo", monrovia)).all()
    days, hours = local_clock(instants, monrovia)
    assert (local_day_numbers(instants, monrovia) == days).all()
    assert len(set(hours[bucketed == 3].tolist())) == 5  # on-peak 16:00-21:00 local
