"""Generic CSV interval file: interval-ending ISO 8601 timestamps with offsets (README, 6).

Each block of about a megabyte is first read straight from its bytes with numpy (no Python
string per field); a block that has quotes, or anything that path does not accept, is read again
through the strict CSV reader, which also words the error for a bad row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.interfaces._localtime import StampError, iso_matrix_utc, parse_iso_utc
from meters.reads.interfaces._textfile import (
    Batcher,
    Block,
    NumberError,
    decimals_from_bytes,
    decode_block,
    gather,
    parse_counts,
    parse_decimals,
    read_raw_blocks,
)
from meters.reads.interfaces.base import (
    DEFAULT_BATCH_READS,
    EnergyRangeError,
    ParsedBatch,
    Quality,
    ReadFileError,
    kwh_to_wh,
)

HEADER = ["meter_id", "timestamp", "kwh", "quality_flag"]
OPTIONAL_COLUMN = "interval_minutes"
DEFAULT_MINUTES = 60
_FLAGS = {"A": Quality.ACTUAL, "E": Quality.ESTIMATED, "S": Quality.SUSPECT, "M": Quality.MISSING}
_NO_FLAG = 255
_FLAG_BYTES = np.full(256, _NO_FLAG, dtype=np.uint8)
for _letter, _quality_value in _FLAGS.items():
    _FLAG_BYTES[ord(_letter)] = _quality_value
_FAST_WIDTHS = (25, 20)  # '2026-03-07T01:00:00-05:00' and '2026-03-07T06:00:00Z'


class _RowError(ValueError):
    """A fault in the row at ``index`` of the current block; the caller adds file and line."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        super().__init__(reason)


@dataclass
class _State:
    """What the reader knows between blocks: the header and each meter's last row."""

    filename: str
    columns: int = 0  # 0 until the header is read
    last: dict[str, tuple[int, int]] = field(default_factory=dict)  # meter -> (UTC end, line)


@dataclass(frozen=True)
class _Chunk:
    """The converted rows of one block."""

    lines: np.ndarray  # int32 line number of each row
    names: list[str]  # distinct meters of the block
    codes: np.ndarray  # each row's index into names
    ends: np.ndarray  # int64 UTC interval ends
    quality: np.ndarray  # uint8
    wh: np.ndarray  # int64
    minutes: np.ndarray | int
    stamp: Callable[[int], str]  # the timestamp text of a row, for messages


def parse(
    stream: BinaryIO, *, filename: str, tz: ZoneInfo, batch_reads: int = DEFAULT_BATCH_READS
) -> Iterator[ParsedBatch]:
    """Stream a generic CSV interval file as batches (``tz`` unused: rows carry offsets)."""
    state = _State(filename)
    batcher = Batcher(batch_reads)
    for first_line, raw in read_raw_blocks(stream, filename):
        if not state.columns:
            first_line, raw = _take_header(first_line, raw, state)
        if not raw:
            continue
        lines = np.empty(0, dtype=np.int32)
        try:
            chunk = _fast_chunk(raw, first_line, state.columns)
            if chunk is None:
                block = decode_block(raw, first_line, filename)
                lines, columns = _split_rows(block, state)
                chunk = _slow_chunk(lines, columns, state.columns)
            lines = chunk.lines
            _queue(chunk, state, batcher)
        except _RowError as exc:
            raise ReadFileError(str(exc), file=filename, line=int(lines[exc.index])) from None
        if batcher.full:
            yield from batcher.drain()
    if not state.columns:
        raise ReadFileError("the file is empty: the header row is missing", file=filename)
    yield from batcher.drain()


def _take_header(first_line: int, raw: bytes, state: _State) -> tuple[int, bytes]:
    """Read the header from the first non-blank line; the line number and bytes after it."""
    position = 0
    while position < len(raw):
        cut = raw.find(b"\n", position)
        cut = len(raw) if cut < 0 else cut
        line = raw[position:cut].removesuffix(b"\r")
        text = decode_block(line, first_line, state.filename).lines
        if text and text[0]:
            _read_header(_csv_rows(Block(first_line, text), state.filename)[0], first_line, state)
            return first_line + 1, raw[cut + 1 :]
        first_line, position = first_line + 1, cut + 1
    return first_line, b""


