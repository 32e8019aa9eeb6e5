"""VEE estimation as vectorised functions over day blocks (pure numpy, no ORM).

``estimate`` fills the target intervals of a block in the order of issue 4 and flags each with
the method that gave its value (uint8: 0 none, 2 E2 ... 6 E6):

- E2 linear interpolation across gaps of at most 3 hours between valid neighbours (across midnight
  too, within one meter channel's consecutive days);
- E3 like-day: each missing interval from the average of the 3 nearest like days (weekdays with
  weekdays; weekends with holidays) within 3 weeks, matched on local wall-clock time; a day with
  an outage, estimated, failed, missing or target interval is never a like day;
- E4 where two register reads bound the gap (a span the block holds whole, nothing in it unknown
  but the targets), every target in it is rescaled so that actuals + estimates equal the register
  delta exactly, in whole Wh (largest remainder); the E2/E3 estimate gives the shape, else the
  profile, else an even share; those intervals then carry code 4;
- E5 the rate class's load profile for meter channels without history;
- E6 the average daily load, spread flat, as the last resort.

The input block is never modified (pre-VEE values stay as received); new arrays are returned.
E8 (actuals replace estimates; a final estimate is never replaced by another estimate) is
``supersede`` below, and ``estimate`` never targets an interval marked final.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.day_arrays import DayBlock
from meters.reads.runs import sorted_unique
from meters.vee.rules import (
    DAY_MASK,
    TORONTO,
    F,
    LocalGrid,
    RegisterReads,
    average_daily_wh,
    disjoint,
    group_index,
    history_rows,
    local_grid,
    range_sums,
    ranges,
    register_spans,
    segment_starts,
    settings_from_dict,
)

# Neighbours and like days must hold a real, accepted reading.
NOT_ANCHOR = F.MISSING | F.ESTIMATED | F.FAILED | F.OUTAGE
METHODS = ("E2", "E3", "E4", "E5", "E6")


class Method(enum.IntEnum):
    """The estimation method code stored with each interval (uint8)."""

    NONE = 0
    LINEAR = 2  # E2
    LIKE_DAY = 3  # E3
    REGISTER = 4  # E4
    PROFILE = 5  # E5
    AVERAGE = 6  # E6


@dataclass(frozen=True)
class EstimationSettings:
    """Per-LDC estimation parameters; defaults from issue 4 (others noted as our choice)."""

    methods: frozenset[str] = frozenset(METHODS)
    e2_max_gap_minutes: int = 180
    e3_like_days: int = 3
    e3_window_days: int = 21
    e3_min_days: int = 1  # our choice: fewer than 3 like days still beat a class profile
    e3_past_only: bool = False  # our choice: nearest in either direction, the earlier on a tie

    def __post_init__(self) -> None:
        if not self.methods <= set(METHODS):
            unknown = ", ".join(sorted(self.methods - set(METHODS)))
            raise ValueError(f"unknown estimation methods: {unknown}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EstimationSettings:
        """Settings from a plain dict of per-LDC overrides."""
        return settings_from_dict(cls, data)


@dataclass
class EstimationContext:
    """Inputs beyond the block; each optional one enables or informs its method."""

    tz: ZoneInfo = TORONTO
    # Local day numbers treated like weekends (billing.holidays.holiday_days(first, last)).
    holidays: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    registers: RegisterReads | None = None  # E4
    # E5: Wh per local hour (24) or interval (n); (m,), (K, m) or (K, 2, m) (the row's first
    # and second local day, see meters.vee.profiles.row_profiles)
    profile: np.ndarray | None = None
    avg_daily_wh: np.ndarray | None = None  # (K,) E6; None: from the block's history days
    has_history: np.ndarray | None = None  # (K,) E5 only where False; None: from the block
    final: np.ndarray | None = None  # (K, n) final estimates: never replaced by an estimate
    installed: np.ndarray | None = None  # (K, n) intervals the meter was installed at an SDP


@dataclass
class EstimationResult:
    """New current values and flags, the method of each interval, and what stayed unfilled."""

    wh: np.ndarray  # int32 (K, n)
    flags: np.ndarray  # uint8 (K, n): ESTIMATED set, MISSING/FAILED/VALIDATED cleared where filled
    method: np.ndarray  # uint8 (K, n) Method codes, 0 where not estimated
    unfilled: np.ndarray  # bool (K, n) targets no method could fill

    @property
    def estimated(self) -> np.ndarray:
        return self.method > 0


Filled = tuple[np.ndarray, np.ndarray]  # flat positions and their estimates (float Wh)


@dataclass
class _Work:
    """Estimates so far (float Wh, NaN where none) and their method codes."""

    values: np.ndarray
    method: np.ndarray
    target: np.ndarray

    @property
    def todo(self) -> np.ndarray:
        return self.target & (self.method == 0)

    def put(self, filled: Filled, code: Method) -> None:
        pos, values = filled
        self.values.ravel()[pos] = values
        self.method.ravel()[pos] = code


def estimate(
    block: DayBlock,
    target: np.ndarray,
    context: EstimationContext | None = None,
    settings: EstimationSettings | None = None,
) -> EstimationResult:
    """Fill the target intervals (e.g. ValidationResult.estimate) by E2, E3, E4, E5, E6 in order."""
    ctx, s = context or EstimationContext(), settings or EstimationSettings()
    target = np.asarray(target, bool) & ((block.flags & F.EDITED) == 0)
    if ctx.installed is not None:
        target &= np.asarray(ctx.installed, bool)  # no estimate before or after an installation
    if ctx.final is not None:
        target &= ~np.asarray(ctx.final, bool)  # E8: a final estimate stays
    anchors = ((block.flags & NOT_ANCHOR) == 0) & ~target
    work = _Work(np.full(block.wh.shape, np.nan), np.zeros(block.wh.shape, np.uint8), target)
    grid = local_grid(block, ctx.tz) if len(block) else None
    profile = profile_at(ctx.profile, grid, block.minutes)
    if "E2" in s.methods:
        work.put(e2_linear(block, anchors, work.todo, s.e2_max_gap_minutes), Method.LINEAR)
    if "E3" in s.methods and grid is not None:
        work.put(e3_like_day(block.wh, anchors, work.todo, grid, ctx.holidays, s), Method.LIKE_DAY)
    if "E4" in s.methods and ctx.registers is not None and len(block):
        scaled = e4_register(block, target, work.values, ctx.registers, profile)
        work.put(scaled, Method.REGISTER)
    if "E5" in s.methods and ctx.profile is not None:
        # A meter channel without history (no like day, no average: a new meter): the rate
        # class's profile, scaled to the meter's own level where its day shows one.
        pos = np.flatnonzero(work.todo & ~_has_history(block, target, ctx)[:, None])
        value = profile(pos) * _profile_scale(block, anchors, profile)[pos // block.wh.shape[1]]
        work.put((pos[np.isfinite(value)], value[np.isfinite(value)]), Method.PROFILE)
    if "E6" in s.methods:
        work.put(e6_average(block, work.todo, ctx), Method.AVERAGE)
    return _finish(block, work)


def _finish(block: DayBlock, work: _Work) -> EstimationResult:
    """New arrays: estimates in whole Wh with ESTIMATED set; everything else as it was."""
    pos = np.flatnonzero(work.method)
    wh, flags = block.wh.copy(), block.flags.copy()
    wh.ravel()[pos] = np.rint(work.values.ravel()[pos])
    cleared = flags.ravel()[pos] & np.uint8(0xFF ^ (F.MISSING | F.FAILED))
    # An estimate is VEE's own output: it counts as validated (billing may use it), as the
    # next validation of the same day would also say; so VEE twice changes nothing.
    flags.ravel()[pos] = cleared | np.uint8(F.ESTIMATED | F.VALIDATED)
    return EstimationResult(wh, flags, work.method, work.target & (work.method == 0))


# ---------------------------------------------------------------------------- E2


def e2_linear(
    block: DayBlock, anchors: np.ndarray, todo: np.ndarray, max_gap_minutes: int
) -> Filled:
    """E2: straight line between the valid neighbours of gaps of at most max_gap_minutes."""
    k, n = block.wh.shape
    pos = np.flatnonzero(todo.ravel())
    if pos.size == 0:
        return pos, np.empty(0)
    # Gaps are the runs of positions that are not valid neighbours (few): no pass per interval.
    gap = np.flatnonzero(~anchors.ravel())
    cut = np.flatnonzero(np.diff(gap) != 1)
    first, last = np.r_[gap[0], gap[cut + 1]], np.r_[gap[cut], gap[-1]]
    prev, nxt = first - 1, last + 1
    ok = (prev >= 0) & (nxt < k * n) & (last - first + 1 <= max_gap_minutes // block.minutes)
    # Consecutive days of one meter channel are one time line: a gap may span midnight.
    seg = np.cumsum(segment_starts(block.key))
    ok &= seg[prev.clip(0) // n] == seg[nxt.clip(max=k * n - 1) // n]
    run = np.searchsorted(first, pos, side="right") - 1
    keep = ok[run]
    pos, prev, nxt = pos[keep], prev[run[keep]], nxt[run[keep]]
    flat = block.wh.ravel()
    low, high = flat[prev].astype(np.float64), flat[nxt].astype(np.float64)
    return pos, low + (high - low) * (pos - prev) / (nxt - prev)


# ---------------------------------------------------------------------------- E3


def e3_like_day(
    wh: np.ndarray,
    anchors: np.ndarray,
    todo: np.ndarray,
    grid: LocalGrid,
    holidays: np.ndarray,
    s: EstimationSettings,
) -> Filled:
    """E3: each target interval from the mean of the nearest like days at the same wall time."""
    pos = np.flatnonzero(todo.ravel())
    if pos.size == 0:
        return pos, np.empty(0)
    # A like day is a whole local day in the block, every interval an accepted actual read.
    usable = (grid.sums(anchors) == grid.expected) & (grid.in_block == grid.expected)
    group = grid.group_at(pos)
    wanted, row = np.unique(group, return_inverse=True)
    chosen = _like_days(grid, usable, wanted, holidays, s)
    table, rank = _day_table(wh, grid, chosen)
    wall = grid.wall_at(pos)
    total, count = np.zeros(pos.size), np.zeros(pos.size)
    for j in range(chosen.shape[1]):
        day = chosen[row, j]
        value = np.where(day >= 0, table[rank[day.clip(min=0)], wall], np.nan)
        seen = np.isfinite(value)  # a 23-hour like day lacks one wall-clock hour
        total += np.where(seen, value, 0.0)
        count += seen
    ok = (count > 0) & ((chosen >= 0).sum(axis=1)[row] >= s.e3_min_days)
    return pos[ok], total[ok] / count[ok]


def like_day_class(local_days: np.ndarray, holidays: np.ndarray) -> np.ndarray:
    """True for weekend days and holidays (one class), False for working weekdays."""
    days = np.asarray(local_days, np.int64)
    # 1970-01-01 was a Thursday: (day + 3) % 7 numbers Monday 0 ... Sunday 6.
    return ((days + 3) % 7 >= 5) | np.isin(days, np.asarray(holidays, np.int64))


def _like_days(
    grid: LocalGrid,
    usable: np.ndarray,
    wanted: np.ndarray,
    holidays: np.ndarray,
    s: EstimationSettings,
) -> np.ndarray:
    """(T, e3_like_days) local-day groups chosen for each wanted group, nearest first; -1 none."""
    steps = np.arange(1, s.e3_window_days + 1)
    # Nearest first; on equal distance the earlier day (already history) comes first.
    offsets = -steps if s.e3_past_only else np.stack([-steps, steps], axis=1).ravel()
    # The day is the low bits of the key: key + offset is the same meter channel's other day.
    ckey = grid.key[wanted][:, None] + offsets[None, :]
    pos = np.searchsorted(grid.key, ckey).clip(max=grid.key.shape[0] - 1)
    kind = like_day_class(grid.key & DAY_MASK, holidays)
    ok = (grid.key[pos] == ckey) & usable[pos] & (kind[pos] == kind[wanted][:, None])
    rank = np.cumsum(ok, axis=1)
    chosen = np.full((wanted.shape[0], s.e3_like_days), -1, np.int64)
    for j in range(s.e3_like_days):
        hit = ok & (rank == j + 1)
        has = hit.any(axis=1)
        chosen[has, j] = pos[has, hit[has].argmax(axis=1)]
    return chosen


def _day_table(
    wh: np.ndarray, grid: LocalGrid, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Values of the chosen like days by wall-clock slot (NaN for an hour a DST day lacks)."""
    days = sorted_unique(chosen[chosen >= 0])
    rank = np.zeros(grid.key.shape[0], np.int64)
    rank[days] = np.arange(days.shape[0])
    table = np.full((max(days.shape[0], 1), grid.n), np.nan)
    # A group is one contiguous run of the flattened block, held whole (it is usable).
    pos, which = ranges(grid.first[days], grid.first[days] + grid.expected[days])
    table[which, grid.wall_at(pos)] = wh.ravel()[pos]
    return table, rank


