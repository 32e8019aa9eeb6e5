"""VEE validation rules as vectorised functions over day blocks (pure numpy, no ORM).

Each rule ``Vnn`` is a function ``(facts, context, settings) -> RuleResult`` over the K rows of a
:class:`~meters.storage.DayBlock` (UTC meter-channel-days, n intervals each). It returns which
intervals (K, n) and which days (K,) it fired on, plus arrays that explain why. ``validate`` runs
the enabled rules and ORs their bits: rule ``Vnn`` is bit ``nn`` of a uint32 (V01 is ``1 << 1``).
Rule ids and default limits are those of issue 4; the limits are per-LDC data
(:class:`ValidationSettings`), never code.

Rows are sorted by ``day_key`` (meter, channel, day), so one meter channel's days are adjacent
and in day order, and the key of the next calendar day is ``key + 1``: runs across days need no
join.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.day_arrays import DAY_S, DayBlock, IntervalFlag, day_key
from meters.reads.interfaces.base import Quality
from portal.calendar.localtime import local_day_bounds, utc_offsets


class F:
    """IntervalFlag bits as plain ints: numpy is ~15x slower with an IntFlag operand."""

    RECEIVED = int(IntervalFlag.RECEIVED)
    MISSING = int(IntervalFlag.MISSING)
    ESTIMATED = int(IntervalFlag.ESTIMATED)
    SUSPECT = int(IntervalFlag.SUSPECT)
    EDITED = int(IntervalFlag.EDITED)
    VALIDATED = int(IntervalFlag.VALIDATED)
    FAILED = int(IntervalFlag.FAILED)
    OUTAGE = int(IntervalFlag.OUTAGE)


TORONTO = ZoneInfo("America/Toronto")
DAY_MASK = (1 << 20) - 1  # the day bits of a day_key
RULE_IDS = (
    "V01", "V02", "V03", "V04", "V05", "V06", "V07",
    "V08", "V09", "V10", "V11", "V12", "V14", "V16",
)  # fmt: skip
RULE_TITLES = {
    "V01": "missing intervals",
    "V02": "interval length, unit or multiplier implausible",
    "V03": "duplicate or conflicting intervals",
    "V04": "time check: future, off the interval grid, or head-end clock error",
    "V05": "interval sum does not match the register reads",
    "V06": "daily usage high or low against the meter's own average",
    "V07": "spike: highest interval against the third-highest",
    "V08": "zero day or frozen values",
    "V09": "negative energy",
    "V10": "head-end outage (accepted, excluded from history)",
    "V11": "reads for a meter not linked to an enrolled SDP",
    "V12": "daily usage against the same weekday of the SDP's last weeks",
    "V14": "prolonged estimation",
    "V16": "LDC daily read success below target",
}
# Flags that make a day unusable as history (issue 4, E3): outage, estimated, failed, or no value.
NOT_HISTORY = F.MISSING | F.ESTIMATED | F.FAILED | F.OUTAGE


def rule_bit(rule_id: str) -> int:
    """The uint32 bit of a rule id: V07 -> 1 << 7."""
    return 1 << int(rule_id[1:])


S = TypeVar("S")


def settings_from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
    """A settings dataclass from a plain dict (JSON from the database); other keys are ignored."""
    defaults = cls()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kind = type(getattr(defaults, f.name))
            # JSON has no tuples or sets: coerce lists back to the type of the default.
            values[f.name] = kind(data[f.name]) if kind in (tuple, frozenset) else data[f.name]
    return dataclasses.replace(defaults, **values)  # type: ignore[type-var]


@dataclass(frozen=True)
class ValidationSettings:
    """Per-LDC validation parameters; defaults from issue 4 (others noted as our choice)."""

    enabled: frozenset[str] = frozenset(RULE_IDS)
    # Rules whose intervals are marked FAILED (exception queue) / handed to estimation.
    fail_rules: frozenset[str] = frozenset(
        {"V02", "V03", "V04", "V05", "V06", "V07", "V08", "V09", "V11", "V12"}
    )
    estimate_rules: frozenset[str] = frozenset({"V01", "V02", "V07", "V09"})
    v02_allowed_minutes: tuple[int, ...] = (5, 15, 30, 60)
    v02_max_kw: float = 100.0  # our choice: above GS<50 kW peaks, far below a x1000 unit error
    # Interval energy against the register delta at exactly the registry's multiplier (or its
    # inverse), within this share: the multiplier applied twice or not at all (V02).
    v02_multiplier_tolerance: float = 0.02
    v04_future_tolerance_s: int = 0
    v05_tolerance_wh: int = 1000  # max(1 kWh, 1 %)
    v05_tolerance_fraction: float = 0.01
    # Measurement Canada's universal solution: billed kWh reconcile to the register; when on,
    # a span failing V05 goes to estimation, where E4 scales it to the register delta.
    v05_scale_to_register: bool = False
    v06_high_ratio: float = 3.0  # above 300 %
    v06_low_ratio: float = 0.1  # below 10 %
    v06_min_history_days: int = 7  # our choice: an average of fewer days is not "usual"
    v07_spike_ratio: float = 4.0  # above 400 % of the third-highest
    v07_min_peak_wh_per_hour: int = 1000  # our choice: no spikes on near-empty days
    v08_frozen_run: int = 3
    v08_zero_day_channels: tuple[int, ...] = (1,)  # a zero received (export) day is normal
    # Our choice: an SDP with no enrollment date yet (enrollment not tracked) is not flagged;
    # on, only reads on or after the SDP's enrolled_on date pass V11.
    v11_require_enrollment: bool = False
    v12_weeks: int = 3  # same weekdays of the last weeks (HISTORY_DAYS holds three)
    v12_high_ratio: float = 3.0  # our choice: V06's limits, against the same weekdays only
    v12_low_ratio: float = 0.1
    v12_min_day_wh: int = 1000  # our choice: a near-empty SDP's days are not judged
    v14_max_estimated_days: int = 7
    v14_day_fraction: float = 0.0  # a day counts as estimated above this share of its intervals
    v16_success_target: float = 0.98

    def __post_init__(self) -> None:
        unknown = (self.enabled | self.fail_rules | self.estimate_rules) - set(RULE_IDS)
        if unknown:
            raise ValueError(f"unknown validation rules: {', '.join(sorted(unknown))}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationSettings:
        """Settings from a plain dict of per-LDC overrides."""
        return settings_from_dict(cls, data)


@dataclass
class RegisterReads:
    """Register reads bounding spans of one meter channel: the energy is end_wh - start_wh."""

    meter: np.ndarray  # int64 (R,)
    channel: np.ndarray  # int (R,)
    start_s: np.ndarray  # int64 UTC epoch s of the first read
    end_s: np.ndarray  # int64 UTC epoch s of the second read
    start_wh: np.ndarray  # int64 register value (multiplier applied) at start_s
    end_wh: np.ndarray  # int64 register value at end_s

    @property
    def delta_wh(self) -> np.ndarray:
        return np.asarray(self.end_wh, np.int64) - np.asarray(self.start_wh, np.int64)

    @classmethod
    def consecutive(
        cls, meter: np.ndarray, channel: np.ndarray, read_at_s: np.ndarray, wh: np.ndarray
    ) -> RegisterReads:
        """Spans between each register read and the next one of the same meter channel."""
        meter, channel = np.asarray(meter, np.int64), np.asarray(channel, np.int64)
        at, wh = np.asarray(read_at_s, np.int64), np.asarray(wh, np.int64)
        order = np.lexsort((at, channel, meter))
        meter, channel, at, wh = meter[order], channel[order], at[order], wh[order]
        pair = np.flatnonzero((meter[1:] == meter[:-1]) & (channel[1:] == channel[:-1]))
        return cls(meter[pair], channel[pair], at[pair], at[pair + 1], wh[pair], wh[pair + 1])


@dataclass
class ValidationContext:
    """What the rules need beyond the block; every optional input switches its check on."""

    now_s: (
        int  # UTC epoch s: intervals ending later are not due (V01) and cannot have a value (V04)
    )
    tz: ZoneInfo = TORONTO
    registers: RegisterReads | None = None  # V05
    avg_daily_wh: np.ndarray | None = None  # (K,) V06 history; None: from the block's clean days
    history_days: np.ndarray | None = None  # (K,) days behind avg_daily_wh
    expected_minutes: np.ndarray | None = None  # (K,) registry interval length, V02
    multiplier: np.ndarray | None = None  # (K,) multiplier the head-end says it applied, V02
    registry_multiplier: np.ndarray | None = None  # (K,) the SDP's service multiplier, V02
    max_kw: np.ndarray | None = None  # (K,) service capacity, V02 (default settings.v02_max_kw)
    conflict: np.ndarray | None = None  # (K, n) bool, V03 (see ``conflicts``)
    previous_wh: np.ndarray | None = None  # (K, n) the stored actual a conflict replaced, V03
    clock_error: np.ndarray | None = None  # (K, n) bool head-end clock-error flags, V04
    off_grid: np.ndarray | None = None  # (K, n) bool reads snapped onto the grid, V04
    enrolled: np.ndarray | None = None  # (K,) bool meter linked to an enrolled SDP, V11
    prior_estimated_days: np.ndarray | None = None  # (K,) estimated days just before the row, V14
    ldc: np.ndarray | None = None  # (K,) int LDC of each row, V16 (default: one LDC)


@dataclass
class RuleResult:
    """Where one rule fired, and arrays that explain it."""

    rule: str
    intervals: np.ndarray | None  # bool (K, n); None for day-only notices (V14, V16)
    days: np.ndarray  # bool (K,)
    detail: dict[str, np.ndarray] = field(default_factory=dict)  # (K,) arrays
    table: dict[str, np.ndarray] = field(default_factory=dict)  # per local day / span / LDC-day


# ---------------------------------------------------------------------------- local days


@dataclass
class LocalGrid:
    """The local (LDC zone) days of a block's intervals, grouped per meter channel and local day.

    A UTC day overlaps two local days: slots [0, split) lie on the first, [split, n) on the next.
    So each row has two parts, and a group (meter channel, local day) is one or two parts of
    adjacent rows: one contiguous range of the flattened block, starting at ``first``.
    """

    n: int
    split: np.ndarray  # (K,)
    part_group: np.ndarray  # (K, 2) group of each part of a row
    key: np.ndarray  # (G,) day_key(meter, channel, local day), sorted
    first: np.ndarray  # (G,) flat position of the group's first interval
    start_s: np.ndarray  # (G,) UTC start of the local day
    end_s: np.ndarray  # (G,) UTC end (23 or 25 hours after the start on DST days)
    expected: np.ndarray  # (G,) intervals in the local day
    in_block: np.ndarray  # (G,) of them held by the block's rows
    wall: np.ndarray  # (U, n) local wall-clock slot (of a 24-hour day) per distinct UTC day
    day_index: np.ndarray  # (K,) each row's distinct UTC day

    @cached_property
    def left(self) -> np.ndarray:
        """(K, n) intervals on the first local day of their row."""
        return np.arange(self.n) < self.split[:, None]

    def sums(self, mask: np.ndarray) -> np.ndarray:
        """(G,) how many intervals of each group a (K, n) mask holds."""
        total = mask.sum(axis=1)
        before = (mask & self.left).sum(axis=1)
        parts = np.stack([before, total - before], axis=1).ravel()
        return np.bincount(self.part_group.ravel(), parts, self.key.shape[0]).astype(np.int64)

    def group_at(self, pos: np.ndarray) -> np.ndarray:
        """Group of flat positions."""
        row, slot = pos // self.n, pos % self.n
        return np.where(slot < self.split[row], self.part_group[row, 0], self.part_group[row, 1])

    def wall_at(self, pos: np.ndarray) -> np.ndarray:
        """Local wall-clock slot of flat positions."""
        return self.wall[self.day_index[pos // self.n], pos % self.n]

    @cached_property
    def wall_slot(self) -> np.ndarray:
        """(K, n) local wall-clock slot of every interval."""
        return self.wall[self.day_index]


def local_grid(block: DayBlock, tz: ZoneInfo) -> LocalGrid:
    """Map the block's intervals to local days (one zone lookup per distinct UTC day)."""
    k, n = block.wh.shape
    step = block.minutes * 60
    days, inverse = np.unique(block.day, return_inverse=True)
    starts = days[:, None] * DAY_S + np.arange(n, dtype=np.int64) * step
    local = starts + utc_offsets(starts.ravel(), tz).reshape(starts.shape)
    lday = local // DAY_S
    if ((lday - lday[:, :1]) > 1).any():
        raise ValueError(f"{tz} puts a UTC day on more than two local days")
    split = (lday == lday[:, :1]).sum(axis=1)[inverse]
    first_day = lday[:, 0][inverse] if k else np.empty(0, np.int64)
    mc = (block.key >> 20) << 20
    part_key = np.stack([mc | first_day, mc | (first_day + 1)], axis=1).ravel()
    part_len = np.stack([split, n - split], axis=1).ravel()
    part_start = (np.arange(k)[:, None] * n + np.stack([np.zeros_like(split), split], 1)).ravel()
    real = np.flatnonzero(part_len > 0)
    keys = part_key[real]
    # Rows are in key order and time runs forward in a row: equal local keys are adjacent.
    new = np.ones(keys.shape[0], bool)
    new[1:] = keys[1:] != keys[:-1]
    part_group = np.zeros(2 * k, np.int64)
    part_group[real] = np.cumsum(new) - 1
    part_group = part_group.reshape(k, 2)
    part_group[split == n, 1] = part_group[split == n, 0]
    key = keys[new]
    start_s, end_s = _local_bounds(key & DAY_MASK, tz)
    in_block = np.bincount(part_group.ravel()[real], part_len[real], key.shape[0])
    return LocalGrid(
        n=n,
        split=split,
        part_group=part_group,
        key=key,
        first=part_start[real][new],
        start_s=start_s,
        end_s=end_s,
        expected=(end_s - start_s) // step,
        in_block=in_block.astype(np.int64),
        wall=(local % DAY_S) // step,
        day_index=inverse,
    )


