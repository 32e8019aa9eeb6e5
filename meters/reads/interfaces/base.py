"""The contract every meter-read interface follows: stream batches of numpy arrays, or fail whole.

A parser is a generator ``parse(stream, *, filename, tz) -> Iterator[ParsedBatch]``. It reads a
binary stream incrementally (memory flat in file size), and yields batches of at most about
``batch_reads`` intervals. Any malformed input raises :class:`ReadFileError` naming the file and
the line (text formats) or element (XML) and what is wrong; the caller stores nothing of a file
whose parse did not run to the end.

Units are fixed here so that no caller converts: instants are int64 UTC epoch seconds, energy is
int64 watt-hours (kWh x 1000, rounded half-to-even to the watt-hour), intervals are minutes.
An interval's energy beyond +/- MAX_INTERVAL_WH (what storage holds) or a register's beyond
MAX_REGISTER_WH is malformed input like any other: a ReadFileError, never a wrapped number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol
from zoneinfo import ZoneInfo

import numpy as np

DEFAULT_BATCH_READS = 250_000


class Quality(enum.IntEnum):
    """Head-end quality of one interval; a larger value wins when several codes apply."""

    ACTUAL = 0
    SUSPECT = 1
    ESTIMATED = 2
    MISSING = 3


class Channel(enum.IntEnum):
    """Energy direction: delivered to the customer (forward) or received (net metering)."""

    DELIVERED = 1
    RECEIVED = 2


class ReadFileError(Exception):
    """A file that cannot be read as its interface says: rejected whole."""

    def __init__(
        self, reason: str, *, file: str, line: int | None = None, element: str | None = None
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.element = element
        super().__init__(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (raised in a parsing worker process, re-raised in the caller)."""
        return (_read_file_error, (self.reason, self.file, self.line, self.element))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f": line {self.line}"
        if self.element is not None:
            where += f": {self.element}"
        return f"{where}: {self.reason}"


def _read_file_error(
    reason: str, file: str, line: int | None, element: str | None
) -> ReadFileError:
    return ReadFileError(reason, file=file, line=line, element=element)


def _empty(dtype: type | str) -> np.ndarray:
    return np.empty(0, dtype=dtype)


@dataclass
class IntervalBatch:
    """Interval reads, one array element per interval (missing intervals included)."""

    meter: np.ndarray = field(default_factory=lambda: _empty(object))  # str meter serial
    start: np.ndarray = field(default_factory=lambda: _empty(np.int64))  # UTC epoch s, start
    minutes: np.ndarray = field(default_factory=lambda: _empty(np.int32))  # interval length
    wh: np.ndarray = field(default_factory=lambda: _empty(np.int64))  # 0 where MISSING
    quality: np.ndarray = field(default_factory=lambda: _empty(np.uint8))  # Quality values
    channel: np.ndarray = field(default_factory=lambda: _empty(np.uint8))  # Channel values
    line: np.ndarray = field(default_factory=lambda: _empty(np.int32))  # source line, 0 if none
    # A parser's verdict on a well-formed record it cannot load (a Reason code; None: every
    # read is a candidate). Such a read carries its meter, start, line and the channel's
    # interval length only to be listed as a rejected record: nothing of it is stored.
    reason: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def reasons(self) -> np.ndarray:
        """The Reason code of each read (zeros when the parser rejected none)."""
        return np.zeros(len(self), np.uint8) if self.reason is None else self.reason

    def take(self, index: np.ndarray | slice) -> IntervalBatch:
        """The reads at ``index`` (positions or a mask)."""
        taken = {name: getattr(self, name)[index] for name in _FIELDS}
        return IntervalBatch(**taken, reason=None if self.reason is None else self.reason[index])

    @classmethod
    def concat(cls, parts: list[IntervalBatch]) -> IntervalBatch:
        if not parts:
            return cls()
        joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS}
        if all(p.reason is None for p in parts):
            return cls(**joined)
        return cls(**joined, reason=np.concatenate([p.reasons() for p in parts]))


_FIELDS = ("meter", "start", "minutes", "wh", "quality", "channel", "line")


