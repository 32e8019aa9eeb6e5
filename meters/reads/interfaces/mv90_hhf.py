"""MV-90 HHF export, this project's text rendering: H0, then R, C, D... per recorder, then T.

Times are the meter's standard time at the fixed UTC offset the H0 record declares (no DST);
``D`` records carry interval-ending stamps and pulse counts (samples README, section 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.interfaces._localtime import StampError, parse_ccyymmddhhmm
from meters.reads.interfaces._textfile import (
    Batcher,
    NumberError,
    parse_counts,
    parse_decimals,
    read_blocks,
    split_fields,
)
from meters.reads.interfaces.base import (
    DEFAULT_BATCH_READS,
    MAX_REGISTER_WH,
    EnergyRangeError,
    ParsedBatch,
    Quality,
    ReadFileError,
    kwh_to_wh,
)

LAYOUT_ID = "HHFTXT1"
FIELD_COUNTS = {"H0": 6, "R": 7, "C": 8, "D": 6, "T": 3}
D_CHUNK = 16_384  # D records converted together
_OFFSET = re.compile(r"([+-])(\d\d)(\d\d)")
_MISSING = frozenset({7})
_ESTIMATED = frozenset({14, 15, 16})
_SUSPECT = frozenset({2, 3, 4, 5, 6, 8, 17, 18, 19, 20})


class _RecordError(ValueError):
    """A fault in the current record; the caller adds the file name and line."""


@dataclass
class _Recorder:
    """The R record being read, its C channel and how far its D records have come."""

    recorder: str
    meter: str
    start: int  # UTC epoch s, beginning of the first interval
    stop: int  # UTC epoch s, end of the last interval
    step: int  # interval, seconds
    line: int
    channel: str = ""  # channel number of its C record; "" until read
    wh_per_pulse: float = 0.0
    last_end: int = 0  # end of the last D interval read (start until then)


@dataclass
class _Reader:
    """State machine over the records of one file."""

    filename: str
    batcher: Batcher
    offset: int | None = None  # standard UTC offset in seconds, from H0
    recorder: _Recorder | None = None
    recorders: int = 0
    records: int = 0
    finished: bool = False  # T read
    pending: list[str] = field(default_factory=list)  # D records not yet converted
    pending_lines: list[int] = field(default_factory=list)


def parse(
    stream: BinaryIO, *, filename: str, tz: ZoneInfo, batch_reads: int = DEFAULT_BATCH_READS
) -> Iterator[ParsedBatch]:
    """Stream an MV-90 HHF text file as batches (``tz`` unused: H0 declares the offset)."""
    reader = _Reader(filename, Batcher(batch_reads))
    last_line = 0
    for block in read_blocks(stream, filename):
        last_line = _feed_block(reader, block.lines, block.first_line) or last_line
        if reader.batcher.full:
            yield from reader.batcher.drain()
    _flush(reader)
    if not reader.finished:
        reason = "the file ends here without its T trailer record (truncated)"
        raise ReadFileError(reason, file=filename, line=last_line or None)
    yield from reader.batcher.drain()


def _feed_block(reader: _Reader, lines: list[str], first_line: int) -> int:
    """Take a block's records; runs of D records are queued whole. The last record's line."""
    # Only the few non-D lines (R, C, T, blank) are visited one by one.
    others = [i for i, text in enumerate(lines) if not text.startswith("D,")]
    position, last = 0, 0
    for index in [*others, len(lines)]:
        if index > position:
            _queue_d(reader, lines[position:index], first_line + position)
            last = first_line + index - 1
        if index < len(lines) and lines[index].strip():
            _feed(reader, lines[index], first_line + index)
            last = first_line + index
        position = index + 1
    return last


def _queue_d(reader: _Reader, texts: list[str], first_line: int) -> None:
    """Queue consecutive D records of the current recorder for conversion in bulk."""
    reader.records += len(texts)
    current = reader.recorder
    if reader.finished or current is None or not current.channel:
        where = "the T trailer record" if reader.finished else "its recorder's R and C records"
        reason = f"D record comes {'after' if reader.finished else 'before'} {where}"
        raise ReadFileError(reason, file=reader.filename, line=first_line)
    reader.pending.extend(texts)
    reader.pending_lines.extend(range(first_line, first_line + len(texts)))
    if len(reader.pending) >= D_CHUNK:
        _flush(reader)


def _feed(reader: _Reader, text: str, line: int) -> None:
    """Take one record other than D: queued D records are converted first."""
    reader.records += 1
    try:
        if reader.finished:
            raise _RecordError("a record follows the T trailer record")
        _flush(reader)
        _read_record(reader, split_fields(text), line)
    except (_RecordError, ValueError, IndexError, OverflowError) as exc:
        raise ReadFileError(str(exc), file=reader.filename, line=line) from None
    reader.batcher.count_records(1)


def _read_record(reader: _Reader, fields: list[str], line: int) -> None:
    kind = fields[0]
    if kind not in FIELD_COUNTS:
        raise _RecordError(f"record type {kind[:20]!r} is not H0, R, C, D or T")
    if len(fields) != FIELD_COUNTS[kind]:
        raise _RecordError(
            f"{kind} record has {len(fields)} fields; it must have "
            f"{FIELD_COUNTS[kind]} (wrong field count)"
        )
    if kind == "H0":
        _header(reader, fields)
    elif reader.offset is None:
        raise _RecordError(f"{kind} record comes before the H0 header record")
    elif kind == "R":
        _close_recorder(reader)
        reader.recorder = _recorder(reader, fields, line)
        reader.recorders += 1
    elif kind == "C":
        _channel(reader, fields, line)
    elif kind == "T":
        _close_recorder(reader)
        _trailer(reader, fields)
    else:
        raise _RecordError("D record comes before its recorder's R and C records")


def _header(reader: _Reader, fields: list[str]) -> None:
    """H0: creation time, source, layout id, standard UTC offset, DST observed."""
    if reader.records != 1:
        raise _RecordError("H0 header record is not the first record of the file")
    _stamp(fields[1], "creation time")
    if fields[3] != LAYOUT_ID:
        raise _RecordError(f"layout id {fields[3][:20]!r} is not {LAYOUT_ID}")
    match = _OFFSET.fullmatch(fields[4])
    if match is None or int(match[2]) > 14 or int(match[3]) > 59:
        raise _RecordError(f"standard UTC offset {fields[4][:20]!r} is not +HHMM or -HHMM")
    if fields[5] != "N":
        raise _RecordError(f"DST observed is {fields[5][:20]!r}; times must be standard time (N)")
    sign = -1 if match[1] == "-" else 1
    reader.offset = sign * (int(match[2]) * 3600 + int(match[3]) * 60)


def _stamp(text: str, what: str) -> int:
    """Naive seconds of one CCYYMMDDHHMM field."""
    try:
        return int(parse_ccyymmddhhmm([text])[0])
    except StampError as exc:
        raise _RecordError(f"{what} {exc}") from None


def _whole(text: str, what: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise _RecordError(f"{what} {text[:20]!r} is not a whole number from {low} to {high}")
    return int(text)


def _recorder(reader: _Reader, fields: list[str], line: int) -> _Recorder:
    """R: recorder ID, meter ID, data start and stop, interval minutes, channel count."""
    _, recorder, meter, start_text, stop_text, minutes_text, channels = fields
    if not recorder or not meter:
        raise _RecordError("R record has an empty recorder ID or meter ID")
    offset = reader.offset or 0
    start = _stamp(start_text, "data start") - offset
    stop = _stamp(stop_text, "data stop") - offset
    step = _whole(minutes_text, "interval minutes", 1, 1440) * 60
    if _whole(channels, "channel count", 1, 999) != 1:
        raise _RecordError(
            f"recorder {recorder} declares {channels} channels; only one channel "
            "(delivered kWh) per recorder is handled"
        )
    if stop <= start or (stop - start) % step:
        raise _RecordError(
            f"data start {start_text} to stop {stop_text} is not a whole number "
            f"of {step // 60}-minute intervals"
        )
    return _Recorder(recorder, meter, start, stop, step, line, last_end=start)


def _current(reader: _Reader, recorder: str, kind: str) -> _Recorder:
    current = reader.recorder
    if current is None:
        raise _RecordError(f"{kind} record comes before any R record")
    if recorder != current.recorder:
        raise _RecordError(
            f"{kind} record names recorder {recorder[:20]!r}, but the current R "
            f"record (line {current.line}) is {current.recorder}"
        )
    return current


def _decimal(text: str, what: str) -> float:
    try:
        return float(parse_decimals([text])[0])
    except NumberError:
        raise _RecordError(f"{what} {text[:20]!r} is not a decimal number") from None


def _channel(reader: _Reader, fields: list[str], line: int) -> None:
    """C: channel number, UOM, Ke, meter multiplier; its readings become register reads."""
    _, recorder, number, uom, ke_text, multiplier_text, first_text, last_text = fields
    current = _current(reader, recorder, "C")
    if current.channel:
        raise _RecordError(f"recorder {recorder} has a second C record")
    _whole(number, "channel number", 1, 1)
    if uom != "KWH":
        raise _RecordError(f"unit of measure {uom[:20]!r} is not KWH")
    ke = _decimal(ke_text, "pulse multiplier Ke")
    multiplier = _decimal(multiplier_text, "meter multiplier")
    if ke <= 0 or multiplier <= 0:
        raise _RecordError("pulse multiplier Ke and meter multiplier must be positive")
    readings = np.array(
        [_decimal(first_text, "start reading"), _decimal(last_text, "stop reading")]
    )
    current.channel, current.wh_per_pulse = number, ke * multiplier
    at = np.array([current.start, current.stop], dtype=np.int64)
    try:
        wh = kwh_to_wh(readings, limit=MAX_REGISTER_WH)
    except EnergyRangeError as exc:
        raise _RecordError(f"{('start', 'stop')[exc.index]} reading: {exc}") from None
    reader.batcher.add_registers(current.meter, at, wh, line)


def _close_recorder(reader: _Reader) -> None:
    """The recorder before the next R or T must have its C record and end at its data stop."""
    current = reader.recorder
    if current is None:
        return
    if not current.channel:
        raise _RecordError(f"recorder {current.recorder} (line {current.line}) has no C record")
    if current.last_end != current.stop:
        missing = (current.stop - current.last_end) // current.step
        raise _RecordError(
            f"recorder {current.recorder} (line {current.line}) stops "
            f"{missing} intervals before its data stop: D records are missing"
        )
    reader.recorder = None


def _trailer(reader: _Reader, fields: list[str]) -> None:
    """T: recorder count and total record count (H0 and T included) must match the file."""
    recorders = _whole(fields[1], "recorder count", 0, 10**9)
    records = _whole(fields[2], "record count", 0, 10**12)
    if recorders != reader.recorders:
        raise _RecordError(
            f"T trailer counts {recorders} recorders, the file has "
            f"{reader.recorders}: truncated or altered"
        )
    if records != reader.records:
        raise _RecordError(
            f"T trailer counts {records} records, the file has {reader.records}: "
            "truncated or altered"
        )
    reader.finished = True


def _flush(reader: _Reader) -> None:
    """Convert the queued D records of the current recorder in one vectorised pass."""
    if not reader.pending:
        return
    texts, lines = reader.pending, np.array(reader.pending_lines, dtype=np.int32)
    reader.pending, reader.pending_lines = [], []
    current = reader.recorder
    assert current is not None  # D records queue only inside a recorder
    try:
        ends, quality, wh = _intervals(current, _d_columns(texts), reader.offset)
    except _DError as exc:
        raise ReadFileError(str(exc), file=reader.filename, line=int(lines[exc.index])) from None
    reader.batcher.count_records(len(texts))
    reader.batcher.add_intervals(
        current.meter,
        ends - current.step,
        minutes=current.step // 60,
        wh=wh,
        quality=quality,
        line=lines,
    )
    current.last_end = int(ends[-1])


class _DError(ValueError):
    """A fault in the D record at ``index`` of the chunk being converted."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        super().__init__(reason)


