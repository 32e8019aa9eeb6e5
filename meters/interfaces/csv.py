"""Generic CSV interval file: interval-ending ISO 8601 timestamps with offsets (README, 6)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from meters.interfaces._localtime import StampError, parse_iso_utc
from meters.interfaces._textfile import (
    Batcher,
    Block,
    NumberError,
    parse_counts,
    parse_decimals,
    read_blocks,
)
from meters.interfaces.base import DEFAULT_BATCH_READS, ParsedBatch, Quality, ReadFileError

HEADER = ["meter_id", "timestamp", "kwh", "quality_flag"]
OPTIONAL_COLUMN = "interval_minutes"
DEFAULT_MINUTES = 60
_FLAGS = {"A": Quality.ACTUAL, "E": Quality.ESTIMATED, "S": Quality.SUSPECT, "M": Quality.MISSING}


class _RowError(ValueError):
    """A fault in the row at ``index`` of the current chunk; the caller adds file and line."""

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
class _Rows:
    """Data rows of one block with their line numbers, split into columns."""

    lines: np.ndarray
    columns: list[list[str]]


def parse(
    stream: BinaryIO, *, filename: str, tz: ZoneInfo, batch_reads: int = DEFAULT_BATCH_READS
) -> Iterator[ParsedBatch]:
    """Stream a generic CSV interval file as batches (``tz`` unused: rows carry offsets)."""
    state = _State(filename)
    batcher = Batcher(batch_reads)
    for block in read_blocks(stream, filename):
        rows = _data_rows(block, state)
        if rows is None:
            continue
        try:
            _read_rows(rows, state, batcher)
        except _RowError as exc:
            raise ReadFileError(str(exc), file=filename, line=int(rows.lines[exc.index])) from None
        if batcher.full:
            yield from batcher.drain()
    if not state.columns:
        raise ReadFileError("the file is empty: the header row is missing", file=filename)
    yield from batcher.drain()


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


def _data_rows(block: Block, state: _State) -> _Rows | None:
    """Non-blank data rows of the block (the header taken off first), split into columns."""
    if not state.columns:
        block = _take_header(block, state)
    if not block.lines:
        return None
    joined = ",".join(block.lines)
    if '"' in joined or "\r" in joined:
        return _rows_by_reader(block, state)  # quoting (or a stray CR): the CSV reader decides
    return _rows_by_split(block, joined, state)


def _take_header(block: Block, state: _State) -> Block:
    """Read the header from the first non-blank line; the lines after it."""
    for index, text in enumerate(block.lines):
        if text:
            row = _csv_rows(Block(block.first_line + index, [text]), state.filename)[0]
            _read_header(row, block.first_line + index, state)
            return Block(block.first_line + index + 1, block.lines[index + 1 :])
    return Block(block.first_line + len(block.lines), [])


def _rows_by_split(block: Block, joined: str, state: _State) -> _Rows | None:
    """Rows without quotes: count commas per line, then split the whole block at once."""
    lines = block.lines
    numbers = np.arange(block.first_line, block.first_line + len(lines), dtype=np.int32)
    commas = np.fromiter(map(str.count, lines, repeat(",")), dtype=np.int64, count=len(lines))
    if (commas != state.columns - 1).any():
        blank = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) == 0
        if blank.any():
            lines, numbers, commas = list(compress(lines, ~blank)), numbers[~blank], commas[~blank]
            joined = ",".join(lines)
        _check_widths(commas + 1, numbers, state)
    if not lines:
        return None
    flat = joined.split(",")
    return _Rows(numbers, [flat[k :: state.columns] for k in range(state.columns)])


def _rows_by_reader(block: Block, state: _State) -> _Rows | None:
    """Rows through the strict CSV reader (quoted fields), blank lines dropped."""
    rows = _csv_rows(block, state.filename)
    numbers = np.arange(block.first_line, block.first_line + len(rows), dtype=np.int32)
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    if not widths.all():
        keep = widths != 0
        rows, numbers, widths = list(compress(rows, keep)), numbers[keep], widths[keep]
    if not rows:
        return None
    _check_widths(widths, numbers, state)
    return _Rows(numbers, [list(column) for column in zip(*rows, strict=True)])


def _check_widths(widths: np.ndarray, numbers: np.ndarray, state: _State) -> None:
    wrong = widths != state.columns
    if wrong.any():
        index = int(np.argmax(wrong))
        reason = f"has {widths[index]} fields, the header has {state.columns}"
        raise ReadFileError(reason, file=state.filename, line=int(numbers[index]))


def _read_header(row: list[str], line: int, state: _State) -> None:
    if row not in (HEADER, [*HEADER, OPTIONAL_COLUMN]):
        reason = (
            f"header {','.join(row)[:120]!r} is not exactly {','.join(HEADER)} "
            f"(optionally followed by ,{OPTIONAL_COLUMN})"
        )
        raise ReadFileError(reason, file=state.filename, line=line)
    state.columns = len(row)


def _read_rows(rows: _Rows, state: _State, batcher: Batcher) -> None:
    """Check and convert the columns of one block, then queue its intervals."""
    meters, stamps, kwh, flags = rows.columns[:4]
    if "" in meters:
        raise _RowError(meters.index(""), "meter_id is empty")
    ends = _timestamps(stamps)
    quality = _quality(flags)
    wh = _wh(kwh, quality)
    minutes = _minutes(rows.columns[4]) if state.columns == 5 else DEFAULT_MINUTES
    _check_order(meters, stamps, ends, rows.lines, state)
    batcher.count_records(len(meters))
    batcher.add_intervals(
        np.array(meters, dtype=object),
        ends - np.asarray(minutes, dtype=np.int64) * 60,
        minutes=np.asarray(minutes, dtype=np.int32) if state.columns == 5 else minutes,
        wh=wh,
        quality=quality,
        line=rows.lines,
    )


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
    count = len(kwh)
    empty = np.fromiter(map(len, kwh), dtype=np.int64, count=count) == 0
    missing = quality == Quality.MISSING
    if (empty != missing).any():
        index = int(np.argmax(empty != missing))
        if empty[index]:
            raise _RowError(index, "kwh is empty but quality_flag is not M (missing)")
        raise _RowError(
            index,
            f"quality_flag M (missing) with kwh {kwh[index][:20]!r}; "
            "a missing interval has no value",
        )
    wh = np.zeros(count, dtype=np.int64)
    filled = kwh if not empty.any() else list(compress(kwh, ~empty))
    positions = np.flatnonzero(~empty)
    try:
        wh[positions] = np.rint(parse_decimals(filled) * 1000.0).astype(np.int64)
    except NumberError as exc:
        raise _RowError(
            int(positions[exc.index]),
            f"kwh {exc.text[:20]!r} is not a decimal number (non-numeric kWh)",
        ) from None
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
    return minutes


def _codes(meters: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct meters in order of appearance and each row's index into them."""
    distinct = list(dict.fromkeys(meters))
    index = {meter: i for i, meter in enumerate(distinct)}
    codes = np.fromiter(map(index.__getitem__, meters), dtype=np.int64, count=len(meters))
    return distinct, codes


