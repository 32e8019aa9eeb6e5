"""Manual edits of interval values as a pure function on day arrays (no ORM).

An edit sets the values of a range of one meter channel's intervals, with a reason code. The
caller (a service) audits it (who, when, before, after) and marks the billing quantities that used
the changed intervals stale; this module only computes the new arrays and what changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meters.reads.day_arrays import DAY_S, DayBlock, IntervalFlag, day_key

F = IntervalFlag
# What an edit keeps of the old flags: that a file mentioned the interval, and a head-end outage.
KEPT_ON_EDIT = np.uint8(F.RECEIVED | F.OUTAGE)


class EditError(ValueError):
    """An edit that cannot be applied as asked (no reason, off the grid, days not loaded)."""


@dataclass
class EditResult:
    """The new arrays, and which intervals an edit changed (for audit and stale billing)."""

    wh: np.ndarray  # int32 (K, n)
    flags: np.ndarray  # uint8 (K, n)
    method: np.ndarray | None  # uint8 (K, n), 0 on edited intervals; None if none was given
    changed: np.ndarray  # bool (K, n): value or flags differ from before
    changed_days: np.ndarray  # bool (K,)
    changed_starts: np.ndarray  # int64 UTC epoch s of each changed interval (billing periods)
    before_wh: np.ndarray  # int32 (m,) the range before, for the audit event
    before_flags: np.ndarray  # uint8 (m,)
    after_wh: np.ndarray  # int32 (m,)
    reason: str


def edit_positions(
    block: DayBlock, *, meter: int, channel: int, start_s: int, end_s: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, slots) of the intervals in [start_s, end_s) of one meter channel."""
    step = block.minutes * 60
    if start_s % step or end_s % step or end_s <= start_s:
        raise EditError(f"an edit covers whole {block.minutes}-minute intervals, start before end")
    starts = np.arange(start_s, end_s, step, dtype=np.int64)
    keys = day_key(np.full_like(starts, meter), np.full_like(starts, channel), starts // DAY_S)
    rows = np.searchsorted(block.key, keys)
    if len(block) == 0 or not (block.key[rows.clip(max=len(block) - 1)] == keys).all():
        raise EditError("the days of the edit are not all in the block: load them first")
    return rows, (starts % DAY_S) // step


def apply_edit(
    block: DayBlock,
    *,
    meter: int,
    channel: int,
    start_s: int,
    end_s: int,
    wh: int | np.ndarray,
    reason: str,
    method: np.ndarray | None = None,
) -> EditResult:
    """Set the current values of [start_s, end_s) to ``wh`` (one value or one per interval)."""
    if not reason or not reason.strip():
        raise EditError("an edit needs a reason code")
    rows, slots = edit_positions(block, meter=meter, channel=channel, start_s=start_s, end_s=end_s)
    values = np.broadcast_to(np.asarray(wh, np.int64), rows.shape)
    if (np.abs(values) > np.iinfo(np.int32).max).any():
        raise EditError("an edited value does not fit in Wh int32")
    new_wh, new_flags = block.wh.copy(), block.flags.copy()
    new_wh[rows, slots] = values
    # An edited value is a person's accepted value: no longer missing, estimated or failed.
    new_flags[rows, slots] = (block.flags[rows, slots] & KEPT_ON_EDIT) | np.uint8(F.EDITED)
    new_method = None
    if method is not None:
        new_method = method.copy()
        new_method[rows, slots] = 0
    changed = (new_wh != block.wh) | (new_flags != block.flags)
    return EditResult(
        wh=new_wh,
        flags=new_flags,
        method=new_method,
        changed=changed,
        changed_days=changed.any(axis=1),
        changed_starts=_starts(block, changed),
        before_wh=block.wh[rows, slots],
        before_flags=block.flags[rows, slots],
        after_wh=new_wh[rows, slots],
        reason=reason.strip(),
    )


def _starts(block: DayBlock, mask: np.ndarray) -> np.ndarray:
    """UTC epoch s of the intervals of a (K, n) mask, in time order per meter channel."""
    rows, slots = np.nonzero(mask)
    return block.day[rows] * DAY_S + slots.astype(np.int64) * block.minutes * 60
