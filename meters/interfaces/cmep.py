"""CMEP MEPMD01 records: interval-ending local prevailing time triplets (samples README, 1)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from meters.interfaces._localtime import (
    Resolved,
    StampError,
    local_to_utc,
    parse_ccyymmddhhmm,
)
from meters.interfaces._textfile import (
    Batcher,
    NumberError,
    parse_decimals,
    read_blocks,
    split_fields,
)
from meters.interfaces.base import (
    DEFAULT_BATCH_READS,
    ParsedBatch,
    Quality,
    ReadFileError,
    kwh_to_wh,
)

RECORD_TYPE = "MEPMD01"
HEADER_FIELDS = 14
# unit -> (Wh per unit, register channel)
_UNITS = {
    "KWH": (1000.0, False),
    "WH": (1.0, False),
    "KWHREG": (1000.0, True),
    "WHREG": (1.0, True),
}
_LETTERS = {
    "R": Quality.ACTUAL,
    "A": Quality.ACTUAL,
    "E": Quality.ESTIMATED,
    "S": Quality.SUSPECT,
    "N": Quality.MISSING,
}
_FLAG_CHARS = str.maketrans("", "", "0123456789 ")


class _RecordError(ValueError):
    """A fault inside one record; the caller adds the file name and line."""


@dataclass(frozen=True)
class _Header:
    meter: str
    scale: float  # Wh per value as written: unit size x calculation constant
    register: bool
    interval: int  # seconds; 0 = none (registers)
    count: int


@dataclass(frozen=True)
class _Triplets:
    ends: np.ndarray  # UTC epoch s of each triplet (interval end, or register read time)
    quality: np.ndarray  # uint8 Quality
    wh: np.ndarray  # int64, 0 where MISSING


def parse(
    stream: BinaryIO, *, filename: str, tz: ZoneInfo, batch_reads: int = DEFAULT_BATCH_READS
) -> Iterator[ParsedBatch]:
    """Stream a CMEP file's MEPMD01 interval and register records as batches."""
    batcher = Batcher(batch_reads)
    records = 0
    for block in read_blocks(stream, filename):
        for number, text in enumerate(block.lines, block.first_line):
            if not text.strip():
                continue  # blank lines (a trailing one is common) carry nothing
            _read_line(text, number, filename, tz, batcher)
            records += 1
            if batcher.full:
                yield from batcher.drain()
    if not records:
        raise ReadFileError("the file holds no MEPMD01 record", file=filename, line=None)
    yield from batcher.drain()


def _read_line(text: str, line: int, filename: str, tz: ZoneInfo, batcher: Batcher) -> None:
    """Read one record into ``batcher``; any fault becomes a ReadFileError naming the line."""
    try:
        fields = split_fields(text)
        header = _header(fields)
        triplets = _triplets(fields, header, tz)
    except (_RecordError, ValueError, IndexError, OverflowError) as exc:
        raise ReadFileError(str(exc), file=filename, line=line) from None
    batcher.count_records(1)
    if header.register:
        kept = triplets.quality != Quality.MISSING  # a missing register read has no index
        batcher.add_registers(header.meter, triplets.ends[kept], triplets.wh[kept], line)
        return
    batcher.add_intervals(
        header.meter,
        triplets.ends - header.interval,
        minutes=header.interval // 60,
        wh=triplets.wh,
        quality=triplets.quality,
        line=line,
    )