# ---------------------------------------------------------------------------- E4


def e4_register(
    block: DayBlock,
    target: np.ndarray,
    values: np.ndarray,
    reads: RegisterReads,
    profile: Callable[[np.ndarray], np.ndarray],
) -> Filled:
    """E4: scale the targets of each register-bounded span so it sums to the register delta."""
    spans = register_spans(block, reads)
    present = (block.flags & F.MISSING) == 0
    residual = spans.delta_wh - range_sums(np.where(~target & present, block.wh, 0), spans)
    # Only a span we hold whole, with nothing unknown but the targets, and energy left to share.
    usable = spans.complete & (range_sums(~target & ~present, spans) == 0) & (residual >= 0)
    usable &= disjoint(spans)
    span = np.flatnonzero(usable)
    span = span[np.argsort(spans.a[span])]
    pos = np.flatnonzero(target.ravel())
    sid = np.searchsorted(spans.a[span], pos, side="right") - 1
    inside = sid >= 0
    inside[inside] = pos[inside] < spans.b[span[sid[inside]]]
    pos, sid = pos[inside], sid[inside]
    shape = _span_shape(values.ravel()[pos], profile(pos), sid, span.shape[0])
    return pos, apportion(shape, sid, residual[span], span.shape[0]).astype(np.float64)


