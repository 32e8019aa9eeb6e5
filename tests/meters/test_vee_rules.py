"""VEE validation rules on arrays (no database): each rule fires where it should and only there."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meters.reads.day_arrays import DAY_S, DayBlock, IntervalFlag, day_key, incoming_block, merge
from meters.reads.interfaces.base import Quality
from meters.vee import ValidationSettings, rule_bit, validate, vee_settings
from meters.vee.rules import (
    RegisterReads,
    ValidationContext,
    ValidationResult,
    average_daily_wh,
    conflicts,
    off_grid_mask,
    to_block_mask,
)
from portal.calendar.localtime import day_number

TZ = ZoneInfo("America/Toronto")
F = IntervalFlag
MONDAY = day_number(dt.date(2024, 4, 1))


def day_of(text: str) -> int:
    return day_number(dt.date.fromisoformat(text))


def load(days: int, n: int = 24, level: int = 300) -> np.ndarray:
    """Plausible Wh: rising through each day (no equal neighbours), each day 1 Wh above the last."""
    step = 480 // n
    return (level + np.arange(n)[None, :] * step + np.arange(days)[:, None]).astype(np.int32)


def make_block(
    wh: np.ndarray,
    *,
    first_day: int,
    meter: int = 1,
    channel: int = 1,
    days: list[int] | None = None,
) -> DayBlock:
    """Consecutive UTC days (or ``days``) of one meter channel, all received as actuals."""
    wh = np.asarray(wh, np.int32)
    d, n = wh.shape
    numbers = np.arange(first_day, first_day + d) if days is None else np.asarray(days)
    key = day_key(np.full(d, meter), np.full(d, channel), numbers)
    return DayBlock(
        key=key,
        minutes=1440 // n,
        wh=wh.copy(),
        flags=np.full(wh.shape, F.RECEIVED, np.uint8),
        raw_wh=wh.copy(),
        raw_quality=np.zeros(wh.shape, np.uint8),
        version=np.ones(d, np.int64),
    )


def join(*blocks: DayBlock) -> DayBlock:
    """One block of several, rows in key order."""
    key = np.concatenate([b.key for b in blocks])
    order = np.argsort(key)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks])[order]

    return DayBlock(
        key[order],
        blocks[0].minutes,
        cat("wh"),
        cat("flags"),
        cat("raw_wh"),
        cat("raw_quality"),
        cat("version"),
    )


def set_missing(block: DayBlock, row: int, slots: list[int] | slice) -> None:
    block.wh[row, slots] = 0
    block.flags[row, slots] = F.RECEIVED | F.MISSING


def after(block: DayBlock) -> int:
    """An instant after the block's last day: every interval is due."""
    return int(block.day.max() + 1) * DAY_S


def run(block: DayBlock, **context: object) -> ValidationResult:
    now = context.pop("now_s", after(block))
    settings = context.pop("settings", None)
    ctx = ValidationContext(now_s=int(now), tz=TZ, **context)  # type: ignore[arg-type]
    return validate(block, ctx, settings)  # type: ignore[arg-type]


def fired(result: ValidationResult, rule_id: str) -> list[int]:
    """Rows (days) a rule fired on."""
    return np.flatnonzero(result.fired(rule_id)).tolist()


# ---------------------------------------------------------------------------- V01


def test_v01_fires_on_a_day_with_missing_intervals_only() -> None:
    block = make_block(load(3), first_day=MONDAY)
    set_missing(block, 1, [5, 6])
    result = run(block)
    assert fired(result, "V01") == [1]
    assert result.day_missing.tolist() == [0, 2, 0]
    assert result.interval_bits[1, 5] & rule_bit("V01") and not result.interval_bits[1, 4]


def test_v01_intervals_not_yet_ended_are_not_missing() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, slice(10, 24))
    now = MONDAY * DAY_S + 10 * 3600 + 1800  # 10:30 UTC: slot 10 has not ended
    assert fired(run(block, now_s=now), "V01") == []
    assert fired(run(block, now_s=now + 1800), "V01") == [0]