def _header(fields: list[str]) -> _Header:
    """The 14 header fields, checked; the field count must match the triplet count."""
    if fields[0] != RECORD_TYPE:
        raise _RecordError(
            f"record type {fields[0][:20]!r} is not {RECORD_TYPE}; only interval "
            "data records (MEPMD01) are handled"
        )
    if len(fields) < HEADER_FIELDS:
        raise _RecordError(
            f"has {len(fields)} fields; a MEPMD01 record has {HEADER_FIELDS} "
            "header fields before its triplets"
        )
    count = _whole(fields[13], "count (field 14)")
    wanted = HEADER_FIELDS + 3 * count
    if len(fields) != wanted:
        raise _RecordError(f"declares {count} triplets ({wanted} fields), has {len(fields)} fields")
    if not fields[7]:
        raise _RecordError("meter ID (field 8) is empty")
    if fields[9] != "E":
        raise _RecordError(f"commodity {fields[9][:20]!r} (field 10) is not E (electricity)")
    if fields[10] not in _UNITS:
        raise _RecordError(
            f"units {fields[10][:20]!r} (field 11) are not one of KWH, WH, KWHREG, WHREG"
        )
    unit_wh, register = _UNITS[fields[10]]
    interval = _interval_seconds(fields[12])
    if not register and interval == 0:
        raise _RecordError(f"interval (field 13) is 00000000 on the {fields[10]} interval channel")
    constant = _constant(fields[11])
    return _Header(fields[7], unit_wh * constant, register, interval, count)


def _whole(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii() or len(text) > 9:
        raise _RecordError(f"{what} {text[:20]!r} is not a whole number")
    return int(text)


def _constant(text: str) -> float:
    try:
        value = float(parse_decimals([text])[0])
    except NumberError:
        raise _RecordError(
            f"calculation constant (field 12) {text[:20]!r} is not a number"
        ) from None
    if value <= 0:
        raise _RecordError(f"calculation constant (field 12) {text!r} is not positive")
    return value


def _interval_seconds(text: str) -> int:
    """MMDDHHMM duration to seconds; months vary in length, so they are refused."""
    if len(text) != 8 or not text.isdigit() or not text.isascii():
        raise _RecordError(f"interval (field 13) {text[:20]!r} is not MMDDHHMM")
    months, days, hours, minutes = (int(text[i : i + 2]) for i in range(0, 8, 2))
    if months or hours > 23 or minutes > 59:
        raise _RecordError(f"interval (field 13) {text!r} is not a duration under a month")
    return ((days * 24 + hours) * 60 + minutes) * 60


def _triplets(fields: list[str], header: _Header, tz: ZoneInfo) -> _Triplets:
    """Times, qualities and Wh of the record's triplets, all vectorised."""
    stamps, codes, values = fields[14::3], fields[15::3], fields[16::3]
    ends = _ends(stamps, header.interval, tz)
    quality = _quality(codes)
    wh = _wh(values, quality, header.scale)
    return _Triplets(ends, quality, wh)


def _ends(stamps: list[str], interval: int, tz: ZoneInfo) -> np.ndarray:
    """UTC instant of every triplet: local labels resolved in sequence, blanks filled in."""
    if not stamps:
        return np.empty(0, dtype=np.int64)
    blank = _empty(stamps)
    if blank[0]:
        raise _RecordError("triplet 1 has no date/time; only later triplets may leave it blank")
    if interval == 0 and blank.any():
        raise _RecordError(f"triplet {_nth(blank)} has no date/time and the record no interval")
    present = np.flatnonzero(~blank)
    labels = stamps if present.size == len(stamps) else list(compress(stamps, ~blank))
    resolved = _resolve(labels, present, tz)
    ends = _fill(present, resolved.first, len(stamps), interval)
    _pick_repeats(ends, present, resolved.ambiguous, resolved.second)
    _check_advance(ends, stamps, interval)
    return ends


def _resolve(labels: list[str], present: np.ndarray, tz: ZoneInfo) -> Resolved:
    """Both UTC readings of each local label; a label in the spring-forward gap is an error."""
    try:
        naive = parse_ccyymmddhhmm(labels)
    except StampError as exc:
        raise _RecordError(f"triplet {present[exc.index] + 1}: {exc}") from None
    resolved = local_to_utc(naive, tz)
    if resolved.nonexistent.any():
        bad = int(np.argmax(resolved.nonexistent))
        raise _RecordError(
            f"triplet {present[bad] + 1}: date/time {labels[bad]} does not exist in {tz.key} "
            "(the clock jumps over it when daylight saving time starts)"
        )
    return resolved


def _empty(texts: list[str]) -> np.ndarray:
    """Which texts are empty; the membership test spares the per-item pass when none is."""
    if "" not in texts:
        return np.zeros(len(texts), dtype=bool)
    return np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) == 0


