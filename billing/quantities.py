"""Billing quantities from stored meter-days, vectorised over many meters at once.

Arrays in, arrays out, no ORM. The input is the delivered channel's stored days as 2-D arrays
(one row per meter and UTC day, one column per interval slot); the output is, per *item* (one
meter over one span of UTC seconds with a plan), the Wh of each price period, the total, the
estimated Wh and what stops the item from being complete. An interval belongs to the item, the
season and the price period of its local start (billing.periods); no Python loop per interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from billing.periods import PERIOD_NAMES, period_codes
from meters.reads.day_arrays import DAY_S, IntervalFlag
from meters.reads.runs import sorted_unique

_F = IntervalFlag
_GOOD = np.uint8(_F.VALIDATED | _F.EDITED)
_MAX_PERIODS = max(len(names) for names in PERIOD_NAMES.values())
# The names a quantity reports, per plan (tiered: the two tiers of the period's total).
QUANTITY_NAMES: dict[str, tuple[str, ...]] = {
    "tou": ("on_peak", "mid_peak", "off_peak"),
    "ulo": ("ultra_low_overnight", "weekend_off_peak", "mid_peak", "on_peak"),
    "tiered": ("tier1", "tier2"),
}


@dataclass
class DayRows:
    """Stored days of one interval length, sorted by (meter, day)."""

    meter: np.ndarray  # int64 (K,) meter pk
    day: np.ndarray  # int64 (K,) UTC day number
    minutes: int
    wh: np.ndarray  # int32 (K, n) current values
    flags: np.ndarray  # uint8 (K, n) current IntervalFlag bits
    version: np.ndarray | None = None  # int64 (K,) each day's version (what a quantity read)

    def __len__(self) -> int:
        return int(self.meter.shape[0])


@dataclass
class Items:
    """What to compute: meter ``meter`` over UTC seconds [first, after) under ``plan``."""

    meter: np.ndarray  # int64
    first: np.ndarray  # int64 UTC s
    after: np.ndarray  # int64 UTC s
    plan: np.ndarray  # str
    tier1_kwh: np.ndarray  # float: the tier-1 threshold of the span (tiered items)
    # The SDP's service multiplier (CT/PT ratio): billed kWh = metered kWh x multiplier.
    multiplier: np.ndarray | None = None  # float (items,); None: 1 each

    def __post_init__(self) -> None:
        if self.multiplier is None:
            self.multiplier = np.ones(self.meter.shape[0], np.float64)

    def __len__(self) -> int:
        return int(self.meter.shape[0])


@dataclass
class Figures:
    """Per item: Wh per price period (PERIOD_NAMES order) and the completeness counts."""

    period_wh: np.ndarray  # int64 (items, _MAX_PERIODS)
    total_wh: np.ndarray  # int64
    estimated_wh: np.ndarray  # int64
    edited_wh: np.ndarray  # int64
    covered_s: np.ndarray  # int64: seconds of the span with a value
    valid: np.ndarray  # int64: intervals with a value
    unvalidated: np.ndarray  # int64: ... of which neither VALIDATED nor EDITED
    failed: np.ndarray  # int64: intervals that failed a rule
    minutes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @classmethod
    def zeros(cls, n: int) -> Figures:
        z = np.zeros(n, np.int64)
        return cls(
            np.zeros((n, _MAX_PERIODS), np.int64),
            z.copy(),
            z.copy(),
            z.copy(),
            z.copy(),
            z.copy(),
            z.copy(),
            z.copy(),
            np.full(n, 60, np.int64),
        )

    def missing(self, items: Items) -> np.ndarray:
        """Intervals of the span without a value (never stored, or stored as missing)."""
        return (items.after - items.first - self.covered_s) // (self.minutes * 60)

    def complete(self, items: Items) -> np.ndarray:
        """Every interval present, validated (or edited) and none failed."""
        return (self.missing(items) == 0) & (self.unvalidated == 0) & (self.failed == 0)


def _key(meter: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (np.asarray(meter, np.int64) << 24) | np.asarray(day, np.int64)


def gather(rows: DayRows, items: Items) -> tuple[np.ndarray, np.ndarray]:
    """(item of each gathered row, row index): the stored days each item's span touches."""
    keys = _key(rows.meter, rows.day)
    lo = np.searchsorted(keys, _key(items.meter, items.first // DAY_S), "left")
    hi = np.searchsorted(keys, _key(items.meter, (items.after - 1) // DAY_S), "right")
    counts = np.maximum(hi - lo, 0)
    item_of = np.repeat(np.arange(len(items)), counts)
    # Concatenated ranges lo[i]..hi[i] without a loop: a running index minus each range's offset.
    offsets = np.repeat(lo - np.cumsum(counts) + counts, counts)
    return item_of, np.arange(int(counts.sum()), dtype=np.int64) + offsets


def figures_compute(blocks: list[DayRows], items: Items, tz: object) -> Figures:
    """The figures of every item from the stored days (blocks of any interval lengths)."""
    out = Figures.zeros(len(items))
    for rows in blocks:
        if len(rows) and len(items):
            _add_block(out, rows, items, tz)
    if items.multiplier is not None:
        scale_by_multiplier(out, items.multiplier)
    return out


def scale_by_multiplier(out: Figures, multiplier: np.ndarray) -> None:
    """Metered Wh to billed Wh: each item's energies x its SDP's service multiplier (the
    instrument-transformer ratio of the service; the MDM/R billing quantity is the energy at the
    delivery point, O. Reg. 133/23 billing quantity data). Counts (intervals, seconds) stay."""
    m = np.asarray(multiplier, np.float64)
    if not m.size or bool((m == 1).all()):
        return
    out.period_wh = np.rint(out.period_wh * m[:, None]).astype(np.int64)
    for name in ("total_wh", "estimated_wh", "edited_wh"):
        setattr(out, name, np.rint(getattr(out, name) * m).astype(np.int64))


def _add_block(out: Figures, rows: DayRows, items: Items, tz: object) -> None:
    item_of, at = gather(rows, items)
    if not at.size:
        return
    n_items = len(items)
    step = rows.minutes * 60
    n = rows.wh.shape[1]
    if at.size == len(rows) and (at[1:] > at[:-1]).all():  # every row once, in order: no copy
        day, flags, values = rows.day, rows.flags, rows.wh
    else:
        day, flags, values = rows.day[at], rows.flags[at], rows.wh[at]
    # Flag bits that occur at all: a figure of a bit no interval has is zero, not computed.
    seen = int(np.bitwise_or.reduce(flags, axis=None))
    missing = np.uint8(_F.MISSING)
    valid = (flags & missing) == 0 if seen & missing else np.ones(flags.shape, bool)
    failed = (flags & np.uint8(_F.FAILED)) != 0 if seen & _F.FAILED else None
    # The slots [lo, hi) of each gathered day inside its item's span (start >= first, < after):
    # only the first and last day of a span are cut, so the mask is built for those rows only.
    base = day * DAY_S
    lo = np.clip(-((base - items.first[item_of]) // step), 0, n)
    hi = np.clip(-((base - items.after[item_of]) // step), 0, n)
    cut = np.flatnonzero((lo > 0) | (hi < n))
    if cut.size:
        slot = np.arange(n, dtype=np.int64)
        inside = (slot >= lo[cut, None]) & (slot < hi[cut, None])
        valid[cut] &= inside
        if failed is not None:
            failed[cut] &= inside
    wh = np.where(valid, values, 0)

    # Rows come grouped by item (gather's order): per-item sums are one reduceat per figure.
    present = np.flatnonzero(np.bincount(item_of, minlength=n_items))
    starts = np.searchsorted(item_of, present)

    def per_item(per_row: np.ndarray) -> np.ndarray:
        sums = np.zeros(n_items, np.int64)
        sums[present] = np.add.reduceat(per_row.astype(np.int64, copy=False), starts)
        return sums

    def row_sums(bit: int) -> np.ndarray:
        return np.where((flags & np.uint8(bit)) != 0, wh, 0).sum(axis=1, dtype=np.int64)

    count = per_item(np.count_nonzero(valid, axis=1))
    out.valid += count
    out.covered_s += count * step
    out.unvalidated += per_item(np.count_nonzero(valid & ((flags & _GOOD) == 0), axis=1))
    if failed is not None:
        out.failed += per_item(np.count_nonzero(failed, axis=1))
    out.total_wh += per_item(wh.sum(axis=1, dtype=np.int64))
    if seen & _F.ESTIMATED:
        out.estimated_wh += per_item(row_sums(_F.ESTIMATED))
    if seen & _F.EDITED:
        out.edited_wh += per_item(row_sums(_F.EDITED))
    out.minutes[present] = rows.minutes
    out.period_wh[present] += _period_sums(wh, day, item_of, items.plan, step, tz)[present]


def _period_sums(
    wh: np.ndarray,
    day: np.ndarray,
    item_of: np.ndarray,
    plan: np.ndarray,
    step: int,
    tz: object,
) -> np.ndarray:
    """Wh per (item, price period). A slot's period depends only on its UTC day and the plan, so
    the codes are computed once per distinct (plan, day) and gathered per row, not per interval."""
    n_items = len(plan)
    plans, plan_index = np.unique(plan, return_inverse=True)
    days, day_index = np.unique(day, return_inverse=True)
    starts = days[:, None] * DAY_S + np.arange(wh.shape[1], dtype=np.int64) * step
    table = np.concatenate([period_codes(starts, name, tz) for name in plans.tolist()])  # type: ignore[arg-type]
    codes = table[plan_index[item_of] * len(days) + day_index]
    key = (item_of * _MAX_PERIODS)[:, None] + codes
    sums = np.bincount(key.ravel(), wh.ravel(), n_items * _MAX_PERIODS)
    return np.rint(sums).astype(np.int64).reshape(n_items, _MAX_PERIODS)


def periods_kwh(figures: Figures, items: Items, index: int) -> dict[str, float]:
    """kWh by the reported names of the item's plan (tiered: split at its tier-1 threshold)."""
    plan = str(items.plan[index])
    if plan == "tiered":
        total = int(figures.total_wh[index])
        tier1 = min(total, int(round(float(items.tier1_kwh[index]) * 1000)))
        return {"tier1": tier1 / 1000, "tier2": (total - tier1) / 1000}
    names = PERIOD_NAMES[plan]
    by_name = dict(zip(names, figures.period_wh[index, : len(names)].tolist(), strict=True))
    return {name: by_name[name] / 1000 for name in QUANTITY_NAMES[plan]}


def periods_kwh_all(figures: Figures, items: Items) -> list[dict[str, float]]:
    """periods_kwh of every item, converting each plan's columns to Python floats at once."""
    out: list[dict[str, float]] = [{} for _ in range(len(items))]
    for plan in sorted_unique(items.plan).tolist():
        at = np.flatnonzero(items.plan == plan)
        if plan == "tiered":
            for i in at.tolist():
                out[i] = periods_kwh(figures, items, i)
            continue
        names = PERIOD_NAMES[plan]
        columns = np.array([names.index(name) for name in QUANTITY_NAMES[plan]], np.intp)
        kwh = (figures.period_wh[np.ix_(at, columns)] / 1000).tolist()
        reported = QUANTITY_NAMES[plan]
        for i, values in zip(at.tolist(), kwh, strict=True):
            out[i] = dict(zip(reported, values, strict=True))
    return out


def bounding_reads(
    read_meter: np.ndarray,
    read_at: np.ndarray,
    items: Items,
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the register read at or before each item's first second and of the one at or
    after its end (-1: none); reads sorted by (meter, read_at)."""
    keys = (np.asarray(read_meter, np.int64) << 34) | np.asarray(read_at, np.int64)
    if not keys.size:
        none = np.full(len(items), -1, np.int64)
        return none, none.copy()
    before = np.searchsorted(keys, (items.meter << 34) | items.first, "right") - 1
    ok = before >= 0
    ok[ok] = read_meter[before[ok]] == items.meter[ok]
    after = np.searchsorted(keys, (items.meter << 34) | items.after, "left")
    ok_after = after < keys.size
    ok_after[ok_after] = read_meter[after[ok_after]] == items.meter[ok_after]
    return np.where(ok, before, -1), np.where(ok_after, after, -1)


@dataclass
class Flat:
    """The valid intervals of items, flattened: item index, UTC start, Wh, flags, minutes."""

    item: np.ndarray
    start: np.ndarray
    wh: np.ndarray
    flags: np.ndarray
    minutes: np.ndarray


def flatten(blocks: list[DayRows], items: Items) -> Flat:
    """Every interval with a value inside an item's span, as flat arrays (for pricing)."""
    parts = []
    for rows in blocks:
        item_of, at = gather(rows, items)
        step = rows.minutes * 60
        start = rows.day[at][:, None] * DAY_S + np.arange(rows.wh.shape[1], dtype=np.int64) * step
        keep = (start >= items.first[item_of][:, None]) & (start < items.after[item_of][:, None])
        keep &= (rows.flags[at] & np.uint8(_F.MISSING)) == 0
        item = np.broadcast_to(item_of[:, None], start.shape)
        parts.append(
            Flat(
                item[keep],
                start[keep],
                rows.wh[at][keep].astype(np.int64),
                rows.flags[at][keep],
                np.full(int(keep.sum()), rows.minutes, np.int64),
            )
        )
    if not parts:
        empty = np.empty(0, np.int64)
        return Flat(empty, empty, empty, empty.astype(np.uint8), empty)
    return Flat(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Flat.__dataclass_fields__)
    )


def day_versions(blocks: list[DayRows], items: Items) -> list[list[list[int]]]:
    """Per item, the stored days its span read as runs [first UTC day, last UTC day, version]
    (consecutive days of one version: a month of version 1 is one run). What a quantity
    records so that it can be recomputed from those versions later (#19)."""
    parts = []
    for rows in blocks:
        item_of, at = gather(rows, items)
        version = rows.version if rows.version is not None else np.ones(len(rows), np.int64)
        parts.append((item_of, rows.day[at], version[at]))
    out: list[list[list[int]]] = [[] for _ in range(len(items))]
    if not parts:
        return out
    item = np.concatenate([p[0] for p in parts])
    day = np.concatenate([p[1] for p in parts]).astype(np.int64)
    version = np.concatenate([p[2] for p in parts]).astype(np.int64)
    order = np.lexsort((day, item))
    item, day, version = item[order], day[order], version[order]
    if not item.size:
        return out
    new_run = np.ones(item.size, bool)
    new_run[1:] = (
        (item[1:] != item[:-1]) | (day[1:] != day[:-1] + 1) | (version[1:] != version[:-1])
    )
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], item.size) - 1
    for i, d0, d1, v in zip(
        item[starts].tolist(),
        day[starts].tolist(),
        day[ends].tolist(),
        version[starts].tolist(),
        strict=True,
    ):
        out[i].append([d0, d1, v])
    return out
