"""Plumbing shared by the text parsers: bounded line blocks, numbers from strings, batching."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from meters.reads.interfaces.base import (
    Channel,
    IntervalBatch,
    ParsedBatch,
    ReadFileError,
    RegisterBatch,
)

BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 8 << 20  # one CMEP line of 15-minute data for eight years; more is not a line
_BOM = b"\xef\xbb\xbf"
_NEWLINE = ord("\n")


@dataclass
class Block:
    """Consecutive whole lines of a file, decoded, without their line endings."""

    first_line: int  # 1-based number of lines[0]
    lines: list[str]


def _decode(raw: bytes, first_line: int, filename: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + raw.count(b"\n", 0, exc.start)
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        reason = f"the line is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column})"
        raise ReadFileError(reason, file=filename, line=line) from None


def decode_block(raw: bytes, first_line: int, filename: str) -> Block:
    """Decode whole lines of bytes (from read_raw_blocks) into a Block."""
    # CRLF becomes LF; a stray CR stays in its field and fails that field's check.
    text = _decode(raw, first_line, filename).replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return Block(first_line, lines)


def read_raw_blocks(
    stream: BinaryIO, filename: str, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes of whole lines) about ``block_bytes`` at a time, BOM dropped."""
    pending = b""
    first_line = 1
    start = True
    while True:
        data = stream.read(block_bytes)
        if start and data:
            data, start = data.removeprefix(_BOM), False
        if not data:
            if pending:
                yield first_line, pending
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            pending += data
            if len(pending) > MAX_LINE_BYTES:
                raise _line_too_long(filename, first_line)
            continue
        raw, pending = pending + data[: cut + 1], data[cut + 1 :]
        yield first_line, raw
        # Several times faster than bytes.count, which compares byte by byte.
        first_line += int(np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) == _NEWLINE))


def _line_too_long(filename: str, line: int) -> ReadFileError:
    reason = (
        f"the line runs over {MAX_LINE_BYTES // (1 << 20)} MB without a line break: "
        "this is not a text record"
    )
    return ReadFileError(reason, file=filename, line=line)


def raw_block_bounds(
    stream: BinaryIO, filename: str, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[int, int, int]]:
    """(byte offset, length, first line number) of each block read_raw_blocks would yield, with
    the same checks, without copying the bytes: for readers that read their block themselves."""
    window = bytearray(block_bytes)
    view = np.frombuffer(window, dtype=np.uint8)
    start = position = len(_BOM) if stream.read(len(_BOM)) == _BOM else 0
    stream.seek(start)
    first_line = 1
    limit = max(block_bytes - start, 1)  # windows where read_raw_blocks has them (BOM included)
    while True:
        size = stream.readinto(memoryview(window)[:limit])
        limit = block_bytes
        if not size:
            if position > start:
                yield start, position - start, first_line
            return
        cut = window.rfind(b"\n", 0, size)
        position += size
        if cut < 0:
            if position - start > MAX_LINE_BYTES:
                raise _line_too_long(filename, first_line)
            continue
        end = position - size + cut + 1
        yield start, end - start, first_line
        # Only the window's bytes up to the cut can hold newlines (those before it had none).
        first_line += int(np.count_nonzero(view[: cut + 1] == _NEWLINE))
        start = end


