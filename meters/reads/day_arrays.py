"""Interval storage maths: packed day arrays and the merge rules, as pure numpy (no ORM).

A day block holds K meter-channel-days of one interval length as 2-D arrays (K x n, n = 1440 /
minutes). ``raw_*`` keep what the head-ends sent; ``wh``/``flags`` are the current values
(after VEE and edits). Merge rules (DESIGN.md, issue 3):

- an actual replaces an estimate or a missing report; an estimate fills only what has no actual;
- a missing report never erases a value, it only records that the head-end had none;
- a manual edit keeps its current value whatever arrives (the raw values still update);
- an actual that changes an earlier actual, or replaces an estimate, makes a new version of the
  day (the old one is kept);
- the same reads again change nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meters.reads import runs
from meters.reads.interfaces.base import Quality

NEVER = 255  # raw quality of an interval no file has mentioned
DAY_S = 86_400


class IntervalFlag(enum.IntFlag):
    """Bits of the current state of one interval (one uint8 each)."""

    RECEIVED = 1  # some file mentioned this interval
    MISSING = 2  # no value
    ESTIMATED = 4  # the value is an estimate (head-end or VEE)
    SUSPECT = 8  # the head-end marked it suspect
    EDITED = 16  # a person edited it (with a reason)
    VALIDATED = 32  # passed VEE
    FAILED = 64  # failed a validation rule
    OUTAGE = 128  # head-end power outage flag


_F = IntervalFlag
# Current flags that follow from a raw quality code (index = Quality value, 255 = never received).
FLAGS_OF_QUALITY = np.full(256, _F.MISSING, dtype=np.uint8)
FLAGS_OF_QUALITY[Quality.ACTUAL] = _F.RECEIVED
FLAGS_OF_QUALITY[Quality.SUSPECT] = _F.RECEIVED | _F.SUSPECT
FLAGS_OF_QUALITY[Quality.ESTIMATED] = _F.RECEIVED | _F.ESTIMATED
FLAGS_OF_QUALITY[Quality.MISSING] = _F.RECEIVED | _F.MISSING


def slots_per_day(minutes: int) -> int:
    return 1440 // minutes


def day_key(meter: npt.ArrayLike, channel: npt.ArrayLike, day: npt.ArrayLike) -> np.ndarray:
    """One int64 per meter-channel-day (meter pk < 2**40, channel < 8, day < 2**20)."""
    return (
        (np.asarray(meter, np.int64) << 23)
        | (np.asarray(channel, np.int64) << 20)
        | np.asarray(day, np.int64)
    )


@dataclass
class DayBlock:
    """K meter-channel-days of one interval length."""

    key: np.ndarray  # int64 day_key, sorted, unique
    minutes: int
    wh: np.ndarray  # int32 (K, n) current
    flags: np.ndarray  # uint8 (K, n) current IntervalFlag bits
    raw_wh: np.ndarray  # int32 (K, n) as received
    raw_quality: np.ndarray  # uint8 (K, n) Quality as received, NEVER where not
    version: np.ndarray  # int64 (K,)

    def __len__(self) -> int:
        return int(self.key.shape[0])

    @property
    def meter(self) -> np.ndarray:
        return self.key >> 23

    @property
    def channel(self) -> np.ndarray:
        return (self.key >> 20) & 7

    @property
    def day(self) -> np.ndarray:
        return self.key & ((1 << 20) - 1)

    @classmethod
    def empty(cls, key: np.ndarray, minutes: int) -> DayBlock:
        """Days nothing has been received for."""
        shape = (key.shape[0], slots_per_day(minutes))
        return cls(
            key=key,
            minutes=minutes,
            wh=np.zeros(shape, np.int32),
            flags=np.full(shape, _F.MISSING, np.uint8),
            raw_wh=np.zeros(shape, np.int32),
            raw_quality=np.full(shape, NEVER, np.uint8),
            version=np.ones(key.shape[0], np.int64),
        )

    def take(self, rows: np.ndarray) -> DayBlock:
        return DayBlock(
            self.key[rows],
            self.minutes,
            self.wh[rows],
            self.flags[rows],
            self.raw_wh[rows],
            self.raw_quality[rows],
            self.version[rows],
        )


def incoming_block(
    meter: np.ndarray,
    channel: np.ndarray,
    start: np.ndarray,
    wh: np.ndarray,
    quality: np.ndarray,
    minutes: int,
) -> DayBlock:
    """Intervals of one length (UTC starts on the grid) laid out as day arrays.

    Within one delivery a later mention of the same interval wins over an earlier one.
    """
    day = start // DAY_S
    slot = (start - day * DAY_S) // (minutes * 60)
    keys = day_key(meter, channel, day)
    unique, row = runs.unique_inverse(keys)
    block = DayBlock.empty(unique, minutes)
    at = row * slots_per_day(minutes) + slot  # one flat index per read
    size = block.raw_wh.size
    if len(at) > size or np.bincount(at, minlength=size).max(initial=0) > 1:
        # An interval mentioned twice: the later mention wins (an assignment to a repeated
        # index keeps one of the values, numpy does not say which).
        last = np.full(size, -1, np.int64)
        np.maximum.at(last, at, np.arange(len(at)))
        keep = last[at] == np.arange(len(at))
        at, wh, quality = at[keep], wh[keep], quality[keep]
    block.raw_wh.reshape(-1)[at] = wh
    block.raw_quality.reshape(-1)[at] = quality
    return block


@dataclass
class MergeResult:
    """The merged days, which of them changed, and which got a new version."""

    merged: DayBlock
    changed: np.ndarray  # bool (K,)
    new_version: np.ndarray  # bool (K,): an actual changed; the previous version is archived


def merge_new(incoming: DayBlock) -> MergeResult:
    """``merge(DayBlock.empty(incoming.key, incoming.minutes), incoming)``, in fewer steps: days
    nothing is stored for take every interval received, with the flags of its quality."""
    received = incoming.raw_quality != NEVER
    merged = DayBlock(
        incoming.key,
        incoming.minutes,
        incoming.raw_wh.astype(np.int32),  # 0 where nothing was received, as an empty day has
        FLAGS_OF_QUALITY[incoming.raw_quality],
        incoming.raw_wh.astype(np.int32),
        incoming.raw_quality.astype(np.uint8),
        np.ones(len(incoming.key), np.int64),
    )
    changed = received.any(axis=1)
    return MergeResult(merged, changed, np.zeros(len(incoming.key), bool))


def merge(existing: DayBlock, incoming: DayBlock) -> MergeResult:
    """Apply the merge rules of this module to aligned blocks (same keys, same order)."""
    ex_q, in_q = existing.raw_quality, incoming.raw_quality
    ex_actual = (ex_q == Quality.ACTUAL) | (ex_q == Quality.SUSPECT)
    in_actual = (in_q == Quality.ACTUAL) | (in_q == Quality.SUSPECT)
    take = in_actual | ((in_q == Quality.ESTIMATED) & ~ex_actual)
    take |= (in_q == Quality.MISSING) & (ex_q == NEVER)
    raw_wh = np.where(take, incoming.raw_wh, existing.raw_wh)
    raw_q = np.where(take, in_q, ex_q)
    slot_changed = (raw_wh != existing.raw_wh) | (raw_q != ex_q)
    follow = slot_changed & ((existing.flags & _F.EDITED) == 0)
    wh = np.where(follow, raw_wh, existing.wh)
    flags = np.where(follow, FLAGS_OF_QUALITY[raw_q], existing.flags)
    changed = slot_changed.any(axis=1)
    # A new version (the old one archived) when an actual changes an actual, or replaces an
    # estimate (head-end's or VEE's) that a bill may already have used (VEE rule E8).
    was_estimate = (existing.flags & _F.ESTIMATED) != 0
    new_version = (slot_changed & (ex_actual | (in_actual & was_estimate))).any(axis=1)
    version = existing.version + new_version
    merged = DayBlock(
        existing.key,
        existing.minutes,
        wh.astype(np.int32),
        flags.astype(np.uint8),
        raw_wh.astype(np.int32),
        raw_q.astype(np.uint8),
        version,
    )
    return MergeResult(merged, changed, new_version)


def pack_rows(values: np.ndarray, dtype: str) -> list[bytes]:
    """One little-endian bytes object per row of a 2-D array."""
    data = np.ascontiguousarray(values, dtype=dtype)
    width = data.shape[1] * data.dtype.itemsize
    flat = data.tobytes()
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def unpack_rows(blobs: list[bytes | memoryview], dtype: str, n: int) -> np.ndarray:
    """The inverse of pack_rows: a (len(blobs), n) array."""
    if not blobs:
        return np.empty((0, n), dtype=dtype)
    return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), n).copy()