def _read_header(row: list[str], line: int, state: _State) -> None:
    if row not in (HEADER, [*HEADER, OPTIONAL_COLUMN]):
        reason = (
            f"header {','.join(row)[:120]!r} is not exactly {','.join(HEADER)} "
            f"(optionally followed by ,{OPTIONAL_COLUMN})"
        )
        raise ReadFileError(reason, file=state.filename, line=line)
    state.columns = len(row)


def _queue(chunk: _Chunk, state: _State, batcher: Batcher) -> None:
    """Check the rows' time order per meter, then hand the block's intervals to the batcher."""
    if not len(chunk.lines):
        return  # only blank lines
    _check_order(chunk, state)
    minutes = np.asarray(chunk.minutes)
    batcher.count_records(len(chunk.lines))
    batcher.add_intervals(
        np.array(chunk.names, dtype=object)[chunk.codes],
        chunk.ends - minutes.astype(np.int64) * 60,
        minutes=chunk.minutes,
        wh=chunk.wh,
        quality=chunk.quality,
        line=chunk.lines,
    )


def _check_order(chunk: _Chunk, state: _State) -> None:
    """Rows of each meter must be in strictly increasing time order, across blocks too."""
    order = np.argsort(chunk.codes, kind="stable")
    codes, ends = chunk.codes[order], chunk.ends[order]
    same = codes[1:] == codes[:-1]
    late = np.flatnonzero(same & (ends[1:] <= ends[:-1])) + 1
    faults = []
    if late.size:
        first = late[np.argmin(order[late])]  # the earliest such row in file order
        faults.append((int(order[first]), int(chunk.lines[order[first - 1]])))
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    stops = np.concatenate([starts[1:], [len(order)]]) - 1
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        meter = chunk.names[codes[start]]
        previous = state.last.get(meter)
        if previous is not None and ends[start] <= previous[0]:
            faults.append((int(order[start]), previous[1]))
        state.last[meter] = (int(ends[stop]), int(chunk.lines[order[stop]]))
    if faults:
        index, before = min(faults)
        meter = chunk.names[chunk.codes[index]]
        reason = (
            f"timestamp {chunk.stamp(index)} is not after the previous one for {meter} "
            f"(line {before}); each meter's rows must be in increasing time order"
        )
        raise _RowError(index, reason)


# Fast path: the block's bytes straight into numpy arrays. Any doubt returns None.


def _fast_chunk(raw: bytes, first_line: int, columns: int) -> _Chunk | None:
    """The block read from its bytes, or None when it needs the CSV reader (or is faulty)."""
    if b'"' in raw or b"\x00" in raw:
        return None
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
        if b"\r" in raw:
            return None
    buf = np.frombuffer(raw if raw.endswith(b"\n") else raw + b"\n", dtype=np.uint8)
    bounds = _field_bounds(buf, first_line, columns)
    if bounds is None:
        return None
    starts, stops, lines = bounds
    meters = _fast_meters(buf, starts[:, 0], stops[:, 0])
    ends = _fast_stamps(buf, starts[:, 1], stops[:, 1])
    quality = _fast_flags(buf, starts[:, 3], stops[:, 3])
    if meters is None or ends is None or quality is None:
        return None
    wh = _fast_wh(buf, starts[:, 2], stops[:, 2], quality)
    minutes = _fast_minutes(buf, starts[:, 4], stops[:, 4]) if columns == 5 else DEFAULT_MINUTES
    if wh is None or minutes is None:
        return None

    def stamp(index: int) -> str:
        """The timestamp text of row ``index`` (for messages)."""
        return raw[starts[index, 1] : stops[index, 1]].decode("ascii")

    return _Chunk(lines, meters[0], meters[1], ends, quality, wh, minutes, stamp)