def local_day_row(result: ValidationResult, local_day: int) -> dict[str, int]:
    table = result.rules["V01"].table
    i = int(np.flatnonzero(table["local_day"] == local_day)[0])
    return {k: int(v[i]) for k, v in table.items()}


def test_v01_spring_forward_local_day_expects_23_hours() -> None:
    block = make_block(load(4), first_day=day_of("2024-03-09"))
    result = run(block)
    day = local_day_row(result, day_of("2024-03-10"))
    assert (day["expected"], day["in_block"], day["missing"]) == (23, 23, 0)
    set_missing(block, 1, [12])  # 12:00 UTC on March 10 is 08:00 EDT that day
    day = local_day_row(run(block), day_of("2024-03-10"))
    assert (day["present"], day["missing"]) == (22, 1)
    assert local_day_row(run(block), day_of("2024-03-11"))["missing"] == 0


def test_v01_fall_back_local_day_expects_25_hours() -> None:
    block = make_block(load(4), first_day=day_of("2024-11-02"))
    day = local_day_row(run(block), day_of("2024-11-03"))
    assert (day["expected"], day["present"], day["missing"]) == (25, 25, 0)
    set_missing(block, 2, [2, 3])  # 02:00-04:00 UTC on Nov 4 is still Nov 3 local (EST)
    day = local_day_row(run(block), day_of("2024-11-03"))
    assert (day["present"], day["missing"]) == (23, 2)
    assert local_day_row(run(block), day_of("2024-11-04"))["missing"] == 0


def test_v01_local_day_partly_outside_the_block_says_so() -> None:
    block = make_block(load(1), first_day=MONDAY)
    first = local_day_row(run(block), MONDAY - 1)  # only its last 4 hours are in this UTC day
    assert first["in_block"] == 4 and first["day_length"] == 24


# ---------------------------------------------------------------------------- V02


def test_v02_value_beyond_service_capacity_fires() -> None:
    block = make_block(load(2), first_day=MONDAY)
    block.wh[1, 7] = 150_000  # 150 kWh in an hour: a kWh/Wh or multiplier error
    block.wh[0, 7] = 90_000
    result = run(block)
    assert fired(result, "V02") == [1]
    assert result.interval_bits[1, 7] & rule_bit("V02") and not result.interval_bits[1, 6]


def test_v02_limit_scales_with_the_interval_and_the_meter() -> None:
    block = make_block(load(2, n=96), first_day=MONDAY)
    block.wh[0, 7] = 30_000  # 120 kW over 15 minutes
    assert fired(run(block), "V02") == [0]
    assert fired(run(block, max_kw=np.array([150.0, 150.0])), "V02") == []


def test_v02_interval_length_and_multiplier_against_the_registry() -> None:
    block = make_block(load(3), first_day=MONDAY)
    result = run(
        block,
        expected_minutes=np.array([60, 15, 60]),
        multiplier=np.array([1.0, 1.0, 40.0]),
        registry_multiplier=np.array([1.0, 1.0, 80.0]),
    )
    assert fired(result, "V02") == [1, 2]


# ---------------------------------------------------------------------------- V03


def test_v03_a_day_repeating_the_previous_day_fires_on_the_copy() -> None:
    wh = load(3)
    wh[2] = wh[1]
    assert fired(run(make_block(wh, first_day=MONDAY)), "V03") == [2]
    assert fired(run(make_block(load(3), first_day=MONDAY)), "V03") == []


def test_v03_the_same_day_on_both_channels_fires_on_both() -> None:
    delivered = make_block(load(2), first_day=MONDAY, channel=1)
    received = make_block(load(2), first_day=MONDAY, channel=2)
    received.wh[1] += 5  # the second day differs
    result = run(join(delivered, received))
    assert fired(result, "V03") == [0, 2]  # rows: ch1 day0, ch1 day1, ch2 day0, ch2 day1