def _d_columns(texts: list[str]) -> list[list[str]]:
    """The six columns of D records, each record checked for its field count."""
    commas = np.fromiter(map(str.count, texts, repeat(",")), dtype=np.int64, count=len(texts))
    width = FIELD_COUNTS["D"]
    if '"' in "".join(texts):
        rows = [split_fields(text) for text in texts]  # quoted fields: the CSV reader decides
        commas = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)) - 1
    if (commas != width - 1).any():
        index = int(np.argmax(commas != width - 1))
        reason = (
            f"D record has {commas[index] + 1} fields; it must have {width} (wrong field count)"
        )
        raise _DError(index, reason)
    if '"' in "".join(texts):
        return [list(column) for column in zip(*rows, strict=True)]
    flat = ",".join(texts).split(",")
    return [flat[k::width] for k in range(width)]


def _intervals(
    current: _Recorder, columns: list[list[str]], offset: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval ends (UTC), quality and Wh of D records, checked for layout and contiguity."""
    _, recorders, channels, stamps, pulses, statuses = columns
    _same(recorders, current.recorder, "recorder")
    _same(channels, current.channel, "channel")
    ends = _ends(current, stamps, offset or 0)
    quality = _quality(statuses)
    try:
        counts = parse_counts(pulses)
    except NumberError as exc:
        raise _DError(
            exc.index, f"pulse count {exc.text[:20]!r} is not a whole number (non-numeric pulses)"
        ) from None
    kwh = counts * current.wh_per_pulse
    kwh[quality == Quality.MISSING] = 0  # status 7: the pulse count means nothing
    try:
        wh = kwh_to_wh(kwh)
    except EnergyRangeError as exc:
        raise _DError(exc.index, f"pulse count {pulses[exc.index][:20]!r}: {exc}") from None
    return ends, quality, wh


def _same(values: Sequence[str], wanted: str, what: str) -> None:
    if values.count(wanted) != len(values):
        index = next(i for i, value in enumerate(values) if value != wanted)
        raise _DError(index, f"D record names {what} {values[index][:20]!r}, expected {wanted}")


def _ends(current: _Recorder, stamps: Sequence[str], offset: int) -> np.ndarray:
    """UTC interval ends; each must be exactly one interval after the previous one."""
    try:
        ends = parse_ccyymmddhhmm(stamps) - offset
    except StampError as exc:
        raise _DError(exc.index, f"interval end {exc}") from None
    expected = current.last_end + current.step * np.arange(1, len(stamps) + 1, dtype=np.int64)
    wrong = (ends != expected) | (ends > current.stop)
    if wrong.any():
        index = int(np.argmax(wrong))
        stop = _label(current.stop + offset)
        if ends[index] > current.stop:
            reason = f"D record ends at {stamps[index]}, after the recorder's data stop {stop}"
        elif expected[index] > current.stop:
            reason = f"D record ends at {stamps[index]}, but the recorder already reached {stop}"
        else:
            reason = (
                f"D record ends at {stamps[index]}; the next interval should end "
                f"{_label(int(expected[index]) + offset)} (D records must be contiguous)"
            )
        raise _DError(index, reason)
    return ends


def _label(naive: int) -> str:
    """CCYYMMDDHHMM of naive seconds (for messages)."""
    text = str(np.datetime64(naive, "s").astype("datetime64[m]"))
    return text.replace("-", "").replace("T", "").replace(":", "")


def _status_quality(text: str) -> Quality:
    """Quality of one status field: the worst of its ';'-separated MV-90 status codes."""
    quality = Quality.ACTUAL
    for part in text.split(";") if text else ():
        if not part.isascii() or not part.isdigit() or len(part) > 3:
            raise ValueError(part)
        code = int(part)
        if code in _MISSING:
            quality = max(quality, Quality.MISSING)
        elif code in _ESTIMATED:
            quality = max(quality, Quality.ESTIMATED)
        elif code in _SUSPECT:
            quality = max(quality, Quality.SUSPECT)
    return quality


def _quality(statuses: Sequence[str]) -> np.ndarray:
    table = {}
    for text in set(statuses):
        try:
            table[text] = _status_quality(text)
        except ValueError:
            reason = f"status codes {text[:30]!r} are not numbers separated by ';'"
            raise _DError(statuses.index(text), reason) from None
    if len(table) == 1:  # the usual chunk: no status code at all
        return np.full(len(statuses), next(iter(table.values())), dtype=np.uint8)
    return np.fromiter(map(table.__getitem__, statuses), dtype=np.uint8, count=len(statuses))
