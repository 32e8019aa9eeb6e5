"""The merge rules of interval storage, on arrays (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from meters.reads.day_arrays import NEVER, DayBlock, IntervalFlag, incoming_block, merge, merge_new
from meters.reads.interfaces.base import Quality

DAY = 20_520  # 2026-03-07 as days since the epoch
T0 = DAY * 86_400


def block(slots: dict[int, tuple[int, Quality]]) -> DayBlock:
    starts = np.array([T0 + s * 3600 for s in slots], dtype=np.int64)
    wh = np.array([v for v, _ in slots.values()], dtype=np.int64)
    q = np.array([int(q) for _, q in slots.values()], dtype=np.uint8)
    return incoming_block(
        np.ones(len(starts), np.int64), np.ones(len(starts), np.uint8), starts, wh, q, 60
    )


def stored(slots: dict[int, tuple[int, Quality]]) -> DayBlock:
    """What the store holds after receiving ``slots`` into an empty day."""
    incoming = block(slots)
    return merge(DayBlock.empty(incoming.key, 60), incoming).merged


def test_actual_replaces_estimate() -> None:
    result = merge(stored({3: (500, Quality.ESTIMATED)}), block({3: (420, Quality.ACTUAL)}))
    assert result.merged.wh[0, 3] == 420 and result.merged.raw_quality[0, 3] == Quality.ACTUAL
    assert result.merged.flags[0, 3] == IntervalFlag.RECEIVED
    assert result.new_version[0], "an actual replacing an estimate makes a new version (E8)"


def test_actual_filling_a_missing_interval_is_no_new_version() -> None:
    result = merge(stored({3: (0, Quality.MISSING)}), block({3: (420, Quality.ACTUAL)}))
    assert result.merged.wh[0, 3] == 420 and not result.new_version[0]


def test_estimate_does_not_replace_actual() -> None:
    result = merge(stored({3: (420, Quality.ACTUAL)}), block({3: (500, Quality.ESTIMATED)}))
    assert result.merged.wh[0, 3] == 420 and not result.changed[0]


def test_missing_report_never_erases_a_value() -> None:
    result = merge(stored({3: (420, Quality.ACTUAL)}), block({3: (0, Quality.MISSING)}))
    assert result.merged.wh[0, 3] == 420 and not result.changed[0]


def test_missing_report_is_recorded_where_nothing_was() -> None:
    merged = stored({3: (0, Quality.MISSING)})
    assert merged.raw_quality[0, 3] == Quality.MISSING and merged.raw_quality[0, 4] == NEVER
    assert merged.flags[0, 3] & IntervalFlag.MISSING and merged.flags[0, 3] & IntervalFlag.RECEIVED


def test_manual_edit_is_kept_against_later_reads() -> None:
    edited = stored({3: (0, Quality.MISSING)})
    edited.wh[0, 3] = 333
    edited.flags[0, 3] = IntervalFlag.EDITED | IntervalFlag.RECEIVED
    result = merge(edited, block({3: (500, Quality.ESTIMATED)}))
    assert result.merged.wh[0, 3] == 333 and result.merged.flags[0, 3] & IntervalFlag.EDITED
    assert result.merged.raw_wh[0, 3] == 500, "the received value is still kept as raw"


def test_changed_actual_makes_a_new_version() -> None:
    result = merge(
        stored({3: (420, Quality.ACTUAL), 4: (100, Quality.ACTUAL)}),
        block({3: (421, Quality.ACTUAL)}),
    )
    assert result.new_version[0] and result.merged.version[0] == 2
    assert result.merged.wh[0, 3] == 421 and result.merged.wh[0, 4] == 100


def test_same_reads_again_change_nothing() -> None:
    slots = {h: (100 + h, Quality.ACTUAL) for h in range(24)} | {5: (0, Quality.MISSING)}
    result = merge(stored(slots), block(slots))
    assert not result.changed.any() and not result.new_version.any()


@pytest.mark.parametrize("seed", range(5))
def test_merge_new_is_merge_into_empty_days(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, 1 << 40, 50))
    incoming = DayBlock.empty(keys, 60)
    received = rng.random(incoming.raw_quality.shape) < 0.7
    quality = rng.choice(
        [Quality.ACTUAL, Quality.ESTIMATED, Quality.MISSING, Quality.SUSPECT], received.shape
    )
    incoming.raw_quality[received] = quality[received]
    values = rng.integers(0, 5000, received.shape)
    incoming.raw_wh[received & (incoming.raw_quality != Quality.MISSING)] = values[
        received & (incoming.raw_quality != Quality.MISSING)
    ]
    incoming.raw_quality[3] = NEVER  # a day with nothing received
    incoming.raw_wh[3] = 0
    expected, fast = merge(DayBlock.empty(keys, 60), incoming), merge_new(incoming)
    assert np.array_equal(fast.changed, expected.changed)
    assert np.array_equal(fast.new_version, expected.new_version)
    for name in ("key", "wh", "flags", "raw_wh", "raw_quality", "version"):
        ours, theirs = getattr(fast.merged, name), getattr(expected.merged, name)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name


def test_a_later_mention_in_one_delivery_wins() -> None:
    starts = np.array([T0, T0 + 3600, T0, T0 + 7200, T0], dtype=np.int64)
    wh = np.array([100, 200, 300, 400, 500], dtype=np.int64)
    quality = np.array([Quality.ESTIMATED, Quality.ACTUAL, Quality.ACTUAL, Quality.ACTUAL,
                        Quality.SUSPECT], dtype=np.uint8)  # fmt: skip
    ones = np.ones(len(starts), np.int64)
    day = incoming_block(ones, ones.astype(np.uint8), starts, wh, quality, 60)
    assert day.raw_wh[0, :3].tolist() == [500, 200, 400]
    assert day.raw_quality[0, :3].tolist() == [Quality.SUSPECT, Quality.ACTUAL, Quality.ACTUAL]