def read_blocks(stream: BinaryIO, filename: str, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """Whole decoded lines of ``stream`` about ``block_bytes`` at a time; a UTF-8 BOM is dropped."""
    for first_line, raw in read_raw_blocks(stream, filename, block_bytes):
        yield decode_block(raw, first_line, filename)


def split_fields(line: str) -> list[str]:
    """Comma-separated fields of one line (a CSV reader only when the line has quotes)."""
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error:
        raise ValueError("has an unbalanced quote") from None


class NumberError(ValueError):
    """A field that is not the number it should be; ``index`` is its position in the input."""

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self.text = text
        super().__init__(f"{text!r} is not a number")


_NOT_DECIMAL = str.maketrans("", "", "0123456789.+-")
_NOT_DIGIT = str.maketrans("", "", "0123456789")


def _first_bad(texts: Sequence[str], check: Callable[[str], bool]) -> int:
    """Index of the first text ``check`` rejects (error path only)."""
    for i, text in enumerate(texts):
        if not check(text):
            return i
    return 0


def _is_decimal(text: str) -> bool:
    if not text or text.translate(_NOT_DECIMAL):
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_decimals(texts: Sequence[str]) -> np.ndarray:
    """Plain decimals ('0.371', '-2', '.5'; no exponent, no spaces) to float64 (NumberError)."""
    # One translate over the joined text rejects letters, spaces, '_', 'nan', 'inf' and '1e3',
    # which float() would otherwise accept.
    if "".join(texts).translate(_NOT_DECIMAL):
        index = _first_bad(texts, _is_decimal)
        raise NumberError(index, texts[index])
    try:
        return np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:
        index = _first_bad(texts, _is_decimal)
        raise NumberError(index, texts[index]) from None


def _is_count(text: str) -> bool:
    return 0 < len(text) <= 15 and not text.translate(_NOT_DIGIT)


def parse_counts(texts: Sequence[str]) -> np.ndarray:
    """Non-negative whole numbers of at most 15 digits to int64 (NumberError)."""
    bad_length = bool(texts) and (min(map(len, texts)) == 0 or max(map(len, texts)) > 15)
    if bad_length or "".join(texts).translate(_NOT_DIGIT):
        index = _first_bad(texts, _is_count)
        raise NumberError(index, texts[index])
    return np.fromiter(map(int, texts), dtype=np.int64, count=len(texts))


_DECIMAL_BYTES = np.zeros(256, dtype=bool)
_DECIMAL_BYTES[list(b"0123456789.+-")] = True
_DIGIT_BYTES = np.zeros(256, dtype=bool)
_DIGIT_BYTES[list(b"0123456789")] = True


def gather(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """(n, width) array of the ``width`` bytes of ``buf`` from each start (zeros past its end)."""
    if not starts.size:
        return np.zeros((0, width), dtype=buf.dtype)
    if int(starts.max()) + width > buf.size:
        buf = np.concatenate([buf, np.zeros(width, dtype=buf.dtype)])
    # Rows of a sliding-window view are copied whole: much cheaper than a per-byte index.
    return np.lib.stride_tricks.sliding_window_view(buf, width)[starts]


def decimals_from_bytes(
    buf: np.ndarray, starts: np.ndarray, stops: np.ndarray, *, whole: bool = False
) -> np.ndarray | None:
    """Plain decimals (``whole``: digits only) between starts and stops, or None if any is not."""
    widths = stops - starts
    if not widths.size:
        return np.empty(0, dtype=np.float64)
    width = int(widths.max())
    if not widths.min() or width > 64:
        return None
    # One column more than the widest field, always blank: it separates the fields below.
    chars = gather(buf, starts, width + 1)
    inside = np.arange(width + 1) < widths[:, None]
    allowed = (_DIGIT_BYTES if whole else _DECIMAL_BYTES)[chars]
    if not (allowed | ~inside).all():
        return None
    # Only digits, '.', '+' and '-' remain, so float() accepts exactly the plain decimals
    # (no exponent, 'nan', '_' or spaces can reach it); blanks then separate the fields.
    texts = np.where(inside, chars, 32).astype(np.uint8).tobytes().split()
    try:
        return np.fromiter(map(float, texts), dtype=np.float64, count=widths.size)
    except ValueError:
        return None


_DECIMAL_WIDEST = 15  # characters: so at most 15 digits, and every sum below is exact
_INT_POWERS = 10 ** np.arange(_DECIMAL_WIDEST + 1, dtype=np.int64)
_FLOAT_POWERS = _INT_POWERS.astype(np.float64)  # exact: powers of ten up to 10**22 are
_PLUS, _MINUS, _POINT, _ZERO = b"+-.0"


def spans_within(
    buf: np.ndarray, starts: np.ndarray, stops: np.ndarray, allowed: np.ndarray, widest: int = 32
) -> np.ndarray:
    """Which spans hold only bytes ``allowed`` (a 256-entry bool table); any over ``widest``: no."""
    widths = stops - starts
    ok = widths <= widest
    width = int(np.where(ok, widths, 0).max(initial=0))
    if not width:
        return ok
    chars = gather(buf, np.where(ok, starts, 0), width)
    inside = np.arange(width) < widths[:, None]
    return ok & (allowed[chars] | ~inside).all(axis=1)


def byte_words(raw: bytes) -> np.ndarray:
    """``raw`` as aligned little-endian uint64 words (zero-padded), for words_at."""
    words = np.empty(len(raw) // 8 + 3, dtype="<u8")  # 2 words to spare: words_at reads on
    words[-3:] = 0
    words.view(np.uint8)[: len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return words


def words_at(words: np.ndarray, offsets: np.ndarray, count: int = 1) -> list[np.ndarray]:
    """The ``count`` uint64 of 8 bytes from each byte offset (byte i = character i + offset).

    Two aligned loads and shifts per word: numpy copies unaligned items one call at a time.
    """
    index = offsets >> 3
    shift = (offsets & 7).astype(np.uint64) * 8
    back = 64 - shift  # numpy gives 0 for shifts of 64 or more: no case for aligned offsets
    loads = [words[index + i] for i in range(count + 1)]
    return [(loads[i] >> shift) | (loads[i + 1] << back) for i in range(count)]


def _right_aligned(buf: np.ndarray, stops: np.ndarray, width: int) -> np.ndarray:
    """(n, width) bytes of ``buf`` ending just before each stop (zeros before the buffer)."""
    if int(stops.min()) < width:
        buf, stops = np.concatenate([np.zeros(width, dtype=buf.dtype), buf]), stops + width
    return gather(buf, stops - width, width)


def decimal_spans(
    buf: np.ndarray, words: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """float64 of the plain decimals between starts and stops, and which spans were read.

    ``words`` is byte_words of ``buf``. A span is read when it is an optional sign, digits and
    at most one '.', with at least one digit, in at most 15 characters; anything else (empty,
    '.', '1e3', 16 characters...) is left unread (ok False, value 0) for a slower reader to
    judge. The value is the integer of the digits over a power of ten: both exact in float64,
    and one division rounds correctly, so it is what float() makes of the text.
    """
    widths = stops - starts
    if not widths.size:
        return np.empty(0, dtype=np.float64), np.zeros(0, dtype=bool)
    narrow = (widths <= 8) & (stops >= 8)
    if narrow.all():
        return _decimal_words(words_at(words, stops - 8)[0], widths)
    values, ok = np.zeros(widths.size), np.zeros(widths.size, dtype=bool)
    rows = np.flatnonzero(narrow)
    if rows.size:
        values[rows], ok[rows] = _decimal_words(words_at(words, stops[rows] - 8)[0], widths[rows])
    rows = np.flatnonzero(~narrow)
    values[rows], ok[rows] = _decimal_columns(buf, stops[rows], widths[rows])
    return values, ok


# Up to 8 characters are read as one uint64 ("SWAR"). Byte c of a word is character c.
_EVERY_BYTE = 0x0101010101010101
_LOW_BITS = 0x7F7F7F7F7F7F7F7F
_ASCII_ZEROS = _ZERO * _EVERY_BYTE
_HIGH_NIBBLES = 0xF0F0F0F0F0F0F0F0
_SIXES = 0x0606060606060606
_EVEN_BYTES = 0x00FF00FF00FF00FF
_ALL = (1 << 64) - 1


def ascii_digits(words: np.ndarray) -> np.ndarray:
    """Which uint64 words are 8 ASCII digits."""
    # A digit byte is 0x30-0x39: high nibble 3, and still 3 after adding 6 (0x3A-0x3F are not);
    # adding 6 never carries out of a byte whose high nibble is 3.
    ascii_three = (words & _HIGH_NIBBLES) == _ASCII_ZEROS
    return ascii_three & (((words + _SIXES) & _HIGH_NIBBLES) == _ASCII_ZEROS)


def digit_pairs(words: np.ndarray) -> np.ndarray:
    """Words of 8 ASCII digits to their four 2-digit numbers, in 16-bit lanes (first lowest)."""
    digits = words - _ASCII_ZEROS
    return (digits & _EVEN_BYTES) * 10 + ((digits >> 8) & _EVEN_BYTES)


def _bytes_equal(words: np.ndarray, byte: int) -> np.ndarray:
    """The high bit of every byte of ``words`` that is ``byte`` (exact: no borrow between bytes)."""
    diff = words ^ np.uint64(byte * _EVERY_BYTE)
    return ~(((diff & _LOW_BITS) + _LOW_BITS) | diff | _LOW_BITS)


def _decimal_words(words: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """decimal_spans of spans of at most 8 characters, each the end of its (right-aligned) word."""
    # Bits before the span; numpy shifts by 64 or more give 0, so width 0 needs no case.
    outside = (8 - np.minimum(widths, 8).astype(np.uint64)) * 8
    inside = _ALL << outside
    text = (words & inside) | (_ASCII_ZEROS & ~inside)  # bytes before a span: leading zeros
    first = (text >> outside) & 0xFF  # the span's first character
    signed = (first == _MINUS) | (first == _PLUS)
    if signed.any():  # a leading sign reads as '0' from here on
        text ^= ((first ^ _ZERO) * signed) << outside
    points = _bytes_equal(text, _POINT)
    text += (points >> 7) * (_ZERO - _POINT)  # and so does the point: now all must be digits
    point_count = np.bitwise_count(points).astype(np.int64)
    ok = ascii_digits(text) & (point_count <= 1) & (widths <= 8)
    ok &= point_count + signed.astype(np.int64) < widths  # one digit at least
    # Close up the point: the characters before it move one byte along and a '0' leads (or
    # with no point, 0 | text | '0' leaves the text as it is).
    has_point = np.minimum(points, 1)
    before = (points >> 7) - has_point  # the bytes before the point (its own is 1 << 8c)
    upto = (points << 1) - has_point  # and the point's own (all bytes when it is the last)
    text = ((text & before) << 8) | (text & ~upto) | _ZERO
    pairs = digit_pairs(text)
    quads = (pairs & 0x0000FFFF0000FFFF) * 100 + ((pairs >> 16) & 0x0000FFFF0000FFFF)
    mantissa = ((quads & 0xFFFFFFFF) * 10000 + (quads >> 32)).astype(np.int64)
    decimals = np.bitwise_count(~upto & (0 - has_point)) >> 3  # bytes after the point
    fewest, most = int(decimals.min()), int(decimals.max())
    # Files write one number of decimals: then one divisor for all (the same division).
    divisor = _FLOAT_POWERS[decimals] if fewest != most else _FLOAT_POWERS[fewest]
    values = mantissa / divisor
    if signed.any():
        np.negative(values, out=values, where=first == _MINUS)
    if not ok.all():
        values[~ok] = 0.0
    return values, ok


def _scaled(
    places: np.ndarray, decimals: np.ndarray, point: np.ndarray, minus: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Values from digits at their column's power of ten, where those left of a point (the
    point read as a 0 digit) are 10 times too big."""
    decimals = np.where(ok, decimals, 0).astype(np.int64)
    scale = _INT_POWERS[decimals]
    mantissa = np.where(point, places // (scale * 10) * scale + places % scale, places)
    values = mantissa / _FLOAT_POWERS[decimals]
    return np.where(ok, np.where(minus, -values, values), 0.0), ok


def _decimal_columns(
    buf: np.ndarray, stops: np.ndarray, widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """decimal_spans of any spans, as a byte matrix (wider ones are rare)."""
    count = stops.size
    if not count:
        return np.empty(0, dtype=np.float64), np.zeros(0, dtype=bool)
    width = max(min(int(widths.max()), _DECIMAL_WIDEST), 1)
    # Right-aligned, so that each column stands for one power of ten (the point aside).
    chars = _right_aligned(buf, stops, width)
    lead = width - widths  # column of each span's first character
    inside = np.arange(width) >= lead[:, None]
    digit = chars - np.uint8(_ZERO)  # wraps below '0': one comparison tests the range
    is_digit = (digit < 10) & inside
    is_point = (chars == _POINT) & inside
    point_row, point_column = np.divmod(np.flatnonzero(is_point), width)
    points = np.bincount(point_row, minlength=count)
    ok = (widths >= 1) & (widths <= width) & (points <= 1)
    # Anything else inside must be a sign in the first column.
    other_row, other_column = np.divmod(np.flatnonzero(inside & ~is_digit & ~is_point), width)
    other = chars[other_row, other_column]
    sign = ((other == _PLUS) | (other == _MINUS)) & (other_column == lead[other_row])
    ok[other_row[~sign]] = False
    ok &= widths - points - np.bincount(other_row[sign], minlength=count) >= 1  # a digit
    places = (np.where(is_digit, digit, 0) * _INT_POWERS[width - 1 :: -1]).sum(axis=1)
    decimals = np.zeros(count, dtype=np.int64)
    decimals[point_row] = width - 1 - point_column
    minus = np.zeros(count, dtype=bool)
    minus[other_row[sign & (other == _MINUS)]] = True
    return _scaled(places, decimals, points > 0, minus, ok)


_INTERVAL_TYPES = {
    "meter": object,
    "start": np.int64,
    "minutes": np.int32,
    "wh": np.int64,
    "quality": np.uint8,
    "channel": np.uint8,
    "line": np.int32,
    "reason": np.uint8,  # a Reason code: a record the parser lists as not loaded (#18)
}
_REGISTER_FIELDS = ("meter", "read_at", "wh", "channel", "line")


def _column(parts: list[object], counts: list[int], dtype: type) -> np.ndarray:
    """One column from per-record parts, each an array or a scalar standing for ``count`` rows."""
    if not any(isinstance(part, np.ndarray) for part in parts):
        # Scalars only (a meter ID, an interval length): one repeat instead of a fill per record.
        return np.repeat(np.array(parts, dtype=dtype), counts)
    return np.concatenate(
        [
            part.astype(dtype, copy=False)
            if isinstance(part, np.ndarray)
            else np.full(n, part, dtype)
            for part, n in zip(parts, counts, strict=True)
        ]
    )


@dataclass
class Batcher:
    """Collects per-record columns and hands them out as ParsedBatch of about ``size`` reads."""

    size: int
    _columns: dict[str, list[object]] = field(
        default_factory=lambda: {name: [] for name in _INTERVAL_TYPES}
    )
    _counts: list[int] = field(default_factory=list)
    _registers: list[RegisterBatch] = field(default_factory=list)
    _pending: int = 0
    _records: int = 0

    def add_intervals(self, meter: str | np.ndarray, start: np.ndarray, **columns: object) -> None:
        """Queue intervals: ``minutes``, ``wh``, ``quality`` and ``line`` scalars or arrays."""
        values = {
            "reason": 0,
            **columns,
            "meter": meter,
            "start": start,
            "channel": int(Channel.DELIVERED),
        }
        for name, parts in self._columns.items():
            parts.append(values[name])
        self._counts.append(int(start.shape[0]))
        self._pending += int(start.shape[0])

    def add_registers(
        self,
        meter: str | np.ndarray,
        read_at: np.ndarray,
        wh: np.ndarray,
        line: int | np.ndarray,
    ) -> None:
        """Queue register reads: ``meter`` and ``line`` one for all reads, or one per read."""
        count = read_at.shape[0]
        self._registers.append(
            RegisterBatch(
                meter=np.full(count, meter, dtype=object),
                read_at=read_at.astype(np.int64, copy=False),
                wh=wh.astype(np.int64, copy=False),
                channel=np.full(count, Channel.DELIVERED, dtype=np.uint8),
                line=np.full(count, line, dtype=np.int32),
            )
        )

    def count_records(self, records: int) -> None:
        """Add source records to the next batch's count."""
        self._records += records

    @property
    def full(self) -> bool:
        """At least ``size`` intervals are waiting."""
        return self._pending >= self.size

    def _take_intervals(self) -> IntervalBatch:
        if not self._counts:
            return IntervalBatch()
        columns = {
            name: _column(parts, self._counts, _INTERVAL_TYPES[name])
            for name, parts in self._columns.items()
        }
        self._columns = {name: [] for name in _INTERVAL_TYPES}
        self._counts, self._pending = [], 0
        return IntervalBatch(**columns)

    def drain(self) -> Iterator[ParsedBatch]:
        """Everything queued, in batches of at most ``size`` intervals."""
        if not (self._pending or self._registers or self._records):
            return
        intervals = self._take_intervals()
        registers = _concat_registers(self._registers)
        records = self._records
        self._registers, self._records = [], 0
        step = max(self.size, 1)
        for offset in range(0, max(len(intervals), 1), step):
            part = intervals.take(slice(offset, offset + step))
            yield ParsedBatch(part, registers, records)
            registers, records = RegisterBatch(), 0


def _concat_registers(parts: list[RegisterBatch]) -> RegisterBatch:
    if not parts:
        return RegisterBatch()
    return RegisterBatch(
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _REGISTER_FIELDS}
    )
