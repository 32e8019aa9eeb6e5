"""The ten Ontario RPP TOU holidays, weekend moves, and the vectorised day masks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from portal.calendar.holidays import easter_sunday, holiday_mask, tou_holidays, weekend_mask

D = dt.date
EPOCH = D(1970, 1, 1)

# The days priced as holidays, written out by hand from the calendar (OEB holiday schedules).
EXPECTED: dict[int, dict[str, dt.date]] = {
    2024: {
        "New Year's Day": D(2024, 1, 1),
        "Family Day": D(2024, 2, 19),
        "Good Friday": D(2024, 3, 29),
        "Victoria Day": D(2024, 5, 20),
        "Canada Day": D(2024, 7, 1),
        "Civic Holiday": D(2024, 8, 5),
        "Labour Day": D(2024, 9, 2),
        "Thanksgiving": D(2024, 10, 14),
        "Christmas Day": D(2024, 12, 25),
        "Boxing Day": D(2024, 12, 26),
    },
    2025: {
        "New Year's Day": D(2025, 1, 1),
        "Family Day": D(2025, 2, 17),
        "Good Friday": D(2025, 4, 18),
        "Victoria Day": D(2025, 5, 19),
        "Canada Day": D(2025, 7, 1),
        "Civic Holiday": D(2025, 8, 4),
        "Labour Day": D(2025, 9, 1),
        "Thanksgiving": D(2025, 10, 13),
        "Christmas Day": D(2025, 12, 25),
        "Boxing Day": D(2025, 12, 26),
    },
    2026: {
        "New Year's Day": D(2026, 1, 1),
        "Family Day": D(2026, 2, 16),
        "Good Friday": D(2026, 4, 3),
        "Victoria Day": D(2026, 5, 18),  # May 25 2026 is a Monday: the Monday *before* it
        "Canada Day": D(2026, 7, 1),
        "Civic Holiday": D(2026, 8, 3),
        "Labour Day": D(2026, 9, 7),
        "Thanksgiving": D(2026, 10, 12),
        "Christmas Day": D(2026, 12, 25),
        "Boxing Day": D(2026, 12, 28),  # Saturday 26 -> Monday 28
    },
    2027: {
        "New Year's Day": D(2027, 1, 1),
        "Family Day": D(2027, 2, 15),
        "Good Friday": D(2027, 3, 26),
        "Victoria Day": D(2027, 5, 24),  # May 24 is itself the Monday before May 25
        "Canada Day": D(2027, 7, 1),
        "Civic Holiday": D(2027, 8, 2),
        "Labour Day": D(2027, 9, 6),
        "Thanksgiving": D(2027, 10, 11),
        "Christmas Day": D(2027, 12, 27),  # Saturday 25 -> Monday 27
        "Boxing Day": D(2027, 12, 28),  # Sunday 26 -> Tuesday 28
    },
}


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


@pytest.mark.parametrize("year", sorted(EXPECTED))
def test_each_of_the_ten_holidays_falls_on_its_day(year: int) -> None:
    holidays = tou_holidays(year)
    assert len(holidays) == 10
    assert {name: day for day, name in holidays.items()} == EXPECTED[year]


@pytest.mark.parametrize(
    ("year", "name", "observed"),
    [
        (2021, "Christmas Day", D(2021, 12, 27)),  # Saturday -> Monday
        (2021, "Boxing Day", D(2021, 12, 28)),  # Sunday -> Monday is Christmas -> Tuesday
        (2022, "New Year's Day", D(2022, 1, 3)),  # Saturday -> Monday
        (2023, "New Year's Day", D(2023, 1, 2)),  # Sunday -> Monday
        (2023, "Canada Day", D(2023, 7, 3)),  # Saturday -> Monday
        (2022, "Boxing Day", D(2022, 12, 26)),  # a Monday: stays
        (2022, "Christmas Day", D(2022, 12, 27)),  # Sunday -> Monday is Boxing Day -> Tuesday
    ],
)
def test_holiday_on_a_weekend_moves_to_next_free_weekday(
    year: int, name: str, observed: dt.date
) -> None:
    holidays = tou_holidays(year)
    assert holidays[observed] == name
    assert observed.weekday() < 5
    assert holiday_mask(np.array([day_number(observed)]))[0]


@pytest.mark.parametrize(
    "day",
    [
        D(2025, 4, 21),  # Easter Monday
        D(2026, 4, 6),  # Easter Monday
        D(2025, 11, 11),  # Remembrance Day, a Tuesday
        D(2026, 11, 11),  # Remembrance Day, a Wednesday
        D(2025, 9, 30),  # National Day for Truth and Reconciliation, a Tuesday
        D(2026, 9, 30),  # National Day for Truth and Reconciliation, a Wednesday
        D(2026, 12, 24),  # Christmas Eve
        D(2026, 12, 31),  # New Year's Eve
    ],
)
def test_days_that_are_not_tou_holidays(day: dt.date) -> None:
    assert day not in tou_holidays(day.year)
    assert not holiday_mask(np.array([day_number(day)]))[0]


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, D(2000, 4, 23)),
        (2019, D(2019, 4, 21)),
        (2024, D(2024, 3, 31)),
        (2025, D(2025, 4, 20)),
        (2026, D(2026, 4, 5)),
        (2027, D(2027, 3, 28)),
        (2038, D(2038, 4, 25)),  # the latest possible date
        (2285, D(2285, 3, 22)),  # the earliest possible date
    ],
)
def test_easter_sunday_by_the_anonymous_gregorian_algorithm(year: int, easter: dt.date) -> None:
    assert easter_sunday(year) == easter


def test_holiday_mask_over_many_years_matches_the_holiday_lists() -> None:
    first, last = D(2019, 12, 1), D(2031, 1, 31)
    days = np.arange(day_number(first), day_number(last) + 1)
    expected = {
        day_number(day)
        for year in range(2019, 2032)
        for day in tou_holidays(year)
        if first <= day <= last
    }
    assert set(days[holiday_mask(days)].tolist()) == expected


def test_holiday_mask_keeps_the_shape_and_takes_unordered_days() -> None:
    days = np.array([[day_number(D(2026, 12, 28)), day_number(D(2026, 12, 26))], [0, 20_000]])
    assert holiday_mask(days).tolist() == [[True, False], [True, False]]  # 1970-01-01 too
    assert holiday_mask(np.array([], dtype=np.int64)).shape == (0,)


def test_holiday_mask_far_apart_days_take_the_slow_path_with_the_same_answer() -> None:
    christmas_2500 = D(2500, 12, 27)  # Saturday 25 -> Monday 27
    days = np.array([day_number(D(1990, 12, 25)), day_number(christmas_2500), 1])
    assert christmas_2500 in tou_holidays(2500)
    assert holiday_mask(days).tolist() == [True, True, False]


def test_weekend_mask_marks_saturdays_and_sundays() -> None:
    start = D(2026, 3, 2)  # a Monday
    days = np.arange(day_number(start), day_number(start) + 14)
    assert weekend_mask(days).tolist() == [False] * 5 + [True] * 2 + [False] * 5 + [True] * 2
