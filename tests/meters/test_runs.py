"""meters.reads.runs gives exactly numpy's unique and stable argsort, with and without runs."""

import numpy as np
import pytest

from meters.reads import runs


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


@pytest.fixture(params=["compiled", "numpy"])
def gather(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """take_runs both ways: the compiled copy (meters/_cruns.c) and numpy's fancy index."""
    if request.param == "numpy":
        monkeypatch.setattr(runs, "_compiled", None)
    elif runs._compiled is None:
        pytest.skip("the compiled gather was not built here")
    return str(request.param)


@pytest.mark.parametrize("values", _arrays(), ids=lambda a: f"n{a.size}")
def test_take_runs_is_the_stable_sort(values: np.ndarray, gather: str) -> None:
    starts, lengths = runs.sorted_runs(values)
    order = np.argsort(values, kind="stable")
    assert np.array_equal(runs.argsort_stable(values), order)
    for dtype in (np.int64, np.int32, np.int16, np.uint8, np.float64):
        column = (np.arange(values.size) * 7 - 3).astype(dtype)
        assert np.array_equal(runs.take_runs(column, starts, lengths), column[order])


def test_take_runs_copies_any_runs(gather: str) -> None:
    values = np.arange(10, 20, dtype=np.int64)
    starts, lengths = np.array([8, 0, 5, 3], np.int64), np.array([2, 1, 0, 3], np.int64)
    assert runs.take_runs(values, starts, lengths).tolist() == [18, 19, 10, 13, 14, 15]
    assert runs.take_runs(
        values[::2], np.array([1], np.int64), np.array([3], np.int64)
    ).tolist() == [
        12,
        14,
        16,
    ]
    empty = np.empty(0, np.int64)
    assert runs.take_runs(values, empty, empty).size == 0


@pytest.mark.skipif(runs._compiled is None, reason="the compiled gather was not built here")
@pytest.mark.parametrize(
    ("starts", "lengths"),
    [([8], [3]), ([-1], [1]), ([0], [-1]), ([9, 0], [1])],
    ids=["past-the-end", "negative-start", "negative-length", "lengths-missing"],
)
def test_compiled_take_runs_refuses_runs_outside_the_array(
    starts: list[int], lengths: list[int]
) -> None:
    values = np.arange(10, dtype=np.int64)
    out = np.empty(max(sum(lengths), 0), np.int64)
    with pytest.raises(ValueError, match="do not fit"):
        runs._compiled.take_runs(
            values, out, np.array(starts, np.int64), np.array(lengths, np.int64), 8
        )
    for many in ([2], [5], [3, 3]):  # the output must be filled exactly, never past its end
        with pytest.raises(ValueError, match="do not fit"):
            runs._compiled.take_runs(
                values,
                np.empty(3, np.int64),
                np.zeros(len(many), np.int64),
                np.array(many, np.int64),
                8,
            )


@pytest.mark.skipif(
    not __import__("os").environ.get("OPENMDMR_REQUIRE_SERVICES"),
    reason="CI (OPENMDMR_REQUIRE_SERVICES) checks that the compiled gather was built",
)
def test_compiled_gather_is_built_in_ci() -> None:
    assert runs._compiled is not None