def _nth(mask: np.ndarray) -> int:
    return int(np.argmax(mask)) + 1


def _fill(present: np.ndarray, instants: np.ndarray, count: int, interval: int) -> np.ndarray:
    """Instants at ``present`` positions; blank ones = the last stamped one + k intervals."""
    if present.size == count:
        return instants.copy()
    positions = np.arange(count)
    anchor = np.zeros(count, dtype=np.int64)
    anchor[present] = present
    anchor = np.maximum.accumulate(anchor)
    stamped = np.zeros(count, dtype=np.int64)
    stamped[present] = instants
    return stamped[anchor] + (positions - anchor) * interval


def _pick_repeats(
    ends: np.ndarray, present: np.ndarray, ambiguous: np.ndarray, second: np.ndarray
) -> None:
    """Fall-back labels: the earliest instant after the previous triplet (README rule)."""
    # Repeated labels are a few per year, so a loop over them alone stays cheap.
    for where, later in zip(present[ambiguous].tolist(), second[ambiguous].tolist(), strict=True):
        if where == 0 or ends[where] > ends[where - 1] or later <= ends[where - 1]:
            continue
        following = np.searchsorted(present, where, side="right")
        stop = int(present[following]) if following < present.size else ends.size
        ends[where:stop] += later - ends[where]  # blanks after it count from the new instant


def _check_advance(ends: np.ndarray, stamps: list[str], interval: int) -> None:
    """Each triplet must be at least one interval (registers: any time) after the previous."""
    gaps = np.diff(ends)
    short = gaps < max(interval, 1)
    if not short.any():
        return
    index = int(np.argmax(short)) + 1
    label = stamps[index] or "(blank)"
    if gaps[index - 1] <= 0:
        raise _RecordError(
            f"triplet {index + 1}: timestamp {label} does not advance "
            "(it is not after the previous triplet; triplets must be in time order)"
        )
    raise _RecordError(
        f"triplet {index + 1}: timestamp {label} is less than one interval after "
        "the previous triplet (intervals would overlap)"
    )


def _quality(codes: list[str]) -> np.ndarray:
    """Quality of each protocol text: its first letter decides, the digits are status flags."""
    table = {}
    for code in set(codes):
        letter = _LETTERS.get(code[:1])
        if letter is None or code[1:].translate(_FLAG_CHARS):
            index = codes.index(code) + 1
            raise _RecordError(
                f"triplet {index}: quality (protocol text) {code[:20]!r} is not "
                "R, A, E, S or N followed by status digits"
            )
        table[code] = letter
    if len(table) == 1:
        return np.full(len(codes), table[codes[0]], dtype=np.uint8)
    return np.fromiter(map(table.__getitem__, codes), dtype=np.uint8, count=len(codes))


def _wh(values: list[str], quality: np.ndarray, scale: float) -> np.ndarray:
    """Wh of each triplet; MISSING (N) must be empty and is 0, every other must be a number."""
    count = len(values)
    empty = _empty(values)
    missing = quality == Quality.MISSING
    if (missing & ~empty).any():
        index = _nth(missing & ~empty)
        raise _RecordError(
            f"triplet {index}: quality N (missing) has a value "
            f"{values[index - 1][:20]!r}; a missing interval must have none"
        )
    if (empty & ~missing).any():
        raise _RecordError(
            f"triplet {_nth(empty & ~missing)}: value is empty but the quality is not N (missing)"
        )
    wh = np.zeros(count, dtype=np.int64)
    filled = values if not empty.any() else list(compress(values, ~empty))
    wh[~empty] = kwh_to_wh(_numbers(filled, np.flatnonzero(~empty)), scale)
    return wh


def _numbers(texts: Sequence[str], positions: np.ndarray) -> np.ndarray:
    try:
        return parse_decimals(texts)
    except NumberError as exc:
        raise _RecordError(
            f"triplet {positions[exc.index] + 1}: value {exc.text[:20]!r} is not a decimal number"
        ) from None