class Reason:
    """Why a well-formed record was not stored (the file still loads): set by the business
    rules (meters.reads.resolve) or, for what a standard allows but cannot be loaded, by the
    parser (IntervalBatch.reason)."""

    UNKNOWN_METER = "unknown_meter"
    NOT_LINKED = "not_linked"
    FUTURE = "future"
    OFF_GRID = "off_grid"
    LENGTH_CHANGED = "length_changed"
    AMBIGUOUS = "ambiguous_meter"
    DUPLICATE_CONFLICT = "duplicate_conflict"
    DURATION = "reading_duration"
    NOT_ELECTRICITY = "not_electricity"
    UNIT_NOT_LOADED = "unit_not_loaded"
    REGISTER_DECREASE = "register_decrease"
    NO_METER_ID = "no_meter_id"

    TEXT = {
        UNKNOWN_METER: "meter is not registered for this LDC",
        NOT_LINKED: "meter is not linked to an SDP on that day",
        FUTURE: "interval is in the future",
        OFF_GRID: "interval does not start on its interval grid",
        LENGTH_CHANGED: "interval length differs from the reads already stored for that day",
        AMBIGUOUS: (
            "meter cannot be told apart from another of the file (same id, or two ids of one"
            " meter): set the registry's external_id to the source's full key"
        ),
        DUPLICATE_CONFLICT: (
            "the file gives this interval twice with different values: neither is stored"
        ),
        DURATION: "reading's duration is not its channel's interval length",
        NOT_ELECTRICITY: "not electricity (gas, water, ...): not loaded",
        UNIT_NOT_LOADED: "energy other than kWh (kvarh, kW, ...): listed, not loaded",
        REGISTER_DECREASE: "cumulative register value goes down: no interval energy from it",
        NO_METER_ID: "record names no meter",
    }
    # In a batch's arrays a reason is a small code (0: accepted), an index into NAMES: one byte
    # per read instead of a Python string.
    NAMES = (
        "",
        UNKNOWN_METER,
        NOT_LINKED,
        FUTURE,
        OFF_GRID,
        LENGTH_CHANGED,
        AMBIGUOUS,
        DUPLICATE_CONFLICT,
        DURATION,
        NOT_ELECTRICITY,
        UNIT_NOT_LOADED,
        REGISTER_DECREASE,
        NO_METER_ID,
    )
    CODE = {name: code for code, name in enumerate(NAMES)}
    ACCEPTED = 0


@dataclass
class RegisterBatch:
    """Register (cumulative) reads: the meter's index at an instant."""

    meter: np.ndarray = field(default_factory=lambda: _empty(object))
    read_at: np.ndarray = field(default_factory=lambda: _empty(np.int64))  # UTC epoch s
    wh: np.ndarray = field(default_factory=lambda: _empty(np.int64))  # cumulative Wh
    channel: np.ndarray = field(default_factory=lambda: _empty(np.uint8))
    line: np.ndarray = field(default_factory=lambda: _empty(np.int32))

    def __len__(self) -> int:
        return int(self.read_at.shape[0])


@dataclass
class ParsedBatch:
    """One slice of a file: its intervals, its register reads and how many records it held."""

    intervals: IntervalBatch
    registers: RegisterBatch = field(default_factory=RegisterBatch)
    records: int = 0  # source records (lines, blocks, readings) this batch came from


class Parser(Protocol):
    def __call__(
        self,
        stream: BinaryIO,
        *,
        filename: str,
        tz: ZoneInfo,
        batch_reads: int = DEFAULT_BATCH_READS,
    ) -> Iterator[ParsedBatch]: ...


# An interval's energy is stored as int32 Wh (IntervalDay.wh): 2.1 GWh in one interval is a
# corrupt value, never a reading, and must not wrap round in storage. A register is a running
# total (int64 in storage) but kept where float64 still holds every whole watt-hour.
MAX_INTERVAL_WH = 2**31 - 1
MAX_REGISTER_WH = 2**53


class EnergyRangeError(ValueError):
    """Value ``index`` of a conversion is not a finite energy within +/- ``limit`` Wh."""

    def __init__(self, index: int, wh: float, limit: int) -> None:
        self.index = index
        self.wh = wh
        self.limit = limit
        shown = f"{wh:.6g} Wh" if np.isfinite(wh) else "not a finite number"
        super().__init__(f"energy {shown} is out of range (at most {limit} Wh)")


def out_of_range(wh: np.ndarray, limit: int = MAX_INTERVAL_WH) -> np.ndarray:
    """Which rounded Wh values (float64) are NaN, infinite or beyond +/- ``limit``."""
    return ~(np.abs(wh) <= limit)


def kwh_to_wh(
    values: np.ndarray, scale: float = 1000.0, *, limit: int = MAX_INTERVAL_WH
) -> np.ndarray:
    """Decimal energy values (float64) in a unit of ``scale`` Wh to int64 Wh, half-to-even.

    EnergyRangeError (a ValueError) names the first value beyond ``limit``: casting it to
    int64 would silently give garbage.
    """
    wh = np.rint(np.asarray(values, dtype=np.float64) * scale)
    bad = out_of_range(wh, limit)
    if bad.any():
        index = int(np.argmax(bad))
        raise EnergyRangeError(index, float(wh[index]), limit)
    return wh.astype(np.int64)
