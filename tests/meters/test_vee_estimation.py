"""VEE estimation (E2-E6, E8) and manual edits on arrays (no database)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pytest

from meters.reads.day_arrays import DAY_S, DayBlock, IntervalFlag
from meters.vee import (
    EstimationContext,
    EstimationSettings,
    Method,
    RegisterReads,
    ValidationContext,
    estimate,
    run_vee,
    supersede,
)
from meters.vee.editing import EditError, apply_edit
from meters.vee.estimation import apportion
from portal.calendar.localtime import date_of
from tests.meters.test_vee_rules import MONDAY, TZ, day_of, join, load, make_block, set_missing

F = IntervalFlag
ONLY = {m: EstimationSettings(methods=frozenset({m})) for m in ("E2", "E3", "E4", "E5", "E6")}


def local_pattern(
    first_day: int, days: int, value: Callable[[dt.date, int], float], n: int = 24
) -> np.ndarray:
    """(days, n) Wh where each UTC interval holds value(local date, local wall-clock slot)."""
    out = np.zeros((days, n), np.int32)
    step = 1440 // n * 60
    for row in range(days):
        for slot in range(n):
            local = dt.datetime.fromtimestamp((first_day + row) * DAY_S + slot * step, TZ)
            out[row, slot] = value(local.date(), (local.hour * 60 + local.minute) * 60 // step)
    return out


def missing_local_day(block: DayBlock, local_date: dt.date) -> np.ndarray:
    """Make every interval of one local day missing; returns the (K, n) mask."""
    step = block.minutes * 60
    start = block.day[:, None] * DAY_S + np.arange(block.wh.shape[1]) * step
    dates = np.vectorize(lambda t: dt.datetime.fromtimestamp(int(t), TZ).date())(start)
    mask = dates == local_date
    block.wh[mask] = 0
    block.flags[mask] = F.RECEIVED | F.MISSING
    return mask


def target(block: DayBlock) -> np.ndarray:
    return (block.flags & F.MISSING) != 0


# ---------------------------------------------------------------------------- E2


def test_e2_interpolates_a_three_hour_gap_linearly() -> None:
    block = make_block(load(2), first_day=MONDAY)
    block.wh[0, 9], block.wh[0, 13] = 400, 800
    set_missing(block, 0, [10, 11, 12])
    result = estimate(block, target(block), settings=ONLY["E2"])
    assert result.wh[0, 9:14].tolist() == [400, 500, 600, 700, 800]
    assert (result.method[0, 10:13] == Method.LINEAR).all() and result.method[0, 9] == 0
    assert (result.flags[0, 10:13] == F.RECEIVED | F.ESTIMATED | F.VALIDATED).all()


def test_e2_does_not_bridge_a_gap_longer_than_the_limit() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [10, 11, 12, 13])  # four hours
    result = estimate(block, target(block), settings=ONLY["E2"])
    assert result.unfilled[0, 10:14].all() and (result.method == 0).all()
    assert (result.flags[0, 10:14] & F.MISSING).all(), "what could not be estimated stays missing"
    wider = EstimationSettings(methods=frozenset({"E2"}), e2_max_gap_minutes=240)
    assert (estimate(block, target(block), settings=wider).method[0, 10:14] == 2).all()


def test_e2_bridges_midnight_but_not_a_day_that_is_not_in_the_block() -> None:
    block = make_block(load(2), first_day=MONDAY)
    set_missing(block, 0, [23])
    set_missing(block, 1, [0, 1])
    result = estimate(block, target(block), settings=ONLY["E2"])
    assert (result.method[0, 23] == 2) and (result.method[1, :2] == 2).all()
    gap = make_block(load(2), first_day=MONDAY, days=[MONDAY, MONDAY + 2])
    set_missing(gap, 0, [23])
    set_missing(gap, 1, [0])
    assert estimate(gap, target(gap), settings=ONLY["E2"]).unfilled[[0, 1], [23, 0]].all()


def test_e2_never_anchors_on_an_outage_or_an_estimate() -> None:
    block = make_block(load(1), first_day=MONDAY)
    block.wh[0, 9], block.wh[0, 12] = 400, 700
    set_missing(block, 0, [10])
    block.wh[0, 11] = 0
    block.flags[0, 11] |= np.uint8(F.OUTAGE)  # its zero is real, but no load shape
    result = estimate(block, target(block), settings=ONLY["E2"])
    assert result.wh[0, 10] == 500 and result.wh[0, 11] == 0, "a line from 09:00 to 12:00"
    block.flags[0, 12] |= np.uint8(F.ESTIMATED)  # now the gap runs 10:00-12:00 and on
    result = estimate(block, target(block), settings=ONLY["E2"])
    assert result.wh[0, 10] == round(400 + (block.wh[0, 13] - 400) / 4)


# ---------------------------------------------------------------------------- E3


APRIL = day_of("2024-04-01")  # a Monday; no holiday or DST change in April 2024


def by_day(first: dt.date) -> Callable[[dt.date, int], float]:
    """Wh = 100 x days since ``first`` + the wall-clock hour: an average names its days."""
    return lambda date, hour: 100 * (date - first).days + hour


def like_day_block(first: int, days: int) -> DayBlock:
    return make_block(local_pattern(first, days, by_day(date_of(first))), first_day=first)


def expected_like(days: list[int], hour: int) -> int:
    return round(100 * sum(days) / len(days) + hour)


def test_e3_averages_the_three_nearest_weekdays_by_wall_clock_hour() -> None:
    block = like_day_block(APRIL, 35)
    mask = missing_local_day(block, dt.date(2024, 4, 17))  # a Wednesday
    result = estimate(block, mask, EstimationContext(tz=TZ), ONLY["E3"])
    assert (result.method[mask] == Method.LIKE_DAY).all() and not result.unfilled.any()
    # Tue 16th (-1), Thu 18th (+1), Mon 15th (-2): days 15, 17, 14 after April 1st.
    row, slot = 17, 16  # 16:00 UTC on April 18th is noon EDT... of the 18th: not a target
    assert not mask[row, slot]
    row, slot = 16, 16  # 16:00 UTC April 17th = 12:00 EDT
    assert result.wh[row, slot] == expected_like([15, 17, 14], 12)


def test_e3_skips_days_with_outage_estimated_or_failed_intervals() -> None:
    block = like_day_block(APRIL, 35)
    noon = 16  # 16:00 UTC is noon EDT of the same date
    block.flags[15, noon] |= np.uint8(F.OUTAGE)  # Tue 16th
    block.flags[17, noon] |= np.uint8(F.ESTIMATED)  # Thu 18th
    block.flags[14, noon] |= np.uint8(F.FAILED)  # Mon 15th
    mask = missing_local_day(block, dt.date(2024, 4, 17))
    result = estimate(block, mask, EstimationContext(tz=TZ), ONLY["E3"])
    # Next nearest weekdays: Fri 19th (+2), Fri 12th (-5), Mon 22nd (+5); weekends skipped.
    assert result.wh[16, noon] == expected_like([18, 11, 21], 12)


def test_e3_pairs_weekends_with_holidays() -> None:
    first = day_of("2024-04-29")
    victoria_day = day_of("2024-05-20")
    block = like_day_block(first, 33)
    saturday = missing_local_day(block, dt.date(2024, 5, 25))
    tuesday = missing_local_day(block, dt.date(2024, 5, 21))
    holidays = np.array([victoria_day])
    with_holidays = estimate(block, saturday | tuesday, EstimationContext(tz=TZ, holidays=holidays))
    without = estimate(block, saturday | tuesday, EstimationContext(tz=TZ))
    sat, tue = (day_of("2024-05-25") - first, 16), (day_of("2024-05-21") - first, 16)
    index = {d: day_of(d) - first for d in ("2024-05-18", "2024-05-19", "2024-05-20", "2024-05-26")}
    weekend_like = [index["2024-05-26"], index["2024-05-20"], index["2024-05-19"]]
    assert with_holidays.wh[sat] == expected_like(weekend_like, 12)
    assert without.wh[sat] == expected_like([27, 20, 19], 12)  # Sun 26, Sun 19, Sat 18
    assert with_holidays.wh[tue] == expected_like([23, 24, 25], 12), "Victoria Day is no weekday"
    assert without.wh[tue] == expected_like([21, 23, 24], 12)  # Mon 20 (-1), Wed 22, Thu 23


def test_e3_only_within_the_window() -> None:
    first = APRIL
    days = [first] + list(range(first + 22, first + 32))  # like days 22+ days away only
    wh = local_pattern(first, 32, by_day(date_of(first)))[[0, *range(22, 32)]]
    block = make_block(wh, first_day=first, days=days)
    set_missing(block, 0, slice(4, 24))
    result = estimate(block, target(block), EstimationContext(tz=TZ), ONLY["E3"])
    assert result.unfilled[0, 4:].all()
    wide = EstimationSettings(methods=frozenset({"E3"}), e3_window_days=28)
    assert (estimate(block, target(block), EstimationContext(tz=TZ), wide).method[0, 4:] == 3).all()


def test_e3_on_the_23_hour_day_matches_wall_clock_time() -> None:
    first = day_of("2024-02-26")
    block = like_day_block(first, 28)
    mask = missing_local_day(block, dt.date(2024, 3, 10))  # Sunday, 23 hours
    assert mask.sum() == 23
    result = estimate(block, mask, EstimationContext(tz=TZ), ONLY["E3"])
    # Like days: Sat 9th (-1), Sat 16th (+6, EDT), Sun 3rd (-7, EST).
    like = [12, 19, 6]
    row = day_of("2024-03-10") - first
    assert result.wh[row, 22] == expected_like(like, 18), "22:00 UTC = 18:00 EDT"
    assert result.wh[row, 6] == expected_like(like, 1), "06:00 UTC = 01:00 EST"
    assert result.wh[row, 7] == expected_like(like, 3), "07:00 UTC = 03:00 EDT: 02:00 never was"


def test_e3_on_the_25_hour_day_fills_both_one_oclock_hours() -> None:
    first = day_of("2024-10-21")
    block = like_day_block(first, 28)
    mask = missing_local_day(block, dt.date(2024, 11, 3))  # Sunday, 25 hours
    assert mask.sum() == 25
    result = estimate(block, mask, EstimationContext(tz=TZ), ONLY["E3"])
    like = [12, 19, 6]  # Sat 2nd, Sat 9th, Sun 27th October
    row = day_of("2024-11-03") - first
    assert result.wh[row, 5] == result.wh[row, 6] == expected_like(like, 1)  # 01:00 EDT, EST
    assert not result.unfilled.any()


# ---------------------------------------------------------------------------- E4


def day_span(block: DayBlock, row: int, delta: int, days: int = 1) -> RegisterReads:
    start = int(block.day[row]) * DAY_S
    at = np.array([start, start + days * DAY_S])
    return RegisterReads.consecutive(np.ones(2), np.ones(2), at, np.array([5_000, 5_000 + delta]))


def test_e4_scales_estimates_exactly_to_the_register_delta() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [9, 10])
    actual = int(block.wh[0].sum())
    reads = day_span(block, 0, actual + 1001)
    result = estimate(block, target(block), EstimationContext(tz=TZ, registers=reads))
    assert int(result.wh[0].sum()) == actual + 1001
    assert (result.method[0, 9:11] == Method.REGISTER).all()
    # E2 gave the shape (neighbours 460 and 520): 480 : 500 is kept, in whole Wh.
    assert result.wh[0, 9:11].tolist() == [490, 511]


def test_e4_shares_evenly_when_nothing_else_gives_a_shape() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [9, 10, 11, 12])  # too long for E2, no like days
    actual = int(block.wh[0].sum())
    context = EstimationContext(tz=TZ, registers=day_span(block, 0, actual + 1003))
    result = estimate(block, target(block), context, ONLY["E4"])
    assert sorted(result.wh[0, 9:13].tolist()) == [250, 251, 251, 251]
    assert int(result.wh[0].sum()) == actual + 1003


def test_e4_takes_the_profile_shape_where_nothing_was_estimated() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [14, 15, 16, 17])  # 10:00-14:00 EDT
    actual = int(block.wh[0].sum())
    profile = np.where(np.arange(24) == 12, 300.0, 100.0)  # local noon weighs three times
    reads = day_span(block, 0, actual + 1200)
    result = estimate(
        block, target(block), EstimationContext(tz=TZ, registers=reads, profile=profile)
    )
    assert result.wh[0, 14:18].tolist() == [200, 200, 600, 200]
    assert (result.method[0, 14:18] == Method.REGISTER).all()


def test_e4_leaves_a_span_the_block_does_not_hold_whole() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [9, 10])
    reads = day_span(block, 0, 20_000, days=2)  # the second day is not loaded
    result = estimate(block, target(block), EstimationContext(tz=TZ, registers=reads))
    assert (result.method[0, 9:11] == Method.LINEAR).all()


def test_e4_does_not_scale_below_zero() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [9, 10])
    reads = day_span(block, 0, int(block.wh[0].sum()) - 2000)  # actuals already exceed it
    result = estimate(block, target(block), EstimationContext(tz=TZ, registers=reads))
    assert (result.method[0, 9:11] == Method.LINEAR).all()


def test_apportion_sums_exactly_per_group() -> None:
    shape = np.array([1.0, 1.0, 1.0, 2.0, 0.5, 0.5])
    group = np.array([0, 0, 0, 1, 1, 1])
    parts = apportion(shape, group, np.array([100, 7]), 2)
    assert parts[:3].sum() == 100 and parts[3:].sum() == 7
    assert parts.tolist() == [34, 33, 33, 5, 1, 1]


# ---------------------------------------------------------------------------- E5 E6


HOURLY_PROFILE = np.arange(24, dtype=np.float64) * 40 + 200  # Wh per local hour


def test_e5_profile_for_a_meter_without_history() -> None:
    block = make_block(np.zeros((1, 96)), first_day=MONDAY)
    set_missing(block, 0, slice(None))
    context = EstimationContext(tz=TZ, profile=HOURLY_PROFILE)
    result = estimate(block, target(block), context)
    assert (result.method[0] == Method.PROFILE).all()
    # 16:00 UTC is 12:00 EDT: a quarter of the noon hour's profile per 15 minutes.
    assert result.wh[0, 16 * 4] == round(HOURLY_PROFILE[12] / 4)


def test_e5_profile_per_row_and_per_interval() -> None:
    block = join(
        make_block(np.zeros((1, 24)), first_day=MONDAY, meter=1),
        make_block(np.zeros((1, 24)), first_day=MONDAY, meter=2),
    )
    set_missing(block, 0, slice(None))
    set_missing(block, 1, slice(None))
    profile = np.stack([HOURLY_PROFILE, HOURLY_PROFILE * 2])  # one rate class per row
    result = estimate(block, target(block), EstimationContext(tz=TZ, profile=profile))
    assert result.wh[0, 16] == HOURLY_PROFILE[12] and result.wh[1, 16] == 2 * HOURLY_PROFILE[12]
    with pytest.raises(ValueError, match="24 values per day"):
        estimate(block, target(block), EstimationContext(tz=TZ, profile=np.ones(12)))


def test_e5_not_for_a_meter_with_history_e6_instead() -> None:
    block = make_block(load(2), first_day=MONDAY)
    set_missing(block, 1, slice(None))
    context = EstimationContext(tz=TZ, profile=HOURLY_PROFILE)
    result = estimate(block, target(block), context)
    assert (result.method[1] == Method.AVERAGE).all()
    assert result.wh[1, 0] == round(block.wh[0].sum() / 24)


def test_e6_average_daily_load_given_by_the_caller() -> None:
    block = make_block(np.zeros((1, 24)), first_day=MONDAY)
    set_missing(block, 0, [3, 4, 5, 6])
    context = EstimationContext(tz=TZ, avg_daily_wh=np.array([12_000.0]))
    result = estimate(block, target(block), context, ONLY["E6"])
    assert result.wh[0, 3:7].tolist() == [500] * 4 and (result.method[0, 3:7] == 6).all()
    assert estimate(block, target(block), EstimationContext(tz=TZ), ONLY["E6"]).unfilled.any()


# ---------------------------------------------------------------------------- order, E8


def test_pre_vee_values_are_never_modified() -> None:
    block = make_block(load(2), first_day=MONDAY)
    set_missing(block, 0, [10])
    before = (block.wh.copy(), block.flags.copy(), block.raw_wh.copy(), block.raw_quality.copy())
    result = estimate(block, target(block))
    assert result.method[0, 10] == Method.LINEAR
    for now, then in zip(
        (block.wh, block.flags, block.raw_wh, block.raw_quality), before, strict=True
    ):
        assert np.array_equal(now, then)


def test_a_final_estimate_is_not_estimated_again() -> None:
    block = make_block(load(1), first_day=MONDAY)
    block.wh[0, 10] = 999
    block.flags[0, 10] = F.RECEIVED | F.ESTIMATED
    final = np.zeros(block.wh.shape, bool)
    final[0, 10] = True
    wanted = np.zeros(block.wh.shape, bool)
    wanted[0, 10] = True
    result = estimate(block, wanted, EstimationContext(final=final))
    assert result.wh[0, 10] == 999 and result.method[0, 10] == 0
    assert estimate(block, wanted).method[0, 10] == Method.LINEAR


def test_e8_actual_replaces_an_estimate_with_a_new_version() -> None:
    wh = np.array([[500, 600, 700]], np.int32)
    flags = np.array([[F.RECEIVED | F.ESTIMATED, F.RECEIVED | F.ESTIMATED, F.RECEIVED]], np.uint8)
    method = np.array([[3, 3, 0]], np.uint8)
    new = supersede(
        wh,
        flags,
        method,
        new_wh=np.array([[520, 0, 0]]),
        new_actual=np.array([[True, False, False]]),
        new_method=np.zeros((1, 3), np.uint8),
        final=np.array([[True, True, False]]),
    )
    assert new.wh.tolist() == [[520, 600, 700]] and new.method.tolist() == [[0, 3, 0]]
    assert new.flags[0, 0] == F.RECEIVED and new.new_version.tolist() == [True]


def test_e8_an_estimate_never_replaces_a_final_estimate_or_an_actual() -> None:
    wh = np.array([[500, 600, 700, 0]], np.int32)
    est, missing = F.RECEIVED | F.ESTIMATED, F.RECEIVED | F.MISSING
    flags = np.array([[est, est, F.RECEIVED, missing]], np.uint8)
    new = supersede(
        wh,
        flags,
        np.array([[3, 3, 0, 0]], np.uint8),
        new_wh=np.array([[1, 2, 3, 4]]),
        new_actual=np.zeros((1, 4), bool),
        new_method=np.full((1, 4), 2, np.uint8),
        final=np.array([[True, False, False, False]]),
    )
    assert new.wh.tolist() == [[500, 2, 700, 4]]
    assert new.changed.tolist() == [[False, True, False, True]]
    assert not new.new_version.any(), "filling with estimates makes no new version"


def test_e8_an_edit_stands_against_a_later_actual() -> None:
    flags = np.array([[F.RECEIVED | F.EDITED]], np.uint8)
    new = supersede(
        np.array([[333]], np.int32),
        flags,
        np.zeros((1, 1), np.uint8),
        new_wh=np.array([[500]]),
        new_actual=np.array([[True]]),
        new_method=np.zeros((1, 1), np.uint8),
    )
    assert new.wh[0, 0] == 333 and not new.changed.any()


def test_run_vee_validates_then_estimates() -> None:
    wh = load(3)
    wh[1, 12] = -50  # V09 fails it; E2 replaces it from its neighbours
    block = make_block(wh, first_day=MONDAY)
    set_missing(block, 2, [5])
    result = run_vee(block, ValidationContext(now_s=(MONDAY + 3) * DAY_S, tz=TZ))
    assert result.estimation.method[1, 12] == Method.LINEAR
    assert result.estimation.wh[1, 12] == (wh[1, 11] + wh[1, 13]) // 2
    assert result.estimation.flags[1, 12] == F.RECEIVED | F.ESTIMATED | F.VALIDATED
    assert result.estimation.method[2, 5] == Method.LINEAR and not result.estimation.unfilled.any()
    assert result.validation.failed[1, 12], "the rule that fired is still on record"


def test_estimation_over_many_meters_at_once() -> None:
    blocks = [make_block(load(10), first_day=APRIL, meter=m) for m in range(1, 301)]
    block = join(*blocks)
    set_missing(block, 15, slice(0, 24))  # meter 2, a whole UTC day
    result = estimate(block, target(block), EstimationContext(tz=TZ))
    assert not result.unfilled.any() and set(np.unique(result.method[15])) <= {2, 3}


# ---------------------------------------------------------------------------- editing


def test_edit_sets_values_with_the_edited_flag_and_reports_changes() -> None:
    block = make_block(load(2), first_day=MONDAY)
    set_missing(block, 1, [3])
    method = np.zeros(block.wh.shape, np.uint8)
    method[1, 4] = 3
    start = (MONDAY + 1) * DAY_S + 2 * 3600
    result = apply_edit(
        block,
        meter=1,
        channel=1,
        start_s=start,
        end_s=start + 3 * 3600,
        wh=np.array([block.wh[1, 2], 450, 460]),
        reason="METER_EXCHANGE",
        method=method,
    )
    assert result.wh[1, 2:5].tolist() == [int(block.wh[1, 2]), 450, 460]
    assert (result.flags[1, 2:5] == F.RECEIVED | F.EDITED).all()
    assert result.method is not None and result.method[1, 4] == 0
    assert np.flatnonzero(result.changed.ravel()).tolist() == [24 + 2, 24 + 3, 24 + 4]
    assert result.changed_days.tolist() == [False, True]
    assert result.changed_starts.tolist() == [start, start + 3600, start + 7200]
    assert result.before_wh.tolist()[1] == 0 and block.flags[1, 3] & F.MISSING, "input kept"


def test_edit_needs_a_reason_whole_intervals_and_loaded_days() -> None:
    block = make_block(load(1), first_day=MONDAY)
    start = MONDAY * DAY_S
    with pytest.raises(EditError, match="reason"):
        apply_edit(block, meter=1, channel=1, start_s=start, end_s=start + 3600, wh=1, reason=" ")
    with pytest.raises(EditError, match="whole"):
        apply_edit(
            block, meter=1, channel=1, start_s=start + 60, end_s=start + 3600, wh=1, reason="X"
        )
    with pytest.raises(EditError, match="load them"):
        apply_edit(
            block, meter=1, channel=1, start_s=start, end_s=start + 2 * DAY_S, wh=1, reason="X"
        )


def test_the_same_edit_again_changes_nothing() -> None:
    block = make_block(load(1), first_day=MONDAY)
    start = MONDAY * DAY_S
    first = apply_edit(
        block, meter=1, channel=1, start_s=start, end_s=start + 3600, wh=7, reason="X"
    )
    edited = DayBlock(
        block.key, 60, first.wh, first.flags, block.raw_wh, block.raw_quality, block.version
    )
    again = apply_edit(
        edited, meter=1, channel=1, start_s=start, end_s=start + 3600, wh=7, reason="X"
    )
    assert first.changed.sum() == 1 and not again.changed.any()
