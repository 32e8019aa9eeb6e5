"""Vectorised clock arithmetic for the text parsers: stamp strings and local wall-clock to UTC.

"Naive seconds" are seconds since 1970-01-01T00:00 of a wall clock, read as if it were UTC; a
zone's transition table turns them into true UTC epoch seconds with ``np.searchsorted``, so no
Python-level datetime or zoneinfo call is made per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from meters.reads.interfaces._textfile import ascii_digits, digit_pairs

MIN_YEAR = 1900  # a meter read outside these years is a typo, not data
MAX_YEAR = 2199
_HOUR = 3600
_PROBE = 6 * _HOUR
_FAR = np.int64(1) << np.int64(60)  # stands for +/- infinity in the period table
# Letters of a fixed layout, in the order of the parsed value columns; "+" is a sign column.
_FIELD_LETTERS = "YMDhmsHO"  # year month day hour minute second offset-hours offset-minutes


class StampError(ValueError):
    """A date/time string that cannot be read; ``index`` is its position in the input."""

    def __init__(self, index: int, text: str, why: str) -> None:
        self.index = index
        self.text = text
        self.why = why
        super().__init__(f"date/time {text!r} {why}")


@dataclass(frozen=True)
class _Layout:
    """A fixed-width layout (with its newline separator): allowed bytes and digit weights."""

    pattern: str
    low: np.ndarray  # (width,) uint8, lowest byte allowed in each column
    high: np.ndarray  # (width,) uint8
    digits: tuple[tuple[tuple[int, int], ...], ...]  # per field: (column, power of ten)...
    sign: int  # column of the offset sign, -1 if none

    @property
    def digit_columns(self) -> list[int]:
        """Columns holding digits, field by field (the order _fixed_fields reads them in)."""
        return [col for field in self.digits for col, _ in field]


def _layout(pattern: str) -> _Layout:
    """Layout from a pattern such as 'YYYYMMDDhhmm' or 'YYYY-MM-DDThh:mm:ss+HH:OO'."""
    pattern += "\n"  # each string is followed by the newline _ascii_matrix joins them with
    width = len(pattern)
    low, high = np.zeros(width, np.uint8), np.zeros(width, np.uint8)
    digits: list[list[tuple[int, int]]] = [[] for _ in _FIELD_LETTERS]
    for col, char in enumerate(pattern):
        if char in _FIELD_LETTERS:
            low[col], high[col] = ord("0"), ord("9")
            run_end = col
            while run_end + 1 < width and pattern[run_end + 1] == char:
                run_end += 1
            digits[_FIELD_LETTERS.index(char)].append((col, 10 ** (run_end - col)))
        elif char == "+":
            low[col], high[col] = ord("+"), ord("-")  # ',' between them is refused separately
        else:
            low[col] = high[col] = ord(char)
    fields = tuple(tuple(field) for field in digits)
    return _Layout(pattern, low, high, fields, pattern.find("+"))


_CCYYMMDDHHMM = _layout("YYYYMMDDhhmm")
_ISO_OFFSET = _layout("YYYY-MM-DDThh:mm:ss+HH:OO")
_ISO_ZULU = _layout("YYYY-MM-DDThh:mm:ssZ")
_TILED: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # pattern -> bounds repeated for n rows


def _fits(matrix: np.ndarray, layout: _Layout) -> np.ndarray:
    """Which rows of an (n, width) byte matrix have every byte within the layout's bounds."""
    rows, width = matrix.shape
    low, high = _TILED.get(layout.pattern, (matrix[:0, 0], matrix[:0, 0]))
    if low.size < matrix.size:
        # Comparing flat against repeated bounds is far faster than broadcasting (n, 13)
        # against (13,): numpy's inner loop would be only 13 long.
        repeats = max(rows, 2 * low.size // width, 1024)
        low, high = np.tile(layout.low, repeats), np.tile(layout.high, repeats)
        _TILED[layout.pattern] = (low, high)
    flat = matrix.reshape(-1)
    bad = (flat < low[: flat.size]) | (flat > high[: flat.size])
    if not bad.any():
        return np.ones(rows, dtype=bool)
    return ~bad.reshape(rows, width).any(axis=1)


def _fixed_fields(matrix: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """(8, n) int64 field values of an (n, width) byte matrix, and which rows fit the layout."""
    ok = _fits(matrix, layout)
    # One transposed copy of the digit columns makes each contiguous: one fast pass per digit.
    columns = matrix[:, layout.digit_columns].T.astype(np.int32, order="C") - ord("0")
    values = np.zeros((len(_FIELD_LETTERS), matrix.shape[0]), dtype=np.int64)
    row = 0
    for field, digits in enumerate(layout.digits):
        for _col, power in digits:
            values[field] += columns[row] * power if power != 1 else columns[row]
            row += 1
    if layout.sign >= 0:
        sign_column = matrix[:, layout.sign]
        ok &= sign_column != ord(",")
        values[6:] *= np.where(sign_column == ord("-"), -1, 1)
    return values, ok


def _ascii_matrix(stamps: Sequence[str], width: int) -> np.ndarray | None:
    """Strings of ``width`` ASCII characters, each + newline, as an (n, width + 1) byte matrix."""
    if not stamps:
        return np.empty((0, width + 1), dtype=np.uint8)
    try:
        # The newline (never inside a field) is a separator column the layout checks: any
        # string of another length shifts it and fails that check.
        raw = ("\n".join(stamps) + "\n").encode("ascii")
    except UnicodeEncodeError:
        return None
    if len(raw) != len(stamps) * (width + 1):
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(stamps), width + 1)


def _first_bad_width(stamps: Sequence[str], width: int) -> int:
    """Index of the first string that is not ``width`` ASCII characters (error path only)."""
    for i, text in enumerate(stamps):
        if len(text) != width or not text.isascii():
            return i
    return 0


def _month_starts() -> np.ndarray:
    months = np.arange((MIN_YEAR - 1970) * 12, (MAX_YEAR + 1 - 1970) * 12 + 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


_MONTH_STARTS = _month_starts()  # day number of the 1st of every month MIN_YEAR..MAX_YEAR
# The same months as one gather: day number of the 1st x 64 + the month's length in days.
_MONTH_DAYS = _MONTH_STARTS[:-1] * 64 + np.diff(_MONTH_STARTS)
_CIVIL_LOW = np.array([[MIN_YEAR], [1], [1], [0], [0], [0]])
_CIVIL_HIGH = np.array([[MAX_YEAR], [12], [31], [23], [59], [59]])


def civil_seconds(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Naive epoch seconds of (>=6, n) year/month/day/hour/minute/second rows, and validity."""
    year, month, day, hour, minute, second = values[:6]
    ok = ((values[:6] >= _CIVIL_LOW) & (values[:6] <= _CIVIL_HIGH)).all(axis=0)
    index = np.minimum(np.maximum((year - MIN_YEAR) * 12 + month - 1, 0), _MONTH_STARTS.size - 2)
    first = _MONTH_STARTS[index]
    ok &= day <= _MONTH_STARTS[index + 1] - first
    return (first + day - 1) * 86400 + hour * 3600 + minute * 60 + second, ok


_ASCII_ZEROS = 0x3030303030303030  # '0' in every byte
_LOW_HALF = 0xFFFFFFFF


def ccyymmddhhmm_words(dates: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Naive epoch seconds of 'CCYYMMDD' and 'HHMM' given as little-endian uint64 of 8 bytes
    (of ``times`` the last 4 are ignored), and which are valid: parse_ccyymmddhhmm, vectorised."""
    # Each uint64 is checked and converted at once ("SWAR"): a few operations per stamp, not
    # per digit. The 4 ignored bytes become '0' so that the same applies: hh, mm, 0, 0.
    times = (times & _LOW_HALF) | (_ASCII_ZEROS & ~_LOW_HALF)
    date, time = digit_pairs(dates), digit_pairs(times)
    lane = 0xFFFF
    # Unsigned: a value below the lowest allowed wraps round and fails the same comparison.
    year = (date & lane) * 100 + ((date >> 16) & lane) - MIN_YEAR
    month = ((date >> 32) & lane) - 1
    day = (date >> 48) - 1
    hour, minute = time & lane, (time >> 16) & lane
    ok = ascii_digits(dates) & ascii_digits(times) & (year <= MAX_YEAR - MIN_YEAR)
    ok &= (month < 12) & (hour < 24) & (minute < 60)
    month_days = _MONTH_DAYS[np.minimum(year * 12 + month, _MONTH_DAYS.size - 1)]
    ok &= day < (month_days & 63).astype(np.uint64)
    seconds = (day * 86400 + hour * 3600 + minute * 60).astype(np.int64)
    return (month_days >> 6) * 86400 + seconds, ok


def parse_ccyymmddhhmm(stamps: Sequence[str]) -> np.ndarray:
    """'CCYYMMDDHHMM' strings to int64 naive epoch seconds; StampError names the first bad one."""
    matrix = _ascii_matrix(stamps, 12)
    if matrix is None:
        index = _first_bad_width(stamps, 12)
        raise StampError(index, stamps[index], "is not 12 digits CCYYMMDDHHMM")
    values, is_digits = _fixed_fields(matrix, _CCYYMMDDHHMM)
    seconds, ok = civil_seconds(values)
    ok &= is_digits
    if not ok.all():
        if not (matrix[:, 12] == 10).all():  # a string of another length shifted the rows
            index = _first_bad_width(stamps, 12)
            raise StampError(index, stamps[index], "is not 12 digits CCYYMMDDHHMM")
        index = int(np.argmin(ok))
        why = "is not a valid date/time CCYYMMDDHHMM"
        raise StampError(index, stamps[index], why if is_digits[index] else "is not 12 digits")
    return seconds


def iso_matrix_utc(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTC seconds of (n, 21 or 26) byte rows 'YYYY-MM-DDThh:mm:ss' + 'Z' or '+hh:mm' + '\\n'."""
    layout = _ISO_ZULU if matrix.shape[1] == 21 else _ISO_OFFSET
    values, ok = _fixed_fields(matrix, layout)
    seconds, valid = civil_seconds(values)
    offset_hours, offset_minutes = values[6], values[7]
    ok &= (np.abs(offset_minutes) <= 59) & (np.abs(offset_hours) <= 23)
    return seconds - offset_hours * 3600 - offset_minutes * 60, ok & valid


def _iso_slow(text: str, index: int) -> int:
    """One ISO 8601 date/time with offset, in a layout the vectorised path does not cover."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StampError(index, text, "is not an ISO 8601 date/time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise StampError(index, text, "has no UTC offset (such as -05:00 or Z)")
    if moment.microsecond:
        raise StampError(index, text, "has fractions of a second")
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise StampError(index, text, f"is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return int(moment.timestamp())


def parse_iso_utc(texts: Sequence[str]) -> np.ndarray:
    """ISO 8601 date/times with a UTC offset to int64 UTC epoch seconds (StampError if bad)."""
    count = len(texts)
    out = np.empty(count, dtype=np.int64)
    done = np.zeros(count, dtype=bool)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=count)
    for width in (25, 20):
        rows = np.flatnonzero(lengths == width)
        group = texts if rows.size == count else [texts[i] for i in rows]
        matrix = _ascii_matrix(group, width) if rows.size else None
        if matrix is not None:
            seconds, ok = iso_matrix_utc(matrix)
            out[rows[ok]] = seconds[ok]
            done[rows[ok]] = True
    # Other layouts (no seconds, +HHMM, a space for T...) are rare: read them one by one.
    for index in np.flatnonzero(~done).tolist():
        out[index] = _iso_slow(texts[index], index)
    return out