def _span_shape(est: np.ndarray, fallback: np.ndarray, sid: np.ndarray, n_spans: int) -> np.ndarray:
    """Weights to share a span's energy: earlier estimates, else the profile, else the span mean."""
    shape = np.where(np.isnan(est), fallback, est)
    known = np.isfinite(shape)
    count = np.bincount(sid[known], minlength=n_spans)
    mean = np.bincount(sid[known], shape[known], n_spans) / np.maximum(count, 1)
    shape = np.where(known, shape, np.where(count[sid] > 0, mean[sid], 1.0))
    shape = np.clip(shape, 0.0, None)
    total = np.bincount(sid, shape, n_spans)
    return np.where(total[sid] > 0, shape, 1.0)  # nothing to go by: share evenly


def apportion(shape: np.ndarray, group: np.ndarray, total: np.ndarray, n_groups: int) -> np.ndarray:
    """Split each group's integer total in proportion to shape, in integers summing exactly."""
    weight = np.bincount(group, shape, n_groups)
    exact = shape * total[group] / weight[group]
    base = np.floor(exact)
    short = total - np.rint(np.bincount(group, base, n_groups)).astype(np.int64)
    # Largest remainder: the intervals with the largest fractions get the missing watt-hours.
    order = np.lexsort((-(exact - base), group))
    ordered = group[order]
    rank = np.arange(order.shape[0]) - np.searchsorted(ordered, ordered, side="left")
    extra = np.zeros(order.shape[0])
    extra[order] = rank < short[ordered]
    return (base + extra).astype(np.int64)