def _check_order(
    meters: Sequence[str], stamps: Sequence[str], ends: np.ndarray, lines: np.ndarray, state: _State
) -> None:
    """Rows of each meter must be in strictly increasing time order, across blocks too."""
    distinct, codes = _codes(meters)
    order = np.argsort(codes, kind="stable")
    sorted_codes, sorted_ends = codes[order], ends[order]
    same = sorted_codes[1:] == sorted_codes[:-1]
    late = np.flatnonzero(same & (sorted_ends[1:] <= sorted_ends[:-1])) + 1
    faults = []
    if late.size:
        first = late[np.argmin(order[late])]  # the earliest such row in file order
        faults.append((int(order[first]), int(lines[order[first - 1]])))
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    stops = np.concatenate([starts[1:], [len(order)]]) - 1
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        meter = distinct[sorted_codes[start]]
        previous = state.last.get(meter)
        if previous is not None and sorted_ends[start] <= previous[0]:
            faults.append((int(order[start]), previous[1]))
        state.last[meter] = (int(sorted_ends[stop]), int(lines[order[stop]]))
    if faults:
        index, before = min(faults)
        reason = (
            f"timestamp {stamps[index]} is not after the previous one for {meters[index]} "
            f"(line {before}); each meter's rows must be in increasing time order"
        )
        raise _RowError(index, reason)
