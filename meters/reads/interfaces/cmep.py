"""CMEP MEPMD01 records: interval-ending local prevailing time triplets (samples README, 1).

Each block of about a megabyte of whole lines is read straight from its bytes with numpy: every
field of every line at once, so a file of short records (one per meter and day) costs no more
per value than one of long records. A line that any vectorised check doubts (quotes, a stray
byte, a fault, a blank stamp next to a repeated fall-back label...) is read again on its own by
the per-line reader, which decides it and words the error, in file order: results and messages
are the per-line reader's whichever path a line takes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.interfaces._localtime import (
    StampError,
    ccyymmddhhmm_words,
    parse_ccyymmddhhmm,
)
from meters.reads.interfaces._textfile import (
    Batcher,
    NumberError,
    byte_words,
    decimal_spans,
    decode_block,
    gather,
    parse_decimals,
    read_raw_blocks,
    spans_within,
    split_fields,
    words_at,
)
from meters.reads.interfaces.base import (
    DEFAULT_BATCH_READS,
    MAX_INTERVAL_WH,
    MAX_REGISTER_WH,
    EnergyRangeError,
    IntervalBatch,
    ParsedBatch,
    Quality,
    ReadFileError,
    Reason,
    RegisterBatch,
    kwh_to_wh,
    out_of_range,
)
from portal.calendar.localtime import Resolved, local_to_utc

try:
    from meters.reads.interfaces import _cmepscan as _compiled
except ImportError:  # built without a C compiler: the numpy reader does the same, slower
    _compiled = None

RECORD_TYPE = "MEPMD01"
NO_RECORDS_ERROR = "the file holds no MEPMD01 record"
HEADER_FIELDS = 14
# unit -> (Wh per unit, register channel)
_UNITS = {
    "KWH": (1000.0, False),
    "WH": (1.0, False),
    "KWHREG": (1000.0, True),
    "WHREG": (1.0, True),
}
# Units MEPMD01 allows that are not delivered energy in kWh/Wh (CMEP, California PUC / UtiliSmart
# "Common Metering Exchange Protocol", field 11 units of measure): their records are listed as
# rejected records with the unit, never a reason to reject the file (#18).
_OTHER_UNITS = {
    **dict.fromkeys(("KVARH", "VARH", "KVARHREG", "VARHREG"), Reason.KVARH_NOT_LOADED),
    **dict.fromkeys(("KVAH", "VAH", "KVAHREG", "VAHREG"), Reason.KVAH_NOT_LOADED),
    **dict.fromkeys(("KW", "W", "KWREG", "KWDMD"), Reason.KW_NOT_LOADED),
    **dict.fromkeys(("KVAR", "VAR"), Reason.KVAR_NOT_LOADED),
    **dict.fromkeys(("KVA", "VA"), Reason.KVA_NOT_LOADED),
    **dict.fromkeys(("PF", "V", "A", "VOLTS", "AMPS"), Reason.UNIT_NOT_LOADED),
}
# Field 10, commodity: E electricity; G gas, W water, S steam, ... are other commodities.
_ELECTRICITY = "E"
_LETTERS = {
    "R": Quality.ACTUAL,
    "A": Quality.ACTUAL,
    "E": Quality.ESTIMATED,
    "S": Quality.SUSPECT,
    "N": Quality.MISSING,
}
_FLAG_CHARS = str.maketrans("", "", "0123456789 ")
_COMMA, _NEWLINE, _QUOTE, _SPACE, _ZERO = b',\n" 0'
_STAMP_WIDTH = 12  # CCYYMMDDHHMM
# Blocks are read in parts of about this many bytes of lines: the dozens of temporary arrays of
# a part then stay in the CPU caches (faster than 1 MB; much smaller parts pay numpy's per-call
# cost). The blocks themselves stay as the per-line reader had them, so that a byte that is not
# UTF-8 is reported before the faults of the lines around it exactly as before.
_PART_BYTES = 1 << 19
_NO_QUALITY = 255
_QUALITY_OF_BYTE = np.full(256, _NO_QUALITY, dtype=np.uint8)  # first letter of protocol text
for _letter, _quality in _LETTERS.items():
    _QUALITY_OF_BYTE[ord(_letter)] = _quality
_FLAG_BYTES = np.zeros(256, dtype=bool)  # what may follow the letter: status digits, spaces
_FLAG_BYTES[list(b"0123456789 ")] = True


class _RecordError(ValueError):
    """A fault inside one record; the caller adds the file name and line."""


class _NotLoaded(Exception):
    """A well-formed record this reader lists as a rejected record: ``reason`` (a Reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Channel:
    scale: float  # Wh per value as written: unit size x calculation constant
    register: bool
    interval: int  # seconds; 0 = none (registers)


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
    for first_line, raw in read_raw_blocks(stream, filename):
        records += _read_block(raw, first_line, filename, tz, batcher)
        if batcher.full:
            yield from batcher.drain()
    if not records:
        raise ReadFileError(NO_RECORDS_ERROR, file=filename, line=None)
    yield from batcher.drain()


def parse_chunk(raw: bytes, *, first_line: int, filename: str, tz: ZoneInfo) -> ParsedBatch:
    """The reads of a chunk of whole lines (from read_raw_blocks): a file's chunks can be read
    apart, in any order, by different processes (meters.spool); no line depends on another."""
    batcher = Batcher(1 << 62)
    _read_block(raw, first_line, filename, tz, batcher)
    parts = list(batcher.drain())
    if len(parts) == 1:
        return parts[0]
    return ParsedBatch(IntervalBatch(), RegisterBatch(), 0)


def _read_line(text: str, line: int, filename: str, tz: ZoneInfo, batcher: Batcher) -> None:
    """Read one record into ``batcher``; any fault becomes a ReadFileError naming the line."""
    try:
        fields = split_fields(text)
        try:
            header = _header(fields)
        except _NotLoaded as exc:
            _list_not_loaded(fields, exc.reason, line, tz, batcher)
            return
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


def _list_not_loaded(
    fields: list[str], reason: str, line: int, tz: ZoneInfo, batcher: Batcher
) -> None:
    """A record without a meter id, of another commodity or unit: its triplets (checked as any
    record's) are queued as intervals carrying ``reason``, to be listed, never stored."""
    interval = _interval_seconds(fields[12])
    header = _Header(fields[7], 1000.0, interval == 0, interval, len(fields[14::3]))
    triplets = _triplets(fields, header, tz)
    batcher.count_records(1)
    batcher.add_intervals(
        header.meter,
        triplets.ends - interval,
        minutes=max(interval // 60, 1),
        wh=np.zeros(len(triplets.ends), np.int64),
        quality=triplets.quality,
        line=line,
        reason=Reason.CODE[reason],
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
    channel = _channel(*fields[9:13])
    if not fields[7].strip():
        raise _NotLoaded(Reason.NO_METER_ID)
    return _Header(fields[7], channel.scale, channel.register, channel.interval, count)


def _channel(commodity: str, units: str, constant: str, interval: str) -> _Channel:
    """Fields 10 to 13, checked: what every triplet of the record is measured in."""
    if commodity != _ELECTRICITY and commodity.strip():
        _interval_seconds(interval)
        raise _NotLoaded(Reason.NOT_ELECTRICITY)
    if units in _OTHER_UNITS:
        _interval_seconds(interval)
        raise _NotLoaded(_OTHER_UNITS[units])
    if commodity != _ELECTRICITY:
        raise _RecordError(f"commodity {commodity[:20]!r} (field 10) is not E (electricity)")
    if units not in _UNITS:
        raise _RecordError(f"units {units[:20]!r} (field 11) are not one of KWH, WH, KWHREG, WHREG")
    unit_wh, register = _UNITS[units]
    seconds = _interval_seconds(interval)
    if not register and seconds == 0:
        raise _RecordError(f"interval (field 13) is 00000000 on the {units} interval channel")
    return _Channel(unit_wh * _constant(constant), register, seconds)


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
    wh = _wh(values, quality, header.scale, MAX_REGISTER_WH if header.register else MAX_INTERVAL_WH)
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


def _wh(values: list[str], quality: np.ndarray, scale: float, limit: int) -> np.ndarray:
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
    positions = np.flatnonzero(~empty)
    try:
        wh[~empty] = kwh_to_wh(_numbers(filled, positions), scale, limit=limit)
    except EnergyRangeError as exc:
        raise _RecordError(f"triplet {positions[exc.index] + 1}: {exc}") from None
    return wh


def _numbers(texts: Sequence[str], positions: np.ndarray) -> np.ndarray:
    try:
        return parse_decimals(texts)
    except NumberError as exc:
        raise _RecordError(
            f"triplet {positions[exc.index] + 1}: value {exc.text[:20]!r} is not a decimal number"
        ) from None


# Block reader: every line of a block at once, from its bytes. Lines it does not vouch for are
# handed to _read_line above, in file order.


@dataclass(frozen=True)
class _Block:
    """The fields of a block of whole lines: each one ends at a comma or at its line's newline."""

    raw: bytes  # CRLF already LF, ending with a newline
    is_ascii: bool  # raw is ASCII (else UTF-8)
    buf: np.ndarray  # raw as uint8
    start: np.ndarray  # byte offset of every field of the block, in order
    stop: np.ndarray  # offset of the comma or newline that ends it
    first: np.ndarray  # per line: index of its first field
    count: np.ndarray  # per line: number of fields
    first_line: int  # 1-based number of the block's first line


@dataclass(frozen=True)
class _Channels:
    """Per line: _Channel in columns."""

    scale: np.ndarray  # float64
    register: np.ndarray  # bool
    interval: np.ndarray  # int64 seconds


@dataclass(frozen=True)
class _Spans:
    """Where each triplet's fields lie: the comma or newline ending each one, and the one before.

    Field i of a triplet (date/time, protocol text, value) runs from ``bounds[i] + 1`` to
    ``bounds[i + 1]``.
    """

    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    def start(self, i: int) -> np.ndarray:
        return self.bounds[i] + 1

    def stop(self, i: int) -> np.ndarray:
        return self.bounds[i + 1]

    def width(self, i: int) -> np.ndarray:
        return self.bounds[i + 1] - self.bounds[i] - 1


def _spans(block: _Block, rows: np.ndarray, counts: np.ndarray, head: np.ndarray) -> _Spans:
    """Spans of the triplets of lines ``rows``; ``head``: which triplets open a line."""
    heads = np.flatnonzero(head)
    stamp = np.repeat(block.first[rows] + HEADER_FIELDS - 3 * heads, counts)
    stamp += 3 * np.arange(stamp.size)  # field index of each triplet's date/time
    stamp_end, code_end, value_end = (block.stop[stamp + i] for i in range(3))
    # The bound before a date/time is the end of the triplet before, or of the header.
    before = np.empty_like(value_end)
    before[1:] = value_end[:-1]
    before[heads] = block.stop[stamp[heads] - 1]
    return _Spans((before, stamp_end, code_end, value_end))


_STAMP, _CODE, _VALUE = range(3)  # the fields of a triplet, in _Spans


@dataclass(frozen=True)
class _Reads:
    """The triplets of the lines the vectorised checks accepted, in file order."""

    lines: np.ndarray  # block line index of each accepted line, ascending
    offsets: np.ndarray  # index of each accepted line's first triplet, then the total
    meter: np.ndarray  # object: meter ID of each triplet
    register: np.ndarray  # bool: from a register channel
    ends: np.ndarray  # int64 UTC epoch s (interval end, or register read time)
    interval: np.ndarray  # int64 seconds
    quality: np.ndarray  # uint8
    wh: np.ndarray  # int64
    line: np.ndarray  # int32 source line


def _read_block(raw: bytes, first_line: int, filename: str, tz: ZoneInfo, batcher: Batcher) -> int:
    """Queue the records of a block of whole lines; returns how many there were."""
    is_ascii = raw.isascii()
    if not is_ascii:
        decode_block(raw, first_line, filename)  # names the line of a byte that is not UTF-8
    if b"\r" in raw:  # as decode_block does for _read_line; a stray CR stays, fails its field
        raw = raw.replace(b"\r\n", b"\n")
    raw = raw if raw.endswith(b"\n") else raw + b"\n"
    records, begin = 0, 0
    while begin < len(raw):
        end = raw.find(b"\n", begin + _PART_BYTES) + 1 or len(raw)  # whole lines, to the end
        block = _split(raw[begin:end], first_line, is_ascii)
        records += _read_part(block, filename, tz, batcher)
        begin, first_line = end, first_line + block.first.size
    return records


def _read_part(block: _Block, filename: str, tz: ZoneInfo, batcher: Batcher) -> int:
    """Queue the records of a part of a block; returns how many there were.

    Lines the vectorised checks did not accept (faulty, quoted, whitespace...) are read one by
    one between the runs of accepted ones, in file order: the first faulty line raises.
    """
    reads = _fast_reads(block, tz)
    accepted = np.zeros(block.first.size, dtype=bool)
    accepted[reads.lines] = True
    empty = (block.count == 1) & (block.start[block.first] == block.stop[block.first])
    records, done = 0, 0
    for line in [*np.flatnonzero(~accepted & ~empty).tolist(), block.first.size]:
        records += _queue_reads(reads, done, line, batcher)
        if line < block.first.size:
            records += _read_one(block, line, filename, tz, batcher)
        done = line + 1
    return records


def _split(raw: bytes, first_line: int, is_ascii: bool) -> _Block:
    """The fields and lines of ``raw`` (whole lines) by the position of every comma and newline."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    if _compiled is not None:  # one pass (the arrays' unused ends are never touched)
        stop, last = np.empty(len(raw), np.int64), np.empty(len(raw), np.int64)
        fields, lines = _compiled.fields(buf, stop, last)
        stop, last = stop[:fields], last[:lines]
    else:
        stop = np.flatnonzero((buf == _COMMA) | (buf == _NEWLINE))
        last = np.flatnonzero(buf[stop] == _NEWLINE)
    start = np.concatenate([[0], stop[:-1] + 1])
    first = np.concatenate([[0], last[:-1] + 1])
    return _Block(raw, is_ascii, buf, start, stop, first, last - first + 1, first_line)


def _read_one(block: _Block, line: int, filename: str, tz: ZoneInfo, batcher: Batcher) -> int:
    """Read one line with the per-line reader (it raises on a fault); 1 if it was a record."""
    begin = int(block.start[block.first[line]])
    end = int(block.stop[block.first[line] + block.count[line] - 1])
    text = block.raw[begin:end].decode("utf-8")
    if not text.strip():
        return 0  # blank lines (a trailing one is common) carry nothing
    _read_line(text, block.first_line + line, filename, tz, batcher)
    return 1


def _queue_reads(reads: _Reads, begin: int, end: int, batcher: Batcher) -> int:
    """Queue the accepted lines among block lines begin..end-1; returns how many."""
    low, high = np.searchsorted(reads.lines, [begin, end]).tolist()
    if low == high:
        return 0
    part = slice(int(reads.offsets[low]), int(reads.offsets[high]))
    batcher.count_records(high - low)
    register = reads.register[part]
    if not register.any():
        _queue_intervals(reads, part, batcher)
        return high - low
    where = np.arange(part.start, part.stop)
    if not register.all():
        _queue_intervals(reads, where[~register], batcher)
    # A missing register read has no index.
    kept = where[register & (reads.quality[part] != Quality.MISSING)]
    batcher.add_registers(reads.meter[kept], reads.ends[kept], reads.wh[kept], reads.line[kept])
    return high - low


def _queue_intervals(reads: _Reads, part: slice | np.ndarray, batcher: Batcher) -> None:
    interval = reads.interval[part]
    batcher.add_intervals(
        reads.meter[part],
        reads.ends[part] - interval,
        minutes=interval // 60,
        wh=reads.wh[part],
        quality=reads.quality[part],
        line=reads.line[part],
    )


def _fast_reads(block: _Block, tz: ZoneInfo) -> _Reads:
    """Every triplet of the block's well-formed lines, checked; faulty lines are left out."""
    rows, channels = _candidates(block)
    if not rows.size:
        return _no_reads()
    counts = (block.count[rows] - HEADER_FIELDS) // 3
    row, head = _layout(rows, counts)
    interval = np.repeat(channels.interval, counts)
    fields = (_scan_c if _compiled is not None else _scan_numpy)(block, rows, counts, head)
    ends, bad = _fast_ends(fields, row, head, interval, tz)
    wh, bad_value = _fast_wh(fields, np.repeat(channels.scale, counts))
    triplets = {
        "register": np.repeat(channels.register, counts),
        "ends": ends,
        "interval": interval,
        "quality": fields.quality,
        "wh": wh,
    }
    faulty = np.zeros(rows.size, dtype=bool)
    faulty[row[bad | (fields.quality == _NO_QUALITY) | bad_value]] = True
    if faulty.any():  # every triplet of a line with a faulty one is left out
        keep = ~faulty[row]
        rows, counts = rows[~faulty], counts[~faulty]
        triplets = {name: values[keep] for name, values in triplets.items()}
    meters = np.array(_meters(block, rows), dtype=object)
    return _Reads(
        lines=rows,
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        meter=np.repeat(meters, counts),
        line=(block.first_line + rows).astype(np.int32).repeat(counts),
        **triplets,
    )


@dataclass(frozen=True)
class _Fields:
    """The three fields of each triplet as read from its bytes, before any rule across them."""

    naive: np.ndarray  # int64 naive local seconds of the date/time (0 unless _READ)
    stamp: np.ndarray  # uint8 _READ, _BLANK or _UNREAD
    quality: np.ndarray  # uint8 Quality of the protocol text, _NO_QUALITY where refused
    values: np.ndarray  # float64 as written (0.0 unless _READ)
    value: np.ndarray  # uint8 _READ, _BLANK or _UNREAD


_READ, _BLANK, _UNREAD = range(3)  # a field of a triplet, in _Fields; the C reader's codes too


def _scan_c(block: _Block, rows: np.ndarray, counts: np.ndarray, head: np.ndarray) -> _Fields:
    """_Fields by the compiled reader (_cmepscan.c): one pass over the bytes, no temporaries."""
    total = head.size
    fields = _Fields(
        naive=np.empty(total, dtype=np.int64),
        stamp=np.empty(total, dtype=np.uint8),
        quality=np.empty(total, dtype=np.uint8),
        values=np.empty(total, dtype=np.float64),
        value=np.empty(total, dtype=np.uint8),
    )
    before = block.first[rows] + (HEADER_FIELDS - 1)  # each line's count field
    _compiled.triplets(
        block.buf,
        block.stop,
        np.ascontiguousarray(before, dtype=np.int64),
        np.ascontiguousarray(counts, dtype=np.int64),
        _QUALITY_OF_BYTE,
        fields.naive,
        fields.stamp,
        fields.quality,
        fields.values,
        fields.value,
    )
    return fields


def _scan_numpy(block: _Block, rows: np.ndarray, counts: np.ndarray, head: np.ndarray) -> _Fields:
    """_Fields with numpy alone, eight bytes at a time (when the C reader was not built)."""
    spans = _spans(block, rows, counts, head)
    words = byte_words(block.raw)
    # Each date/time as two words: 'CCYYMMDD' and 'HHMM' + ',' + the protocol text's first 3.
    dates, times = words_at(words, spans.start(_STAMP), 2)
    widths = spans.width(_STAMP)
    naive, valid = ccyymmddhhmm_words(dates, times)
    valid &= widths == _STAMP_WIDTH
    stamp = np.where(widths == 0, _BLANK, np.where(valid, _READ, _UNREAD)).astype(np.uint8)
    every = bool((widths == _STAMP_WIDTH).all())
    quality, bad_quality = _fast_quality(block, spans, times if every else None)
    quality[bad_quality] = _NO_QUALITY
    start, stop = spans.start(_VALUE), spans.stop(_VALUE)
    empty = stop == start
    values = np.zeros(start.size, dtype=np.float64)
    value = np.full(start.size, _BLANK, dtype=np.uint8)
    filled = np.flatnonzero(~empty)
    read, ok = decimal_spans(block.buf, words, start[filled], stop[filled])
    values[filled] = read
    value[filled] = np.where(ok, _READ, _UNREAD)
    return _Fields(naive, stamp, quality, values, value)


def _layout(rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the triplets of lines ``rows``: the line of each (index into rows), which open one."""
    row = np.repeat(np.arange(rows.size), counts)
    head = np.zeros(row.size, dtype=bool)
    head[np.cumsum(counts) - counts] = True  # counts are >= 1
    return row, head


def _no_reads() -> _Reads:
    none = np.empty(0, dtype=np.int64)
    return _Reads(none, np.zeros(1, dtype=np.int64), np.empty(0, dtype=object), *(none,) * 6)


def _meters(block: _Block, rows: np.ndarray) -> list[str]:
    """Field 8 of each line; the block is valid UTF-8 and commas never split a character."""
    starts = block.start[block.first[rows] + 7].tolist()
    stops = block.stop[block.first[rows] + 7].tolist()
    if block.is_ascii:  # then byte offsets are character offsets: one object per meter
        text = block.raw.decode("ascii")
        return [text[a:b] for a, b in zip(starts, stops, strict=True)]
    raw = block.raw
    return [raw[a:b].decode("utf-8") for a, b in zip(starts, stops, strict=True)]


def _candidates(block: _Block) -> tuple[np.ndarray, _Channels]:
    """Lines of MEPMD01 shape with a valid header, and their channels (per line)."""
    count, first = block.count, block.first
    shaped = (count >= HEADER_FIELDS + 3) & ((count - HEADER_FIELDS) % 3 == 0)
    if _QUOTE in block.buf:
        # A quoted field may hold commas: such lines are split by the CSV reader, one by one.
        newlines = block.stop[first + count - 1]
        shaped[np.searchsorted(newlines, np.flatnonzero(block.buf == _QUOTE))] = False
    rows = np.flatnonzero(shaped)
    record = first[rows]
    meter_width = block.stop[record + 7] - block.start[record + 7]
    rows = rows[_fields_equal(block, record, RECORD_TYPE.encode()) & (meter_width > 0)]
    ok, channels = _line_channels(block, rows)
    return rows[ok], _Channels(channels.scale[ok], channels.register[ok], channels.interval[ok])


def _fields_equal(block: _Block, fields: np.ndarray, text: bytes) -> np.ndarray:
    """Which of the given fields are exactly ``text``."""
    same = block.stop[fields] - block.start[fields] == len(text)
    chars = gather(block.buf, block.start[fields], len(text))
    return same & (chars == np.frombuffer(text, dtype=np.uint8)).all(axis=1)


def _line_channels(block: _Block, rows: np.ndarray) -> tuple[np.ndarray, _Channels]:
    """Fields 10 to 14 of each line, each distinct text checked once by the per-line rules:
    which lines have valid ones, with as many triplets as their count says, and the channels."""
    starts, stops = block.start[block.first[rows] + 9], block.stop[block.first[rows] + 13]
    codes = np.zeros(rows.size, dtype=np.int64)  # each line's index into ``distinct``
    distinct: dict[bytes, int] = {}
    if rows.size:
        # Head-ends write the same text on (nearly) every line: lines with the first line's
        # bytes are matched at once, the others one by one.
        width = stops - starts
        chars = gather(block.buf, starts, int(width[0]))
        other = (width != width[0]) | (chars != chars[0]).any(axis=1)
        raw = block.raw
        distinct[raw[starts[0] : stops[0]]] = 0
        for i in np.flatnonzero(other).tolist():
            codes[i] = distinct.setdefault(raw[starts[i] : stops[i]], len(distinct))
    faulty = (_Channel(0.0, False, 0), -1)  # also stands in when there is no line at all
    read = [_read_channel(text) or faulty for text in distinct] or [faulty]
    channels = [channel for channel, _ in read]
    count = np.array([count for _, count in read], dtype=np.int64)[codes]
    ok = count == (block.count[rows] - HEADER_FIELDS) // 3  # never -1
    return ok, _Channels(
        scale=np.array([c.scale for c in channels], dtype=np.float64)[codes],
        register=np.array([c.register for c in channels], dtype=bool)[codes],
        interval=np.array([c.interval for c in channels], dtype=np.int64)[codes],
    )


def _read_channel(text: bytes) -> tuple[_Channel, int] | None:
    """Channel and triplet count of fields 10-14 joined by commas; None if _header refuses them."""
    try:
        commodity, units, constant, interval, count = text.decode("utf-8").split(",")
        return _channel(commodity, units, constant, interval), _whole(count, "count")
    except (ValueError, OverflowError, _NotLoaded):  # _RecordError, UnicodeDecodeError among them
        return None  # the per-line reader decides (and lists a record it does not load)


def _fast_ends(
    fields: _Fields, row: np.ndarray, head: np.ndarray, interval: np.ndarray, tz: ZoneInfo
) -> tuple[np.ndarray, np.ndarray]:
    """UTC instant of each triplet as _ends reads it, and which triplets it would refuse."""
    naive, valid, blank = fields.naive, fields.stamp == _READ, fields.stamp == _BLANK
    if not valid.any():
        return naive, ~valid
    # Unreadable stamps stand in as a readable one: garbage must not widen the zone's table.
    resolved = local_to_utc(np.where(valid, naive, naive[np.argmax(valid)]), tz)
    # A blank may not open a line (nor fill without an interval): it would count on from the
    # line before.
    bad = (~valid & ~blank) | (blank & (head | (interval == 0))) | resolved.nonexistent
    ends = resolved.first
    if blank.any():
        ends = _fill_blanks(ends, blank, interval)
    ambiguous = valid & resolved.ambiguous
    if ambiguous.any():
        # Blanks after a moved repeat would move with it: such lines go to _read_line.
        blank_lines = np.zeros(row.size and int(row[-1]) + 1, dtype=bool)
        blank_lines[row[blank]] = True
        bad |= ambiguous & blank_lines[row]
        ends = ends.copy() if ends is resolved.first else ends  # it may share resolved.second
        _settle_repeats(ends, resolved.second, ambiguous & ~head, row)
    bad |= _too_close(ends, row, interval)
    return ends, bad


def _fill_blanks(ends: np.ndarray, blank: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """A blank stamp is the last stamped triplet + k intervals (a line never opens blank)."""
    positions = np.arange(ends.size)
    anchor = np.maximum.accumulate(np.where(blank, 0, positions))
    return ends[anchor] + (positions - anchor) * interval


def _settle_repeats(
    ends: np.ndarray, later: np.ndarray, ambiguous: np.ndarray, row: np.ndarray
) -> None:
    """_pick_repeats for all lines at once (lines without blanks, not at a line's start)."""
    where = np.flatnonzero(ambiguous)
    if not where.size:
        return
    fresh = np.concatenate([[True], row[where[1:]] != row[where[:-1]]])
    order = np.arange(where.size)
    rank = order - np.maximum.accumulate(np.where(fresh, order, 0))
    # The n-th repeated label of every line in one step: each depends only on the triplet
    # before it, which is final (not repeated, or an earlier repeat settled a step before).
    for step in range(int(rank.max()) + 1):
        now = where[rank == step]
        previous = ends[now - 1]
        move = now[(ends[now] <= previous) & (later[now] > previous)]
        ends[move] = later[move]


def _too_close(ends: np.ndarray, row: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """Triplets less than an interval (registers: not at all) after the one before them."""
    short = (row[1:] == row[:-1]) & (np.diff(ends) < np.maximum(interval[1:], 1))
    return np.concatenate([[False], short])


def _fast_quality(
    block: _Block, spans: _Spans, times: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Quality of each protocol text as _quality reads it, and which it would refuse.

    ``times``, when every date/time is 12 wide: their second words, which end with the
    protocol text's first characters (bytes 5 and 6).
    """
    start, stop, width = spans.start(_CODE), spans.stop(_CODE), spans.width(_CODE)
    if times is None:
        letter, flag = block.buf[start], block.buf[start + 1]
    else:
        letter, flag = (times >> 40) & 0xFF, (times >> 48) & 0xFF
    quality = _QUALITY_OF_BYTE[letter]  # an empty field starts on its comma: refused
    bad = (width == 0) | (quality == _NO_QUALITY)
    if (width == 2).all():  # the usual letter and one status digit ('R0')
        return quality, bad | ((flag - flag.dtype.type(_ZERO) >= 10) & (flag != _SPACE))
    flagged = np.flatnonzero(width > 1)
    if flagged.size:
        bad[flagged] |= ~spans_within(block.buf, start[flagged] + 1, stop[flagged], _FLAG_BYTES)
    return quality, bad


def _fast_wh(fields: _Fields, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wh of each triplet as _wh reads it, and which it would refuse."""
    empty = fields.value == _BLANK
    bad = (empty != (fields.quality == Quality.MISSING)) | (fields.value == _UNREAD)
    wh = np.rint(fields.values * scale)  # kwh_to_wh, scale per value; 0 where empty
    # Out of an interval's range: the per-line reader decides (a register may be larger).
    out = out_of_range(wh)
    if out.any():
        wh[out] = 0  # no garbage from the cast: those lines are re-read and refused
    return wh.astype(np.int64), bad | out
