"""meters.runs gives exactly numpy's unique and stable argsort, with and without runs."""

import numpy as np
import pytest

from meters import runs


def _arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = [np.empty(0, np.int64), np.array([5]), np.array([3, 3, 3]), np.array([2, 1])]
    for run in (1, 2, 5, 24, 96):
        for size in (7, 100, 1000):
            values = rng.integers(0, 40, size // run + 1)
            out.append(np.repeat(values, run)[:size].astype(np.int64))
    # Runs of different lengths, and a value coming back after others (two meters, one hash).
    out.append(np.array([9, 9, 9, 1, 1, 9, 9, 4, 4, 4, 4, 1], np.uint32))
    return out


@pytest.mark.parametrize("values", _arrays(), ids=lambda a: f"n{a.size}")
def test_runs_match_numpy(values: np.ndarray) -> None:
    assert np.array_equal(runs.unique(values), np.unique(values))
    keys, inverse = runs.unique_inverse(values)
    expected_keys, expected_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(keys, expected_keys)
    assert np.array_equal(inverse, expected_inverse)
    assert np.array_equal(runs.argsort_stable(values), np.argsort(values, kind="stable"))
    assert np.array_equal(runs.per_run(lambda v: v * 3 - 1, values), values * 3 - 1)


def test_stable_order_keeps_file_order_within_a_value() -> None:
    values = np.array([7, 7, 2, 2, 7, 7, 2], np.int64)
    assert runs.argsort_stable(values).tolist() == [2, 3, 6, 0, 1, 4, 5]


@pytest.mark.parametrize(
    "values",
    [
        *_arrays(),
        np.array([True, False, True]),
        np.array([-5, 3, -5, 2**62, -(2**62)], np.int64),
        np.array([200, 3, 200, 0], np.uint8),
        np.random.default_rng(3).integers(-1000, 1000, 5000).astype(np.int32),
    ],
    ids=lambda a: f"{a.dtype}-n{a.size}",
)
def test_sorted_unique_is_numpys_unique(values: np.ndarray) -> None:
    got = runs.sorted_unique(values)
    expected = np.unique(values)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)


def test_sorted_unique_leaves_other_arrays_to_numpy() -> None:
    floats = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    assert np.array_equal(runs.sorted_unique(floats), [1.0, 2.0, np.nan], equal_nan=True)
    texts = np.array(["tou", "tiered", "tou"], dtype=object)
    assert runs.sorted_unique(texts).tolist() == ["tiered", "tou"]
    grid = np.array([[1, 2], [2, 1]])
    assert runs.sorted_unique(grid).tolist() == [1, 2]