# ---------------------------------------------------------------------------- E5, E6


def profile_at(
    profile: np.ndarray | None, grid: LocalGrid | None, minutes: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Wh per interval at flat positions from a profile per local hour (24) or interval (n)."""
    if profile is None or grid is None:
        return lambda pos: np.full(pos.shape, np.nan)
    p = np.asarray(profile, np.float64)
    if p.shape[-1] not in (24, grid.n):
        wanted = f"24 values per day (or {grid.n}, one per interval)"
        raise ValueError(f"a load profile has {wanted}, not {p.shape[-1]}")
    hourly = p.shape[-1] == 24 and grid.n != 24

    def at(pos: np.ndarray) -> np.ndarray:
        slot = grid.wall_at(pos)
        slot = slot * minutes // 60 if hourly else slot
        row = pos // grid.n
        if p.ndim == 3:  # (K, 2, m): the row's first and second local day (their day types)
            part = (pos % grid.n >= grid.split[row]).astype(np.int64)
            value = p[row, part, slot]
        else:
            value = p[slot] if p.ndim == 1 else p[row, slot]
        return value * (minutes / 60.0 if hourly else 1.0)

    return at


def _profile_scale(
    block: DayBlock, anchors: np.ndarray, profile: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """(K,) each row's actuals over the profile at the same intervals (a big house is not the
    class average), within [0.2, 5]; 1 where the row has fewer than 3 actuals to go by."""
    k, n = block.wh.shape
    pos = np.flatnonzero(anchors)
    row = pos // n
    expect = profile(pos)
    ok = np.isfinite(expect)
    got = np.bincount(row[ok], block.wh.ravel()[pos[ok]], k)
    base = np.bincount(row[ok], expect[ok], k)
    count = np.bincount(row[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where((count >= 3) & (base > 0), got / base, 1.0)
    return np.clip(scale, 0.2, 5.0)


def _has_history(block: DayBlock, target: np.ndarray, ctx: EstimationContext) -> np.ndarray:
    """(K,) meter channels with at least one clean day in the block (or as the caller says)."""
    if ctx.has_history is not None:
        return np.asarray(ctx.has_history, bool)
    clean = history_rows(block) & ~target.any(axis=1)
    grp = group_index(block.key)
    return np.bincount(grp, weights=clean)[grp] > 0


def e6_average(block: DayBlock, todo: np.ndarray, ctx: EstimationContext) -> Filled:
    """E6: the meter channel's average daily load spread evenly over the day's intervals."""
    if ctx.avg_daily_wh is not None:
        avg = np.broadcast_to(np.asarray(ctx.avg_daily_wh, np.float64), (len(block),))
    else:
        avg = average_daily_wh(block)[0]
    per_interval = avg / block.wh.shape[1]
    known = np.isfinite(per_interval) & (per_interval >= 0)
    pos = np.flatnonzero(todo & known[:, None])
    return pos, per_interval[pos // block.wh.shape[1]]


# ---------------------------------------------------------------------------- E8


@dataclass
class Superseded:
    """The current arrays after later values arrived, and which days need a new version."""

    wh: np.ndarray
    flags: np.ndarray
    method: np.ndarray
    changed: np.ndarray  # bool (K, n)
    new_version: np.ndarray  # bool (K,): a value someone may have used was replaced


def supersede(
    wh: np.ndarray,
    flags: np.ndarray,
    method: np.ndarray,
    *,
    new_wh: np.ndarray,
    new_actual: np.ndarray,
    new_method: np.ndarray,
    final: np.ndarray | None = None,
) -> Superseded:
    """E8: an actual replaces an estimate (new version); an estimate never replaces a final one."""
    edited = (flags & F.EDITED) != 0  # a person's edit stands against both
    take_actual = np.asarray(new_actual, bool) & ~edited
    open_ = (flags & (F.MISSING | F.ESTIMATED | F.FAILED)) != 0
    is_final = np.zeros(wh.shape, bool) if final is None else np.asarray(final, bool)
    take_est = (np.asarray(new_method) > 0) & ~take_actual & ~edited & open_ & ~is_final
    take = take_actual | take_est
    had_value = (flags & F.MISSING) == 0
    out_wh = np.where(take, new_wh, wh).astype(np.int32)
    kept = flags & np.uint8(F.OUTAGE)
    out_flags = np.where(take_actual, kept | np.uint8(F.RECEIVED), flags)
    out_flags = np.where(
        take_est, (flags & np.uint8(F.RECEIVED | F.OUTAGE)) | F.ESTIMATED, out_flags
    )
    out_method = np.where(take_actual, 0, np.where(take_est, new_method, method)).astype(np.uint8)
    changed = take & ((out_wh != wh) | (out_flags != flags) | (out_method != method))
    new_version = (take_actual & had_value & changed).any(axis=1)
    return Superseded(out_wh, out_flags.astype(np.uint8), out_method, changed, new_version)
