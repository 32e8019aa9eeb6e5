"""What the VEE rules need beyond the day block, read from the registry and the stored history.

Owns the ORM side of the rules' inputs (issue 20: every rule with its input): per row of a block,
the SDP a meter was linked to that day with its service multiplier, enrollment and rate class
(V02, V11, E5); the stored actual a re-sent actual replaced (V03, from the archived version);
the estimated days just before the block (V14). One query per input for the whole block, mapped
onto rows with numpy; none per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meters.models import IntervalDay, IntervalDayVersion, MeterInstallation
from meters.reads.day_arrays import DayBlock, IntervalFlag, day_key, unpack_rows
from meters.vee.rules import conflicts
from portal.calendar.localtime import date_of, day_number
from portal.tenancy import LDC

RATE_CLASSES = ("", "residential", "gs_lt_50")  # index 0: no class (no SDP that day)
FAR = 1 << 19  # a day number past any real one: an open installation


@dataclass
class RowRegistry:
    """(K,) the registry facts of each row's meter on the row's day."""

    linked: np.ndarray  # bool: installed at an SDP that day
    enrolled: np.ndarray  # bool: linked to an active SDP enrolled by that day (V11)
    multiplier: np.ndarray  # float: the SDP's service multiplier (1 where not linked)
    rate_class: np.ndarray  # int index into RATE_CLASSES


def row_registry(
    ldc: LDC, block: DayBlock, meters: list[int], *, require_enrollment: bool = False
) -> RowRegistry:
    """Each row's installation that day (installation days are local; a UTC row is taken on its
    own date, which holds 19 or 20 of its 24 local hours in America/Toronto)."""
    k = len(block)
    out = RowRegistry(np.zeros(k, bool), np.zeros(k, bool), np.ones(k), np.zeros(k, np.int64))
    rows = list(
        MeterInstallation.objects.for_ldc(ldc)
        .filter(meter_id__in=meters)
        .values_list(
            "meter_id",
            "effective_from",
            "effective_to",
            "sdp__status",
            "sdp__enrolled_on",
            "sdp__service_multiplier",
            "sdp__rate_class",
        )
    )
    if not rows or not k:
        return out
    meter = np.array([r[0] for r in rows], np.int64)
    start = np.array([day_number(r[1]) for r in rows], np.int64)
    end = np.array([day_number(r[2]) if r[2] else FAR for r in rows], np.int64)
    active = np.array([r[3] == "active" for r in rows])
    enrolled_from = np.array(
        [day_number(r[4]) if r[4] else (FAR if require_enrollment else 0) for r in rows], np.int64
    )
    mult = np.array([float(r[5]) for r in rows])
    klass = np.array([RATE_CLASSES.index(r[6]) if r[6] in RATE_CLASSES else 0 for r in rows])
    # Installations of one meter never overlap: the one that starts last on or before the day.
    order = np.lexsort((start, meter))
    meter, start, end = meter[order], start[order], end[order]
    key = meter * (1 << 20) + start
    want = block.meter.astype(np.int64) * (1 << 20) + block.day
    at = np.searchsorted(key, want, side="right") - 1
    ok = at >= 0
    at = at.clip(min=0)
    ok &= (meter[at] == block.meter) & (block.day <= end[at])
    pick = order[at]
    out.linked = ok
    out.enrolled = ok & active[pick] & (block.day >= enrolled_from[pick])
    out.multiplier = np.where(ok, mult[pick], 1.0)
    out.rate_class = np.where(ok, klass[pick], 0)
    return out


def previous_actuals(ldc: LDC, block: DayBlock) -> tuple[np.ndarray, np.ndarray] | None:
    """(K, n) re-sent actuals that differ from the stored ones, and those stored values: each day
    with a newer version against its archived version just before (V03). None: no such day."""
    versioned = np.flatnonzero(block.version > 1)
    if not len(versioned):
        return None
    n = block.wh.shape[1]
    rows = list(
        IntervalDayVersion.objects.for_ldc(ldc)
        .filter(
            meter_id__in=sorted({int(m) for m in block.meter[versioned]}),
            day__gte=date_of(int(block.day[versioned].min())),
            day__lte=date_of(int(block.day[versioned].max())),
            interval_minutes=block.minutes,
        )
        .values_list("meter_id", "channel", "day", "version", "raw_wh", "raw_quality")
    )
    if not rows:
        return None
    keys = day_key(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([day_number(r[2]) for r in rows]),
    )
    at = np.searchsorted(block.key, keys).clip(max=len(block) - 1)
    version = np.array([r[3] for r in rows], np.int64)
    # The version just before the current one (the stored actual the last file replaced).
    take = np.flatnonzero((block.key[at] == keys) & (version == block.version[at] - 1))
    if not len(take):
        return None
    before = DayBlock.empty(block.key, block.minutes)
    before.raw_wh[at[take]] = unpack_rows([rows[i][4] for i in take], "<i4", n)
    before.raw_quality[at[take]] = unpack_rows([rows[i][5] for i in take], "u1", n)
    return conflicts(before, block), before.raw_wh.astype(np.int64)


def prior_estimated_days(ldc: LDC, block: DayBlock, limit: int) -> np.ndarray:
    """(K,) consecutive estimated or missing days just before each row that starts its meter
    channel's run in the block (V14 counts the SDP's own history beyond the block); only rows
    whose first day is itself estimated are looked up, at most ``limit`` days back."""
    out = np.zeros(len(block), np.int64)
    if not len(block):
        return out
    start = np.ones(len(block), bool)
    start[1:] = block.key[1:] != block.key[:-1] + 1
    open_ = (block.flags & (IntervalFlag.ESTIMATED | IntervalFlag.MISSING)) != 0
    rows = np.flatnonzero(start & open_.any(axis=1))
    if not len(rows):
        return out
    first = int(block.day[rows].min())
    stored = list(
        IntervalDay.objects.for_ldc(ldc)
        .filter(
            meter_id__in=sorted({int(m) for m in block.meter[rows]}),
            day__gte=date_of(first - limit),
            day__lt=date_of(int(block.day[rows].max())),
        )
        .values_list("meter_id", "channel", "day", "flags")
    )
    bits = np.uint8(IntervalFlag.ESTIMATED | IntervalFlag.MISSING)
    estimated = {
        int(day_key(m, c, day_number(d))): bool((np.frombuffer(bytes(f), np.uint8) & bits).any())
        for m, c, d, f in stored
    }
    for row in rows.tolist():  # a few rows: the meter channels estimated from the block's start
        key, count = int(block.key[row]) - 1, 0
        while count < limit and estimated.get(key):
            key, count = key - 1, count + 1
        out[row] = count
    return out