def test_v03_conflicting_actuals_from_a_later_delivery() -> None:
    starts = MONDAY * DAY_S + np.array([3, 4]) * 3600
    ones = np.ones(2, np.int64)
    actual = np.full(2, Quality.ACTUAL, np.uint8)
    first = incoming_block(ones, ones, starts, np.array([400, 410]), actual, 60)
    stored = merge(DayBlock.empty(first.key, 60), first).merged
    again = incoming_block(ones, ones, starts, np.array([400, 999]), actual, 60)
    conflict = conflicts(stored, again)
    assert conflict[0].tolist() == [i == 4 for i in range(24)]
    block = make_block(load(1), first_day=MONDAY)
    assert fired(run(block, conflict=conflict), "V03") == [0]


# ---------------------------------------------------------------------------- V04


def test_v04_value_for_an_interval_not_yet_ended_fires() -> None:
    block = make_block(load(2), first_day=MONDAY)
    now = (MONDAY + 1) * DAY_S + 12 * 3600  # noon UTC on the second day
    result = run(block, now_s=now)
    assert fired(result, "V04") == [1]
    assert result.interval_bits[1, 11] & rule_bit("V04") == 0
    assert result.interval_bits[1, 12] & rule_bit("V04")
    assert not result.estimate[1, 12], "a future interval is never estimated"


def test_v04_clock_error_and_off_grid_reads() -> None:
    block = make_block(load(2), first_day=MONDAY)
    meter, channel = np.ones(2, np.int64), np.ones(2, np.int64)
    starts = np.array([MONDAY * DAY_S + 5 * 3600, (MONDAY + 1) * DAY_S + 8 * 3600 + 1800])
    clock = to_block_mask(block, meter, channel, starts, np.array([True, False]))
    grid = off_grid_mask(block, meter, channel, starts)
    assert np.flatnonzero(clock).tolist() == [5] and np.flatnonzero(grid).tolist() == [24 + 8]
    assert fired(run(block, clock_error=clock), "V04") == [0]
    assert fired(run(block, off_grid=grid), "V04") == [1]
    assert fired(run(block), "V04") == []


# ---------------------------------------------------------------------------- V05


def registers(block: DayBlock, row: int, delta: int, days: int = 1) -> RegisterReads:
    start = int(block.day[row]) * DAY_S
    at = np.array([start, start + days * DAY_S])
    return RegisterReads.consecutive(
        np.ones(2), np.ones(2), at, np.array([1_000_000, 1_000_000 + delta])
    )


def test_v05_interval_sum_within_one_kwh_passes_beyond_fails() -> None:
    block = make_block(load(2), first_day=MONDAY)
    total = int(block.wh[0].sum())  # ~13 kWh: 1 % is below 1 kWh, so 1 kWh applies
    assert fired(run(block, registers=registers(block, 0, total - 900)), "V05") == []
    result = run(block, registers=registers(block, 0, total - 1100))
    assert fired(result, "V05") == [0]
    assert result.rules["V05"].table["tolerance_wh"].tolist() == [1000.0]


def test_v05_one_percent_applies_above_100_kwh() -> None:
    block = make_block(
        np.full((1, 24), 8333, np.int32) + np.arange(24, dtype=np.int32), first_day=MONDAY
    )
    total = int(block.wh[0].sum())  # ~200 kWh: the tolerance is 2 kWh
    assert fired(run(block, registers=registers(block, 0, total + 1900)), "V05") == []
    assert fired(run(block, registers=registers(block, 0, total + 2100)), "V05") == [0]


def test_v05_missing_intervals_explain_a_shortfall_not_an_excess() -> None:
    block = make_block(load(1), first_day=MONDAY)
    set_missing(block, 0, [3, 4])
    present = int(block.wh[0].sum())
    result = run(block, registers=registers(block, 0, present + 5000))
    assert fired(result, "V05") == [] and result.rules["V05"].table["missing"].tolist() == [2]
    assert fired(run(block, registers=registers(block, 0, present - 1500)), "V05") == [0]


def test_v05_span_over_days_not_in_the_block_counts_them_missing() -> None:
    block = make_block(load(1), first_day=MONDAY)
    result = run(block, registers=registers(block, 0, int(block.wh.sum()) + 9000, days=2))
    assert result.rules["V05"].table["missing"].tolist() == [24]
    assert fired(result, "V05") == []