def _local_bounds(days: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """UTC start and end of each local day (a loop over distinct days only)."""
    unique, inverse = np.unique(days, return_inverse=True)
    bounds = np.array([local_day_bounds(tz, int(d)) for d in unique], np.int64).reshape(-1, 2)
    return bounds[inverse, 0], bounds[inverse, 1]


# ---------------------------------------------------------------------------- shared facts


@dataclass
class Facts:
    """A block with the derived arrays several rules share, each computed once on first use."""

    block: DayBlock
    now_s: int
    tz: ZoneInfo

    @property
    def shape(self) -> tuple[int, int]:
        return self.block.wh.shape

    @cached_property
    def present(self) -> np.ndarray:
        """Intervals with a value."""
        return (self.block.flags & F.MISSING) == 0

    def not_ended(self, t: int) -> np.ndarray:
        """(K, n) intervals that end after UTC instant t."""
        step = self.block.minutes * 60
        ended = np.clip((t - self.block.day * DAY_S) // step, 0, self.shape[1])
        return np.arange(self.shape[1]) >= ended[:, None]

    @cached_property
    def measured(self) -> np.ndarray:
        """Intervals with a value the meter measured (not VEE's estimate, not a person's edit)."""
        return self.present & ~self.has(F.ESTIMATED) & ~self.has(F.EDITED)

    @cached_property
    def future(self) -> np.ndarray:
        """Intervals not ended by now: not due yet."""
        return self.not_ended(self.now_s)

    @cached_property
    def day_wh(self) -> np.ndarray:
        """(K,) int64 sum of the values present."""
        return np.where(self.present, self.block.wh, 0).sum(axis=1, dtype=np.int64)

    @cached_property
    def complete(self) -> np.ndarray:
        """Days with a value in every interval."""
        return np.all(self.present, axis=1)

    @cached_property
    def segment_start(self) -> np.ndarray:
        """Rows whose previous calendar day of the same meter channel is not the previous row."""
        return segment_starts(self.block.key)

    @cached_property
    def local(self) -> LocalGrid:
        return local_grid(self.block, self.tz)

    @cached_property
    def outage_day(self) -> np.ndarray:
        return np.any(self.has(F.OUTAGE), axis=1)

    def has(self, flag: int) -> np.ndarray:
        """Intervals carrying a flag bit."""
        return (self.block.flags & flag) != 0

    def per_row(self, values: np.ndarray | float | None, default: float) -> np.ndarray:
        """A (K,) float array from an optional per-row input."""
        value = default if values is None else values
        return np.broadcast_to(np.asarray(value, np.float64), (self.shape[0],))


def segment_starts(key: np.ndarray) -> np.ndarray:
    """(K,) bool: row starts a run of consecutive days of one meter channel."""
    start = np.ones(key.shape[0], bool)
    start[1:] = key[1:] != key[:-1] + 1  # next day of the same meter channel is key + 1
    return start


def group_index(key: np.ndarray) -> np.ndarray:
    """(K,) index of each row's meter channel among the block's meter channels."""
    mc = key >> 20
    new = np.ones(key.shape[0], bool)
    new[1:] = mc[1:] != mc[:-1]
    return np.cumsum(new) - 1


def history_rows(block: DayBlock) -> np.ndarray:
    """(K,) days usable as history: an actual value everywhere, no outage, estimate or failure."""
    return ((block.flags & NOT_HISTORY) == 0).all(axis=1)


def average_daily_wh(block: DayBlock) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean daily Wh over its meter channel's other history days, and how many."""
    clean = history_rows(block)
    total = block.wh.sum(axis=1, dtype=np.int64)
    grp = group_index(block.key)
    gsum = np.bincount(grp, weights=np.where(clean, total, 0))
    gcount = np.bincount(grp, weights=clean)
    # Leave the day itself out: one abnormal day must not raise its own yardstick.
    count = gcount[grp] - clean
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(count > 0, (gsum[grp] - np.where(clean, total, 0)) / count, np.nan)
    return avg, count.astype(np.int64)


# ---------------------------------------------------------------------------- block mapping


def to_block_mask(
    block: DayBlock, meter: np.ndarray, channel: np.ndarray, start: np.ndarray, on: np.ndarray
) -> np.ndarray:
    """(K, n) mask from per-read booleans (e.g. head-end clock-error flags) at UTC starts."""
    mask = np.zeros(block.wh.shape, bool)
    if len(block) == 0:
        return mask
    start = np.asarray(start, np.int64)
    keys = day_key(meter, channel, start // DAY_S)
    row = np.searchsorted(block.key, keys).clip(max=len(block) - 1)
    hit = np.asarray(on, bool) & (block.key[row] == keys)
    # The slot a read was stored in: incoming_block floors the start onto the grid.
    mask[row[hit], ((start % DAY_S) // (block.minutes * 60))[hit]] = True
    return mask


def off_grid_mask(
    block: DayBlock, meter: np.ndarray, channel: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """(K, n) intervals that received a read whose start was not on the interval grid (V04)."""
    off = np.asarray(start, np.int64) % (block.minutes * 60) != 0
    return to_block_mask(block, meter, channel, start, off)


def conflicts(existing: DayBlock, incoming: DayBlock) -> np.ndarray:
    """(K, n) actual reads that arrived again with a different value (aligned blocks), for V03."""

    def actual(q: np.ndarray) -> np.ndarray:
        return (q == Quality.ACTUAL) | (q == Quality.SUSPECT)

    both = actual(existing.raw_quality) & actual(incoming.raw_quality)
    return both & (existing.raw_wh != incoming.raw_wh)


@dataclass
class Spans:
    """Register spans as ranges [a, b) of positions in the flattened (K * n) block."""

    a: np.ndarray
    b: np.ndarray
    expected: np.ndarray  # intervals in the span
    delta_wh: np.ndarray

    @property
    def complete(self) -> np.ndarray:
        """Spans whose every interval is a position of the block (all their days are rows)."""
        return (self.b - self.a) == self.expected


def register_spans(block: DayBlock, reads: RegisterReads) -> Spans:
    """Locate the whole intervals between each pair of register reads in the flattened block."""
    n = block.wh.shape[1]
    step = block.minutes * 60
    first = -(-np.asarray(reads.start_s, np.int64) // step)  # whole intervals only: ceil / floor
    stop = np.asarray(reads.end_s, np.int64) // step
    stop = np.maximum(stop, first)
    mc = (np.asarray(reads.meter, np.int64), np.asarray(reads.channel, np.int64))

    def flat(slot: np.ndarray) -> np.ndarray:
        keys = day_key(*mc, slot // n)
        row = np.searchsorted(block.key, keys)
        found = block.key[row.clip(max=len(block) - 1)] == keys if len(block) else False
        # A day that is not a row contributes no position: start at the next row.
        return row * n + np.where(found, slot % n, 0)

    return Spans(flat(first), flat(stop), stop - first, reads.delta_wh)


def disjoint(spans: Spans) -> np.ndarray:
    """(R,) spans that overlap no other span (an overlap makes their energies ambiguous)."""
    order = np.argsort(spans.a, kind="stable")
    a, b = spans.a[order], spans.b[order]
    clash = np.zeros(a.shape[0], bool)
    hit = b[:-1] > a[1:]
    clash[:-1] |= hit
    clash[1:] |= hit
    out = np.empty(a.shape[0], bool)
    out[order] = ~clash
    return out


def range_sums(values: np.ndarray, spans: Spans) -> np.ndarray:
    """(R,) int64 sum of flat values over each span, with one cumulative sum."""
    cs = np.zeros(values.size + 1, np.int64)
    np.cumsum(values.ravel(), out=cs[1:], dtype=np.int64)
    return cs[spans.b] - cs[spans.a]


def ranges(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of the ranges [a, b) laid end to end, and the range each came from."""
    length = np.maximum(b - a, 0)
    which = np.repeat(np.arange(a.shape[0]), length)
    offset = np.arange(which.shape[0]) - np.repeat(np.cumsum(length) - length, length)
    return a[which] + offset, which


# ---------------------------------------------------------------------------- the rules


def v01_missing(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V01: due intervals without a value; per local day against 23/24/25-hour expected counts."""
    mask = ~f.present & ~f.future
    grid = f.local
    step = f.block.minutes * 60
    present = grid.sums(f.present & ~f.future)
    due_end = np.minimum(grid.end_s, ctx.now_s // step * step)
    expected = np.maximum(due_end - grid.start_s, 0) // step
    table = {
        "meter": grid.key >> 23,
        "channel": (grid.key >> 20) & 7,
        "local_day": grid.key & DAY_MASK,
        "expected": expected,
        "present": present,
        "missing": expected - present,
        "in_block": grid.in_block,  # == day length: every interval of the local day was loaded
        "day_length": grid.expected,
    }
    return RuleResult("V01", mask, mask.any(axis=1), {"missing": mask.sum(axis=1)}, table)


def v02_plausible(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V02: interval length, and values beyond the service capacity (unit or multiplier wrong)."""
    k = f.shape[0]
    day_bad = np.full(k, f.block.minutes not in s.v02_allowed_minutes)
    if ctx.expected_minutes is not None:
        day_bad |= np.asarray(ctx.expected_minutes) != f.block.minutes
    if ctx.multiplier is not None and ctx.registry_multiplier is not None:
        day_bad |= ~np.isclose(ctx.multiplier, ctx.registry_multiplier)
    ratio = np.full(k, np.nan)
    if ctx.registry_multiplier is not None and ctx.registers is not None:
        ratio = _register_ratio(f, ctx.registers)
        m = np.asarray(ctx.registry_multiplier, np.float64)
        tol = s.v02_multiplier_tolerance
        with np.errstate(invalid="ignore", divide="ignore"):
            # Intervals at M (or 1/M) times the register: the multiplier applied to one twice,
            # or to the other not at all. Any other mismatch is V05's.
            wrong = (m != 1) & ((np.abs(ratio - m) <= tol * m) | (np.abs(ratio - 1 / m) <= tol / m))
        day_bad |= wrong
    limit_wh = f.per_row(ctx.max_kw, s.v02_max_kw) * 1000.0 * f.block.minutes / 60.0
    too_big = f.present & (f.block.wh > limit_wh[:, None])
    mask = too_big | (day_bad[:, None] & f.present)
    detail = {"limit_wh": limit_wh, "length_or_multiplier": day_bad, "too_big": too_big.sum(1)}
    if ctx.registry_multiplier is not None:
        detail |= {"registry_multiplier": f.per_row(ctx.registry_multiplier, 1.0)}
        detail |= {"interval_to_register": ratio}
    return RuleResult("V02", mask, mask.any(axis=1), detail)


def _register_ratio(f: Facts, registers: RegisterReads) -> np.ndarray:
    """(K,) interval energy over register delta of the complete register spans on each row."""
    k, n = f.shape
    out = np.full(k, np.nan)
    if registers.meter.shape[0] == 0 or k == 0:
        return out
    spans = register_spans(f.block, registers)
    total = range_sums(np.where(f.present, f.block.wh, 0), spans)
    whole = spans.complete & (range_sums(f.present, spans) == spans.expected)
    whole &= (spans.delta_wh > 0) & (spans.b > spans.a)
    idx = np.flatnonzero(whole)
    # A span's ratio stands for every row it touches (spans are a day or so: few rows each).
    first, last = spans.a[idx] // n, (spans.b[idx] - 1) // n
    rows, which = ranges(first, last + 1)
    out[rows] = total[idx][which] / spans.delta_wh[idx][which]
    return out


def v03_duplicates(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V03: actual reads that changed (conflicts), and whole days repeated from another day."""
    k = f.shape[0]
    conflict = np.zeros(f.shape, bool) if ctx.conflict is None else np.asarray(ctx.conflict, bool)
    candidate = f.complete & (f.block.wh != 0).any(axis=1)
    # A head-end that re-sends yesterday's day as today's: the next calendar day, identical.
    repeat_prev = np.zeros(k, bool)
    prev = np.flatnonzero(~f.segment_start & candidate)
    prev = prev[candidate[prev - 1]]
    repeat_prev[prev] = (f.block.wh[prev] == f.block.wh[prev - 1]).all(axis=1)
    same = _channel_copies(f.block, candidate)
    day_dup = repeat_prev | same
    mask = conflict | (day_dup[:, None] & f.present)
    detail: dict[str, np.ndarray] = {
        "conflicts": conflict.sum(1),
        "repeats_previous_day": repeat_prev,
        "channel_copy": same,
    }
    if ctx.previous_wh is not None:
        # The exception names the first changed interval with both values (was, now).
        slot = conflict.argmax(axis=1)
        rows = np.arange(k)
        had = conflict.any(axis=1)
        previous = np.asarray(ctx.previous_wh, np.int64)
        detail |= {
            "first_conflict_slot": np.where(had, slot, -1),
            "stored_wh": np.where(had, previous[rows, slot], 0),
            "new_wh": np.where(had, f.block.wh[rows, slot], 0),
        }
    return RuleResult("V03", mask, mask.any(axis=1), detail)


def _channel_copies(block: DayBlock, candidate: np.ndarray) -> np.ndarray:
    """(K,) days sent identically on two channels (delivered copied to received): both suspect."""
    key = block.key
    same = np.zeros(key.shape[0], bool)
    if key.shape[0] < 2 or (key >> 20 & 7).min() == (key >> 20 & 7).max():
        return same
    meter_day = ((key >> 23) << 20) | (key & DAY_MASK)
    order = np.argsort(meter_day, kind="stable")
    a, b = order[:-1], order[1:]
    pair = (meter_day[a] == meter_day[b]) & candidate[a] & candidate[b]
    a, b = a[pair], b[pair]
    equal = (block.wh[a] == block.wh[b]).all(axis=1)
    same[a[equal]] = same[b[equal]] = True
    return same


def v04_time(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V04: values for intervals that have not ended, reads off the grid, head-end clock errors."""
    future = f.present & f.not_ended(ctx.now_s + s.v04_future_tolerance_s)
    mask, detail = future.copy(), {"future": future.sum(1)}
    for name, given in (("clock_error", ctx.clock_error), ("off_grid", ctx.off_grid)):
        if given is not None:
            mask |= np.asarray(given, bool)
            detail[name] = np.asarray(given, bool).sum(1)
    return RuleResult("V04", mask, mask.any(axis=1), detail)


def v05_register_sum(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V05: the interval sum between two register reads within max(1 kWh, 1 %) of their delta."""
    if ctx.registers is None or ctx.registers.meter.shape[0] == 0:
        return RuleResult("V05", np.zeros(f.shape, bool), np.zeros(f.shape[0], bool))
    spans = register_spans(f.block, ctx.registers)
    total = range_sums(np.where(f.present, f.block.wh, 0), spans)
    present = range_sums(f.present, spans)
    missing = spans.expected - present  # includes intervals of days the block does not hold
    tolerance = np.maximum(s.v05_tolerance_wh, s.v05_tolerance_fraction * np.abs(spans.delta_wh))
    diff = total - spans.delta_wh
    # Missing intervals can only add energy: with some missing, only an excess is a failure.
    failed = np.where(missing == 0, np.abs(diff) > tolerance, diff > tolerance)
    mask = np.zeros(f.shape, bool)
    pos = ranges(spans.a[failed], spans.b[failed])[0]
    mask.ravel()[pos] = f.present.ravel()[pos]
    table = {"interval_wh": total, "register_wh": spans.delta_wh, "missing": missing}
    table |= {"tolerance_wh": tolerance, "failed": failed}
    return RuleResult("V05", mask, np.any(mask, axis=1), table=table)


def v06_high_low(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V06: a whole day's usage above 300 % or below 10 % of the meter's own average day."""
    if ctx.avg_daily_wh is None:
        avg, days = average_daily_wh(f.block)
    else:
        avg = f.per_row(ctx.avg_daily_wh, np.nan)
        days = f.per_row(ctx.history_days, s.v06_min_history_days)
    # Partial and outage days would read low for a known reason: V01/V10 report those.
    judged = f.complete & (days >= s.v06_min_history_days) & (avg > 0) & ~f.outage_day
    with np.errstate(invalid="ignore"):
        high = judged & (f.day_wh > s.v06_high_ratio * avg)
        low = judged & (f.day_wh < s.v06_low_ratio * avg)
    day = high | low
    detail = {"day_wh": f.day_wh, "avg_daily_wh": avg, "history_days": days, "high": high}
    return RuleResult("V06", day[:, None] & f.present, day, detail)


def v07_spike(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V07: the day's highest interval above 400 % of its third-highest."""
    k, n = f.shape
    if n < 3:
        return RuleResult("V07", np.zeros(f.shape, bool), np.zeros(k, bool))
    measured = f.measured
    vals = np.where(measured, f.block.wh, np.iinfo(np.int32).min)
    peak = vals.max(axis=1)
    third = np.partition(vals, n - 3, axis=1)[:, n - 3]
    floor_wh = s.v07_min_peak_wh_per_hour * f.block.minutes / 60.0
    # Judge a day on most of its intervals: the UTC rows at the edges of a delivery of local
    # days hold only a few hours, whose evening peak against its night is no spike.
    enough = measured.sum(1) >= max(3, (3 * n) // 4)
    day = enough & (peak > s.v07_spike_ratio * third) & (peak >= floor_wh)
    mask = day[:, None] & measured & (vals == peak[:, None])
    return RuleResult("V07", mask, day, {"peak_wh": peak, "third_highest_wh": third})


def v08_zero_frozen(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V08: a complete day of zeros; runs of 3 or more identical non-zero reads (frozen).

    Only measured values count: a flat estimate (E6) is not a frozen register.
    """
    wh, present = f.block.wh, f.measured
    channels = np.isin(f.block.channel, s.v08_zero_day_channels)
    zero_day = f.complete & ~(wh != 0).any(axis=1) & channels & ~f.outage_day
    frozen = _runs_of_equal(wh, present, max(s.v08_frozen_run, 2))
    mask = frozen | (zero_day[:, None] & present)
    detail = {"zero_day": zero_day, "frozen": frozen.sum(1)}
    return RuleResult("V08", mask, mask.any(axis=1), detail)


def _runs_of_equal(wh: np.ndarray, present: np.ndarray, run: int) -> np.ndarray:
    """(K, n) intervals inside runs of ``run`` or more equal non-zero values (within a row)."""
    out = np.zeros(wh.shape, bool)
    if run > wh.shape[1]:
        return out  # a run longer than the row never fits in it
    same = present[:, 1:] & present[:, :-1] & (wh[:, 1:] == wh[:, :-1]) & (wh[:, 1:] != 0)
    # ``run`` equal reads are ``run - 1`` equal neighbours in a row; start i covers i..i+run-1.
    starts = same[:, : same.shape[1] - run + 2].copy()
    for j in range(1, run - 1):
        starts &= same[:, j : j + starts.shape[1]]
    for j in range(run):
        out[:, j : j + starts.shape[1]] |= starts
    return out


def v09_negative(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V09: negative energy; each channel is its own direction, so no channel may go below zero."""
    mask = f.present & (f.block.wh < 0)
    return RuleResult("V09", mask, np.any(mask, axis=1), {"negative": mask.sum(1)})


def v10_outage(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V10: head-end outage flags: accepted as they are, and the day is not used as history."""
    mask = f.has(F.OUTAGE)
    return RuleResult("V10", mask, np.any(mask, axis=1), {"outage": mask.sum(1)})


def v11_unlinked(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V11: reads for meters not linked to an enrolled SDP (the mask comes from the registry)."""
    if ctx.enrolled is None:
        return RuleResult("V11", np.zeros(f.shape, bool), np.zeros(f.shape[0], bool))
    unlinked = ~np.asarray(ctx.enrolled, bool)
    mask = np.zeros(f.shape, bool)
    rows = np.flatnonzero(unlinked)  # usually none: look at those rows only
    mask[rows] = (f.block.flags[rows] & F.RECEIVED) != 0
    return RuleResult("V11", mask, np.any(mask, axis=1), {"unlinked": unlinked})


def v12_same_weekday(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V12: a whole day against the mean of the same weekday in the SDP's last weeks (its own
    history in the block: clean days only), above or below a limit (dynamic comparison)."""
    k = f.shape[0]
    clean = history_rows(f.block) & f.complete
    total, count = np.zeros(k), np.zeros(k, np.int64)
    key = f.block.key
    for week in range(1, s.v12_weeks + 1):
        # The same meter channel's day a week earlier is key - 7 (the day is the low bits).
        want = key - 7 * week
        at = np.searchsorted(key, want).clip(max=max(k - 1, 0))
        hit = (key[at] == want) & clean[at] if k else np.zeros(0, bool)
        total += np.where(hit, f.day_wh[at], 0)
        count += hit
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        judged = f.complete & (count > 0) & (mean >= max(s.v12_min_day_wh, 1)) & ~f.outage_day
        high = judged & (f.day_wh > s.v12_high_ratio * mean)
        low = judged & (f.day_wh < s.v12_low_ratio * mean)
    day = high | low
    detail = {"day_wh": f.day_wh, "same_weekday_mean_wh": mean, "weeks": count, "high": high}
    return RuleResult("V12", day[:, None] & f.present, day, detail)


def v14_prolonged(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V14: the 8th and later consecutive day with estimated (or still missing) intervals."""
    due = ~f.future
    not_actual = ((f.has(F.ESTIMATED) | ~f.present) & due).sum(1)
    n_due = due.sum(1)
    est_day = (n_due > 0) & (not_actual > s.v14_day_fraction * n_due)
    idx = np.arange(f.shape[0])
    run_start = est_day & (f.segment_start | ~np.roll(est_day, 1))
    first = np.maximum.accumulate(np.where(run_start, idx, 0))
    run = np.where(est_day, idx - first + 1, 0)
    if ctx.prior_estimated_days is not None:
        # Days before the block count only when the run starts at the block's edge of history.
        prior = np.asarray(ctx.prior_estimated_days, np.int64)[first]
        run += np.where(est_day & f.segment_start[first], prior, 0)
    day = est_day & (run > s.v14_max_estimated_days)
    return RuleResult("V14", None, day, {"estimated_days": run})


def v16_read_success(f: Facts, ctx: ValidationContext, s: ValidationSettings) -> RuleResult:
    """V16: per LDC and local day, actual reads delivered against 98.0 % of those expected."""
    grid = f.local
    row = grid.first // grid.n  # the row a group starts in stands for its meter
    ldc = np.zeros(f.shape[0], np.int64) if ctx.ldc is None else np.asarray(ctx.ldc, np.int64)
    counted = (grid.in_block == grid.expected) & (grid.end_s <= ctx.now_s)  # whole, past days
    if ctx.enrolled is not None:
        counted &= np.asarray(ctx.enrolled, bool)[row]
    got = grid.sums(f.present & ~f.has(F.ESTIMATED))
    pair = (ldc[row] << 20) | (grid.key & DAY_MASK)
    pairs, inv = np.unique(pair[counted], return_inverse=True)
    expected = np.bincount(inv, grid.expected[counted], pairs.shape[0])
    delivered = np.bincount(inv, got[counted], pairs.shape[0])
    rate = delivered / np.maximum(expected, 1)
    ok = rate >= s.v16_success_target
    bad = np.zeros(grid.key.shape[0], bool)
    bad[np.flatnonzero(counted)] = ~ok[inv]
    pg = grid.part_group
    day = bad[pg[:, 0]] | bad[pg[:, 1]]
    table: dict[str, np.ndarray] = {"ldc": pairs >> 20, "local_day": pairs & DAY_MASK}
    table |= {"expected": expected}
    table |= {"delivered": delivered, "rate": rate, "ok": ok}
    return RuleResult("V16", None, day, table=table)


Rule = Callable[[Facts, ValidationContext, ValidationSettings], RuleResult]
RULES: dict[str, Rule] = {
    "V01": v01_missing,
    "V02": v02_plausible,
    "V03": v03_duplicates,
    "V04": v04_time,
    "V05": v05_register_sum,
    "V06": v06_high_low,
    "V07": v07_spike,
    "V08": v08_zero_frozen,
    "V09": v09_negative,
    "V10": v10_outage,
    "V11": v11_unlinked,
    "V12": v12_same_weekday,
    "V14": v14_prolonged,
    "V16": v16_read_success,
}


# ---------------------------------------------------------------------------- the driver


@dataclass
class ValidationResult:
    """Rule bits per interval and day, the new current flags, and what estimation should fill."""

    interval_bits: np.ndarray  # uint32 (K, n): bit nn set where rule Vnn fired
    day_bits: np.ndarray  # uint32 (K,): OR of the row's interval bits and day-level rules
    flags: np.ndarray  # uint8 (K, n): input flags with FAILED/VALIDATED recomputed
    failed: np.ndarray  # bool (K, n)
    estimate: np.ndarray  # bool (K, n): intervals estimation should fill
    day_missing: np.ndarray  # (K,) due intervals without a value
    day_failed: np.ndarray  # (K,)
    day_wh: np.ndarray  # (K,) int64 sum of the values present
    rules: dict[str, RuleResult]

    def fired(self, rule_id: str) -> np.ndarray:
        """(K,) days on which a rule fired."""
        return (self.day_bits & np.uint32(rule_bit(rule_id))) != 0

    def explain(self, row: int) -> list[str]:
        """Human-readable lines for one day: each rule that fired, with its (K,) detail values."""
        lines = []
        for rule_id, result in self.rules.items():
            if result.days[row]:
                detail = ", ".join(f"{k}={_plain(v[row])}" for k, v in result.detail.items())
                lines.append(
                    f"{rule_id} {RULE_TITLES[rule_id]}" + (f": {detail}" if detail else "")
                )
        return lines


def _plain(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, np.floating) else str(value)


def validate(
    block: DayBlock, context: ValidationContext, settings: ValidationSettings | None = None
) -> ValidationResult:
    """Run every enabled rule over the block (one vectorised pass per rule)."""
    s = settings or ValidationSettings()
    f = Facts(block, context.now_s, context.tz)
    bits = np.zeros(f.shape, np.uint32)
    day_bits = np.zeros(f.shape[0], np.uint32)
    failed, estimate = np.zeros(f.shape, bool), np.zeros(f.shape, bool)
    results: dict[str, RuleResult] = {}
    for rule_id in RULE_IDS:
        if rule_id not in s.enabled:
            continue
        result = results[rule_id] = RULES[rule_id](f, context, s)
        bit = np.uint32(rule_bit(rule_id))
        # A rule's days include every day it fired an interval on.
        np.bitwise_or(day_bits, bit, out=day_bits, where=result.days)
        if result.intervals is not None:
            np.bitwise_or(bits, bit, out=bits, where=result.intervals)
            if rule_id in s.fail_rules:
                failed |= result.intervals
            if rule_id in s.estimate_rules or (rule_id == "V05" and s.v05_scale_to_register):
                estimate |= result.intervals
    return _result(f, bits, day_bits, failed, estimate, results)


def _result(
    f: Facts,
    bits: np.ndarray,
    day_bits: np.ndarray,
    failed: np.ndarray,
    estimate: np.ndarray,
    results: dict[str, RuleResult],
) -> ValidationResult:
    """Apply the acceptances (edits and outages stand) and build the new flags."""
    accepted = f.has(F.EDITED | F.OUTAGE)
    failed &= ~accepted
    # Future intervals are not due: never estimated; a final estimate is E8's business.
    estimate &= ~accepted & ~f.future
    flags = f.block.flags & np.uint8(0xFF ^ (F.FAILED | F.VALIDATED))
    np.bitwise_or(flags, np.uint8(F.FAILED), out=flags, where=failed)
    np.bitwise_or(flags, np.uint8(F.VALIDATED), out=flags, where=f.present & ~failed & ~f.future)
    return ValidationResult(
        interval_bits=bits,
        day_bits=day_bits,
        flags=flags,
        failed=failed,
        estimate=estimate,
        day_missing=(~f.present & ~f.future).sum(axis=1),
        day_failed=failed.sum(axis=1),
        day_wh=f.day_wh,
        rules=results,
    )