def _field_bounds(
    buf: np.ndarray, first_line: int, columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(rows, columns) start and stop offsets of every field, and each row's line number."""
    newlines = np.flatnonzero(buf == 10)
    commas = np.flatnonzero(buf == 44)
    line_starts = np.concatenate([[0], newlines[:-1] + 1])
    per_line = np.diff(np.searchsorted(commas, newlines), prepend=0)
    lines = np.arange(first_line, first_line + newlines.size, dtype=np.int32)
    blank = newlines == line_starts
    if blank.any():
        keep = ~blank
        newlines, line_starts, per_line, lines = (
            newlines[keep],
            line_starts[keep],
            per_line[keep],
            lines[keep],
        )
    if (per_line != columns - 1).any():
        return None
    inner = commas.reshape(-1, columns - 1)
    starts = np.column_stack([line_starts, inner + 1])
    stops = np.column_stack([inner, newlines])
    return starts, stops, lines


def _fast_meters(
    buf: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> tuple[list[str], np.ndarray] | None:
    """Distinct meter IDs and each row's index into them, one Python string per meter."""
    widths = stops - starts
    if not widths.size or not widths.all():
        return None
    width = int(widths.max())
    chars = np.where(np.arange(width) < widths[:, None], gather(buf, starts, width), 0)
    keys = np.ascontiguousarray(chars.astype(np.uint8)).view(f"S{width}").ravel()
    # Rows of one meter usually follow each other: sort only the first row of each run.
    change = np.concatenate([[True], keys[1:] != keys[:-1]])
    distinct, head_codes = np.unique(keys[change], return_inverse=True)
    try:
        names = [key.decode("utf-8") for key in distinct.tolist()]
    except UnicodeDecodeError:
        return None
    return names, head_codes.ravel()[np.cumsum(change) - 1]


def _fast_stamps(buf: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray | None:
    """UTC seconds of timestamps in the two usual layouts; None if any row is in another."""
    widths = stops - starts
    ends = np.empty(widths.size, dtype=np.int64)
    covered = 0
    for width in _FAST_WIDTHS:
        rows = np.flatnonzero(widths == width)
        if not rows.size:
            continue
        matrix = gather(buf, starts[rows], width + 1)
        matrix[:, width] = 10  # the layouts end with the newline separator _localtime expects
        seconds, ok = iso_matrix_utc(matrix)
        if not ok.all():
            return None
        ends[rows] = seconds
        covered += rows.size
    return ends if covered == widths.size else None


def _fast_flags(buf: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray | None:
    if ((stops - starts) != 1).any():
        return None
    quality = _FLAG_BYTES[buf[starts]]
    return None if (quality == _NO_FLAG).any() else quality


def _fast_wh(
    buf: np.ndarray, starts: np.ndarray, stops: np.ndarray, quality: np.ndarray
) -> np.ndarray | None:
    empty = stops == starts
    if (empty != (quality == Quality.MISSING)).any():
        return None
    filled = ~empty
    values = decimals_from_bytes(buf, starts[filled], stops[filled])
    if values is None:
        return None
    wh = np.zeros(empty.size, dtype=np.int64)
    try:
        wh[filled] = kwh_to_wh(values)
    except EnergyRangeError:
        return None  # the row reader names the row
    return wh


def _fast_minutes(buf: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray | None:
    values = decimals_from_bytes(buf, starts, stops, whole=True)
    if values is None or (values < 1).any() or (values > 1440).any():
        return None
    return values.astype(np.int32)


# Slow path: Python strings through the CSV reader; it also words every error.


def _csv_rows(block: Block, filename: str) -> list[list[str]]:
    """The block's lines through a strict CSV reader; one row per line, [] for blank lines."""
    reader = csv.reader(block.lines, strict=True)
    try:
        rows = list(reader)
    except csv.Error:
        rows = []
    if len(rows) != len(block.lines):
        # A quote left open swallows the next line; find the line that does not stand alone.
        for number, text in enumerate(block.lines, block.first_line):
            try:
                next(csv.reader([text], strict=True), None)
            except csv.Error as exc:
                reason = f"is not valid CSV ({exc}); a field may not hold a line break"
                raise ReadFileError(reason, file=filename, line=number) from None
        raise ReadFileError("is not valid CSV", file=filename, line=block.first_line)
    return rows


def _split_rows(block: Block, state: _State) -> tuple[np.ndarray, list[list[str]]]:
    """Line numbers and columns of the block's non-blank rows, field counts checked."""
    joined = "".join(block.lines)
    if '"' in joined or "\r" in joined:
        rows = _csv_rows(block, state.filename)  # quotes, or a stray CR for it to refuse
    else:
        rows = [text.split(",") if text else [] for text in block.lines]
    numbers = np.arange(block.first_line, block.first_line + len(rows), dtype=np.int32)
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    keep = widths != 0
    rows, numbers, widths = list(compress(rows, keep)), numbers[keep], widths[keep]
    wrong = widths != state.columns
    if wrong.any():
        index = int(np.argmax(wrong))
        reason = f"has {widths[index]} fields, the header has {state.columns}"
        raise ReadFileError(reason, file=state.filename, line=int(numbers[index]))
    columns = [list(column) for column in zip(*rows, strict=True)]
    return numbers, columns or [[] for _ in repeat(None, state.columns)]


def _slow_chunk(lines: np.ndarray, columns: list[list[str]], width: int) -> _Chunk:
    """Check and convert the string columns of one block."""
    meters, stamps, kwh, flags = columns[:4]
    if "" in meters:
        raise _RowError(meters.index(""), "meter_id is empty")
    ends = _timestamps(stamps)
    quality = _quality(flags)
    wh = _wh(kwh, quality)
    minutes = _minutes(columns[4]) if width == 5 else DEFAULT_MINUTES
    names = list(dict.fromkeys(meters))
    index = {meter: i for i, meter in enumerate(names)}
    codes = np.fromiter(map(index.__getitem__, meters), dtype=np.int64, count=len(meters))
    return _Chunk(lines, names, codes, ends, quality, wh, minutes, stamps.__getitem__)


def _timestamps(stamps: Sequence[str]) -> np.ndarray:
    try:
        return parse_iso_utc(stamps)
    except StampError as exc:
        raise _RowError(exc.index, f"timestamp {exc.text[:40]!r} {exc.why}") from None


def _quality(flags: Sequence[str]) -> np.ndarray:
    table = {}
    for flag in set(flags):
        if flag not in _FLAGS:
            reason = f"quality_flag {flag[:20]!r} is not A, E, S or M"
            raise _RowError(flags.index(flag), reason)
        table[flag] = _FLAGS[flag]
    return np.fromiter(map(table.__getitem__, flags), dtype=np.uint8, count=len(flags))


def _wh(kwh: Sequence[str], quality: np.ndarray) -> np.ndarray:
    """Wh of each row: empty kWh exactly when the flag is M (then 0), else a decimal."""
    empty = np.fromiter(map(len, kwh), dtype=np.int64, count=len(kwh)) == 0
    missing = quality == Quality.MISSING
    if (empty != missing).any():
        index = int(np.argmax(empty != missing))
        if empty[index]:
            raise _RowError(index, "kwh is empty but quality_flag is not M (missing)")
        reason = f"quality_flag M (missing) with kwh {kwh[index][:20]!r}; a missing interval "
        raise _RowError(index, reason + "has no value")
    wh = np.zeros(len(kwh), dtype=np.int64)
    positions = np.flatnonzero(~empty)
    try:
        wh[positions] = kwh_to_wh(parse_decimals(list(compress(kwh, ~empty))))
    except NumberError as exc:
        reason = f"kwh {exc.text[:20]!r} is not a decimal number (non-numeric kWh)"
        raise _RowError(int(positions[exc.index]), reason) from None
    except EnergyRangeError as exc:
        raise _RowError(int(positions[exc.index]), f"kwh: {exc}") from None
    return wh


def _minutes(texts: Sequence[str]) -> np.ndarray:
    try:
        minutes = parse_counts(texts)
    except NumberError as exc:
        reason = f"interval_minutes {exc.text[:20]!r} is not a whole number"
        raise _RowError(exc.index, reason) from None
    bad = (minutes < 1) | (minutes > 1440)
    if bad.any():
        index = int(np.argmax(bad))
        raise _RowError(index, f"interval_minutes {texts[index]} is not between 1 and 1440")
    return minutes.astype(np.int32)