# ---------------------------------------------------------------------------- V06


def test_v06_high_and_low_days_against_the_meters_own_average() -> None:
    wh = load(10)
    wh[8] = wh[8] * 4  # 400 % of a usual day
    wh[9] = np.maximum(wh[9] // 20, 1) + np.arange(24, dtype=np.int32)  # ~6 %
    wh[3] = wh[3] * 2  # 200 %: unusual but within limits
    result = run(make_block(wh, first_day=MONDAY))
    assert fired(result, "V06") == [8, 9]
    assert result.rules["V06"].detail["high"][8] and not result.rules["V06"].detail["high"][9]


def test_v06_needs_enough_history_days() -> None:
    wh = load(5)
    wh[4] *= 4
    assert fired(run(make_block(wh, first_day=MONDAY)), "V06") == []  # 4 other days < 7
    settings = ValidationSettings(v06_min_history_days=4)
    assert fired(run(make_block(wh, first_day=MONDAY), settings=settings), "V06") == [4]


def test_v06_average_from_the_caller() -> None:
    block = make_block(load(2), first_day=MONDAY)
    avg = np.array([20_000.0, 3_000.0])
    result = run(block, avg_daily_wh=avg, history_days=np.array([30, 30]))
    assert fired(result, "V06") == [1]  # ~13 kWh is above 300 % of 3 kWh, not below 10 % of 20


# ---------------------------------------------------------------------------- V07


def test_v07_spike_above_400_percent_of_the_third_highest() -> None:
    wh = load(2)
    # Once slot 12 is the peak, today's second-highest becomes the third-highest.
    wh[0, 12] = 4 * int(np.sort(wh[0])[-2]) + 1
    wh[1, 12] = 4 * int(np.sort(wh[1])[-2])  # exactly 400 %: not above
    result = run(make_block(wh, first_day=MONDAY))
    assert fired(result, "V07") == [0]
    assert np.flatnonzero(result.interval_bits[0] & rule_bit("V07")).tolist() == [12]
    assert result.estimate[0, 12], "a spike is handed to estimation"


def test_v07_no_spike_on_a_near_empty_day() -> None:
    wh = np.full((1, 24), 10, np.int32) + np.arange(24, dtype=np.int32)
    wh[0, 5] = 500  # 15x the third-highest, but half a kWh
    assert fired(run(make_block(wh, first_day=MONDAY)), "V07") == []


# ---------------------------------------------------------------------------- V08


def test_v08_zero_day_on_the_delivered_channel_only() -> None:
    delivered = make_block(np.zeros((1, 24)), first_day=MONDAY, channel=1)
    received = make_block(np.zeros((1, 24)), first_day=MONDAY, channel=2)
    result = run(join(delivered, received, make_block(load(1), first_day=MONDAY, meter=2)))
    assert fired(result, "V08") == [0]


def test_v08_three_identical_non_zero_reads_are_frozen_two_are_not() -> None:
    wh = load(3)
    wh[0, 4:7] = 512
    wh[1, 4:6] = 512
    wh[2, 4:8] = 0  # zeros are not frozen values
    result = run(make_block(wh, first_day=MONDAY))
    assert fired(result, "V08") == [0]
    assert np.flatnonzero(result.interval_bits[0] & rule_bit("V08")).tolist() == [4, 5, 6]


# ---------------------------------------------------------------------------- V09 V10 V11


def test_v09_negative_energy_on_either_channel() -> None:
    received = make_block(load(2), first_day=MONDAY, channel=2)
    received.wh[1, 3] = -40
    result = run(join(make_block(load(2), first_day=MONDAY), received))
    assert fired(result, "V09") == [3]


def test_v10_outage_is_accepted_and_kept_out_of_history() -> None:
    wh = load(9)
    wh[8] *= 10
    block = make_block(wh, first_day=MONDAY)
    block.flags[8, 2] |= F.OUTAGE
    block.wh[8, 2] = 0
    result = run(block)
    assert fired(result, "V10") == [8]
    assert not result.failed[8, 2] and result.flags[8, 2] & F.VALIDATED
    avg, days = average_daily_wh(block)
    assert days[0] == 7 and avg[0] < 2 * block.wh[1].sum(), "the outage day is not history"
    assert fired(result, "V06") == [], "an outage day is not judged high or low"


def test_v11_reads_for_meters_not_linked_to_an_enrolled_sdp() -> None:
    block = join(
        make_block(load(1), first_day=MONDAY), make_block(load(1), first_day=MONDAY, meter=2)
    )
    result = run(block, enrolled=np.array([True, False]))
    assert fired(result, "V11") == [1] and result.failed[1].all()
    assert fired(run(block), "V11") == []


# ---------------------------------------------------------------------------- V14 V16


def estimated_days(count: int, clean: list[int]) -> DayBlock:
    block = make_block(load(count), first_day=MONDAY)
    block.flags[:, 3] |= np.uint8(F.ESTIMATED)
    block.flags[clean, 3] = F.RECEIVED
    return block


def test_v14_fires_after_seven_consecutive_estimated_days() -> None:
    assert fired(run(estimated_days(10, [])), "V14") == [7, 8, 9]
    assert fired(run(estimated_days(10, [4])), "V14") == []


def test_v14_days_before_the_block_count() -> None:
    block = estimated_days(4, [])
    prior = np.array([5, 0, 0, 0])
    result = run(block, prior_estimated_days=prior)
    assert fired(result, "V14") == [2, 3]
    assert result.rules["V14"].detail["estimated_days"].tolist() == [6, 7, 8, 9]


def test_v16_ldc_daily_read_success_against_98_percent() -> None:
    blocks = [make_block(load(3), first_day=MONDAY, meter=m) for m in (1, 2, 3, 4)]
    set_missing(blocks[0], 1, [10])  # LDC 1: 71 of 72 reads on the local day (98.6 %)
    set_missing(blocks[3], 1, [10])  # LDC 2: 23 of 24 (95.8 %)
    result = run(join(*blocks), ldc=np.repeat([1, 1, 1, 2], 3))
    table = result.rules["V16"].table
    day = table["local_day"] == MONDAY + 1
    assert table["ldc"][day].tolist() == [1, 2] and table["ok"][day].tolist() == [True, False]
    # Local day MONDAY + 1 starts at 04:00 UTC: UTC rows 1 and 2 of meter 4.
    assert fired(result, "V16") == [10, 11], "the rows of LDC 2's failing local day"
    assert (MONDAY - 1) not in table["local_day"], "a local day only partly loaded is not judged"


# ---------------------------------------------------------------------------- the driver


def test_failed_rules_set_failed_others_validated() -> None:
    wh = load(2)
    wh[1, 6] = -10
    block = make_block(wh, first_day=MONDAY)
    set_missing(block, 0, [2])
    result = run(block)
    assert result.flags[1, 6] & F.FAILED and not result.flags[1, 6] & F.VALIDATED
    assert result.flags[1, 5] & F.VALIDATED and not result.flags[1, 5] & F.FAILED
    assert not result.flags[0, 2] & (F.VALIDATED | F.FAILED), "missing: neither"
    assert result.estimate[0, 2] and result.estimate[1, 6] and result.estimate.sum() == 2
    assert result.day_bits[1] == rule_bit("V09") and result.day_bits[0] == rule_bit("V01")
    assert result.interval_bits.dtype == np.uint32
    assert block.flags[1, 6] == F.RECEIVED, "the input block is not modified"


def test_an_edited_interval_is_not_failed_again() -> None:
    wh = load(1)
    wh[0, 6] = -10
    block = make_block(wh, first_day=MONDAY)
    block.flags[0, 6] |= F.EDITED
    result = run(block)
    assert result.interval_bits[0, 6] & rule_bit("V09"), "the rule still reports it"
    assert not result.failed[0, 6] and not result.estimate[0, 6]


def test_disabled_rule_and_settings_from_a_plain_dict() -> None:
    wh = load(1)
    wh[0, 6] = -10
    block = make_block(wh, first_day=MONDAY)
    enabled = [r for r in ValidationSettings().enabled if r != "V09"]
    v_settings, e_settings = vee_settings({"enabled": enabled, "e2_max_gap_minutes": 120})
    assert fired(run(block, settings=v_settings), "V09") == []
    assert e_settings.e2_max_gap_minutes == 120 and isinstance(v_settings.enabled, frozenset)
    with pytest.raises(ValueError, match="v07_spike_ratoi"):
        vee_settings({"v07_spike_ratoi": 5})


def test_explain_names_each_rule_that_fired_with_its_figures() -> None:
    wh = load(1)
    wh[0, 6] = -10
    lines = run(make_block(wh, first_day=MONDAY)).explain(0)
    assert lines == ["V09 negative energy: negative=1"]


def test_empty_block_validates() -> None:
    empty = DayBlock.empty(np.empty(0, np.int64), 60)
    result = validate(empty, ValidationContext(now_s=MONDAY * DAY_S))
    assert result.interval_bits.shape == (0, 24) and result.day_bits.shape == (0,)


def test_validation_is_one_pass_over_many_meter_days() -> None:
    """10,000 meter-days in one call: every rule vectorised (no loop per interval or day)."""
    blocks = [make_block(load(10), first_day=MONDAY, meter=m) for m in range(1, 1001)]
    block = join(*blocks)
    set_missing(block, 500, [3])
    result = run(block, enrolled=np.ones(len(block), bool))
    assert len(block) == 10_000 and fired(result, "V01") == [500]
    assert dataclasses.asdict(ValidationSettings())["v16_success_target"] == 0.98


# ---------------------------------------------------------------------------- issue 20 inputs


def test_v02_intervals_at_the_registry_multiplier_times_the_register_fire() -> None:
    block = make_block(load(2), first_day=MONDAY)
    day_wh = int(block.wh[0].sum())
    m = np.array([40.0, 40.0])
    # The head-end applied the SDP's multiplier to the intervals twice: 40 x the register.
    twice = run(block, registers=registers(block, 0, day_wh // 40), registry_multiplier=m)
    assert fired(twice, "V02") == [0]
    assert twice.rules["V02"].detail["interval_to_register"][0] == pytest.approx(40, rel=0.01)
    right = run(block, registers=registers(block, 0, day_wh), registry_multiplier=m)
    assert fired(right, "V02") == []
    # Without the registry's multiplier (its input) the same reads pass V02.
    assert fired(run(block, registers=registers(block, 0, day_wh // 40)), "V02") == []


def test_v03_the_exception_carries_the_stored_and_the_new_value() -> None:
    block = make_block(load(1), first_day=MONDAY)
    previous = block.wh.astype(np.int64).copy()
    block.wh[0, 5] = block.raw_wh[0, 5] = 999
    previous[0, 5] = 300
    conflict = np.zeros(block.wh.shape, bool)
    conflict[0, 5] = True
    result = run(block, conflict=conflict, previous_wh=previous)
    assert fired(result, "V03") == [0]
    line = result.explain(0)[0]
    assert "stored_wh=300" in line and "new_wh=999" in line and "first_conflict_slot=5" in line
    assert fired(run(block), "V03") == []  # without its input V03 cannot see it


def test_v12_a_day_against_the_same_weekday_of_the_last_three_weeks() -> None:
    wh = load(22)
    wh[21] *= 5  # the fourth Monday: five times the three Mondays before
    block = make_block(wh, first_day=MONDAY)
    result = run(block, settings=ValidationSettings(enabled=frozenset({"V12"})))
    assert fired(result, "V12") == [21]
    assert result.rules["V12"].detail["weeks"][21] == 3
    # Without the SDP's own history (the weeks before), V12 has nothing to compare with.
    alone = make_block(wh[21:], first_day=MONDAY + 21)
    assert fired(run(alone, settings=ValidationSettings(enabled=frozenset({"V12"}))), "V12") == []
