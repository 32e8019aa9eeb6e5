"""Shared machinery of the XML interfaces: a safe streaming reader, column parsers, batching.

The reader drives expat directly (no element tree at all, so memory is flat in file size and the
source line of every element is known for free). It refuses any DTD outright, with the semantics
of ``defusedxml`` ``forbid_dtd=True``: nothing is ever expanded and no external entity is ever
fetched. Elements are dispatched by namespace URI + local name, never by prefix. defusedxml's own
iterparse is not used because it swaps in the pure-Python expat glue, which is several times
slower than calling expat from here with a handful of handlers.
"""

from __future__ import annotations

import bisect
import pyexpat
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import BinaryIO

import numpy as np

from meters.reads.interfaces.base import (
    MAX_INTERVAL_WH,
    EnergyRangeError,
    IntervalBatch,
    ParsedBatch,
    ReadFileError,
    RegisterBatch,
    kwh_to_wh,
)
from meters.reads.runs import sorted_unique

# Bytes fed to expat at a time. Between two chunks the parsers convert what they collected in
# one go (numpy calls cost the same for 20 values as for 20,000) and hand out finished batches.
CHUNK_BYTES = 1 << 20
NS_SEPARATOR = "}"  # expat reports an element as "namespace}local": Clark notation minus the "{"

StartHandler = Callable[[dict[str, str]], None]
EndHandler = Callable[[str], None]


def qname(namespace: str, local: str) -> str:
    """The key under which the element ``{namespace}local`` is dispatched."""
    return f"{namespace}{NS_SEPARATOR}{local}" if namespace else local


def local_name(name: str) -> str:
    """The local part of a dispatched element name."""
    return name.rpartition(NS_SEPARATOR)[2]


class XmlReader:
    """Streams an XML document through expat, calling handlers registered per element name.

    A start handler receives the attributes, an end handler the element's text (for a leaf; for
    a container only the text after its last child). While either runs, ``stack`` holds the
    names of the enclosing elements, so ``stack[-1]`` is the parent. ``starts`` and ``ends`` may
    be changed while parsing: inside a container, a hot leaf can be pointed at a builtin such as
    ``list.append`` (no Python frame per value) and pointed back when the container closes.
    """

    def __init__(self, filename: str, roots: Iterable[str]) -> None:
        self.filename = filename
        self.stack: list[str] = []
        self._roots = frozenset(roots)
        self.starts: dict[str, StartHandler] = {}
        self.ends: dict[str, EndHandler] = {}
        self._text: list[str] = []
        self.expat = self._make_parser()

    def on_start(self, name: str, handler: StartHandler) -> None:
        """Call ``handler(attributes)`` when element ``name`` opens."""
        self.starts[name] = handler

    def on_end(self, name: str, handler: EndHandler) -> None:
        """Call ``handler(text)`` when element ``name`` closes."""
        self.ends[name] = handler

    def line(self) -> int:
        """Source line of the event being handled."""
        return int(self.expat.CurrentLineNumber)

    def path(self) -> str:
        """Local names of the open elements, e.g. ``feed/entry/content``."""
        return "/".join(local_name(name) for name in self.stack)

    def error(
        self, reason: str, *, element: str | None = None, line: int | None = None
    ) -> ReadFileError:
        """A ReadFileError for this file (line defaults to the current one)."""
        return ReadFileError(
            reason, file=self.filename, element=element, line=self.line() if line is None else line
        )

    def run(self, stream: BinaryIO) -> Iterator[None]:
        """Parse ``stream`` to its end, pausing after each chunk (and at the end) for the caller."""
        parse = self.expat.Parse
        try:
            while chunk := stream.read(CHUNK_BYTES):
                parse(chunk, False)
                yield
            parse(b"", True)
        except pyexpat.ExpatError as exc:
            raise self._not_well_formed(exc) from None
        except (LookupError, UnicodeError) as exc:  # from the encoding the declaration names
            reason = f"unsupported character encoding: {exc}"
            raise ReadFileError(reason, file=self.filename, line=1, element="<?xml?>") from None
        yield

    def _make_parser(self) -> pyexpat.XMLParserType:
        parser = pyexpat.ParserCreate(namespace_separator=NS_SEPARATOR)
        parser.buffer_text = True  # one text callback per text node, not one per line
        parser.buffer_size = 1 << 16
        parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        # A document without a DTD cannot declare entities, so refusing the DOCTYPE itself is
        # enough; the other two handlers are belts and braces.
        parser.StartDoctypeDeclHandler = self._refuse_doctype
        parser.EntityDeclHandler = self._refuse_entity
        parser.ExternalEntityRefHandler = self._refuse_external
        parser.CharacterDataHandler = self._text.append
        parser.StartElementHandler = self._start_root
        parser.EndElementHandler = self._make_end()
        return parser

    def _make_start(self) -> Callable[[str, dict[str, str]], None]:
        # Closures over bound methods: this runs once per element, so every lookup counts.
        get, push, clear = self.starts.get, self.stack.append, self._text.clear

        def start(name: str, attributes: dict[str, str]) -> None:
            clear()
            handler = get(name)
            if handler is not None:
                handler(attributes)
            push(name)

        return start

    def _make_end(self) -> Callable[[str], None]:
        get, pop, text = self.ends.get, self.stack.pop, self._text

        def end(name: str) -> None:
            pop()
            handler = get(name)
            if handler is not None:
                handler("".join(text))

        return end

    def _start_root(self, name: str, attributes: dict[str, str]) -> None:
        if name not in self._roots:
            namespace, _, local = name.rpartition(NS_SEPARATOR)
            expected = " or ".join(sorted("{" + root for root in self._roots))
            raise self.error(
                f"root element is {{{namespace}}}{local}, expected {expected}", element=local
            )
        start = self._make_start()
        self.expat.StartElementHandler = start
        start(name, attributes)

    def _refuse_doctype(self, name: str, *_: object) -> None:
        raise self.error(
            "DTD/entity declarations are forbidden (forbid_dtd): the document type declaration "
            "was refused before any entity was declared, expanded or fetched",
            element=f"<!DOCTYPE {name}>",
        )

    def _refuse_entity(self, name: str, *_: object) -> None:
        raise self.error("entity declarations are forbidden", element=f"<!ENTITY {name}>")

    def _refuse_external(self, *_: object) -> int:
        raise self.error("external entities are forbidden and are never fetched")

    def _not_well_formed(self, exc: pyexpat.ExpatError) -> ReadFileError:
        reason = pyexpat.ErrorString(exc.code) if exc.code is not None else str(exc)
        return ReadFileError(
            f"not well-formed XML: {reason} (line {exc.lineno}, column {exc.offset + 1})",
            file=self.filename,
            line=exc.lineno,
            element=self.path() or None,
        )


# --- column parsers ------------------------------------------------------------------------


class BadValue(ValueError):
    """Element ``index`` of a parsed column is malformed; ``reason`` says how."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


# xs:decimal / xs:integer lexical forms, surrounding whitespace allowed (XML collapses it).
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*\Z", re.ASCII)
_INTEGER = re.compile(r"\s*[+-]?\d+\s*\Z", re.ASCII)
_DECIMAL_CHARS = str.maketrans("", "", "0123456789+-. \t\r\n")
_INTEGER_CHARS = str.maketrans("", "", "0123456789+- \t\r\n")


def _only_chars(texts: Sequence[str], allowed: dict[int, None]) -> bool:
    # float()/int() also take "1e3", "nan", "1_000" and non-ASCII digits; one pass over the
    # joined column rules them all out without a per-value check.
    return not "".join(texts).translate(allowed)


def shown(text: str, limit: int = 40) -> str:
    """``repr`` of a text for an error message, cut short if long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _first_mismatch(texts: Sequence[str], pattern: re.Pattern[str]) -> int:
    return next((i for i, t in enumerate(texts) if not pattern.match(t)), -1)


def parse_decimals(texts: Sequence[str]) -> np.ndarray:
    """Decimal texts to float64, or BadValue naming the first text that is not a finite number."""
    try:
        values = np.fromiter(map(float, texts), np.float64, len(texts))
    except ValueError:
        values = None
    if values is not None and _only_chars(texts, _DECIMAL_CHARS) and np.isfinite(values).all():
        return values
    index = _first_mismatch(texts, _DECIMAL)
    if index < 0:  # matched the pattern, so it has too many digits for a float
        index = int(np.flatnonzero(~np.isfinite(np.asarray(values)))[0])
    raise BadValue(index, f"{shown(texts[index])} is not a number")


def parse_integers(texts: Sequence[str]) -> np.ndarray:
    """Integer texts to int64, or BadValue naming the first text that is not an int64."""
    try:
        values = np.fromiter(map(int, texts), np.int64, len(texts))
    except (ValueError, OverflowError):
        values = None
    if values is not None and _only_chars(texts, _INTEGER_CHARS):
        return values
    index = _first_mismatch(texts, _INTEGER)
    if index >= 0:
        raise BadValue(index, f"{shown(texts[index])} is not an integer")
    index = next(i for i, t in enumerate(texts) if not -(2**63) <= int(t) < 2**63)
    raise BadValue(index, f"{shown(texts[index])} is out of range")


# --- ISO 8601 date-times with offset --------------------------------------------------------

# "YYYY-MM-DDTHH:MM:SS+hh:mm" (25 characters) or "YYYY-MM-DDTHH:MM:SSZ" (20): where the digits
# and the separators must be. numpy's datetime64 parser then checks the calendar.
_DIGIT_COLUMNS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_LAYOUTS = {
    20: (np.array(_DIGIT_COLUMNS), np.array((4, 7, 10, 13, 16, 19)), b"--T::Z"),
    25: (np.array((*_DIGIT_COLUMNS, 20, 21, 23, 24)), np.array((4, 7, 10, 13, 16, 22)), b"--T:::"),
}
_NOT_ISO = "is not an ISO 8601 date-time with offset"


def _two_digits(cells: np.ndarray, column: int) -> np.ndarray:
    return (cells[:, column].astype(np.int64) - 48) * 10 + (cells[:, column + 1] - 48)


def _fast_iso(texts: Sequence[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds and a validity mask for same-width texts; invalid rows go the slow way."""
    count = len(texts)
    try:
        raw = "".join(texts).encode("ascii")
    except UnicodeEncodeError:
        return np.zeros(count, np.int64), np.zeros(count, bool)
    cells = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)
    digit_columns, separator_columns, separators = _LAYOUTS[width]
    ok = ((cells[:, digit_columns] - 48) <= 9).all(axis=1)  # uint8 wraps below "0"
    ok &= (cells[:, separator_columns] == np.frombuffer(separators, np.uint8)).all(axis=1)
    ok &= (cells[:, :4] != ord("0")).any(axis=1)  # year 0000 does not exist
    seconds = np.zeros(count, dtype=np.int64)
    try:
        local = np.ascontiguousarray(cells[ok, :19]).view("S19").ravel()
        seconds[ok] = local.astype("datetime64[s]").astype(np.int64)
    except ValueError:  # a date or time out of range: let the slow path name it
        return seconds, np.zeros(count, bool)
    if width == 20:
        return seconds, ok
    sign = cells[:, 19]
    hours, minutes = _two_digits(cells, 20), _two_digits(cells, 23)
    ok &= ((sign == ord("+")) | (sign == ord("-"))) & (hours <= 23) & (minutes <= 59)
    offset = hours * 3600 + minutes * 60
    return seconds - np.where(sign == ord("-"), -offset, offset), ok


def _slow_iso(text: str, index: int) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadValue(index, f"{shown(text)} {_NOT_ISO}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadValue(index, f"{shown(text)} has no UTC offset")
    if moment.microsecond:
        raise BadValue(index, f"{shown(text)} has a fraction of a second")
    return int(moment.timestamp())


def iso_to_epoch(texts: Sequence[str]) -> np.ndarray:
    """ISO 8601 date-times with offset (or Z) to int64 UTC epoch seconds; BadValue if malformed.

    The usual shapes (``2026-03-07T01:00:00-05:00`` and ``...Z``) are converted as a byte matrix
    in one go; anything else (fractions, basic format, stray spaces) goes through datetime.
    """
    count = len(texts)
    out = np.zeros(count, dtype=np.int64)
    done = np.zeros(count, dtype=bool)
    widths = np.fromiter(map(len, texts), np.int64, count)
    for width in (25, 20):
        rows = np.flatnonzero(widths == width)
        if rows.size:
            subset = texts if rows.size == count else [texts[i] for i in rows]
            seconds, ok = _fast_iso(subset, width)
            out[rows[ok]] = seconds[ok]
            done[rows[ok]] = True
    for index in np.flatnonzero(~done).tolist():
        out[index] = _slow_iso(texts[index], index)
    return out


# --- energy and batches -----------------------------------------------------------------------


# Metric multipliers (CIM UnitMultiplier, ESPI powerOfTenMultiplier) run from yocto to yotta.
MAX_POWER_OF_TEN = 24


def scaled_wh(values: np.ndarray, power_of_ten: int, limit: int = MAX_INTERVAL_WH) -> np.ndarray:
    """Values in 10**power_of_ten Wh to int64 Wh, rounded half-to-even (EnergyRangeError)."""
    if power_of_ten >= 0 and values.dtype.kind in "iu":
        factor = 10**power_of_ten
        bound = limit // factor  # exact: no float rounding near the limit
        bad = (values > bound) | (values < -bound)
        if bad.any():
            index = int(np.argmax(bad))
            raise EnergyRangeError(index, float(values[index]) * factor, limit)
        return values.astype(np.int64) * factor if bound else np.zeros(values.shape, np.int64)
    if power_of_ten >= 0:
        return kwh_to_wh(values, 10.0**power_of_ten, limit=limit)
    # Divide by an exact power of ten rather than multiply by an inexact 10**-k.
    floats = np.asarray(values, dtype=np.float64) / 10.0**-power_of_ten
    return kwh_to_wh(floats, 1.0, limit=limit)


def scaled_wh_each(
    values: np.ndarray, powers: np.ndarray, limit: int = MAX_INTERVAL_WH
) -> np.ndarray:
    """``scaled_wh`` with a power of ten per value (one pass per distinct power).

    An EnergyRangeError's index is the position in ``values``.
    """
    distinct = sorted_unique(powers)
    if distinct.size == 1:
        return scaled_wh(values, int(distinct[0]), limit)
    out = np.empty(values.shape[0], dtype=np.int64)
    for power in distinct.tolist():
        chosen = powers == power
        try:
            out[chosen] = scaled_wh(values[chosen], power, limit)
        except EnergyRangeError as exc:
            exc.index = int(np.flatnonzero(chosen)[exc.index])
            raise
    return out


def span_lengths(bounds: Sequence[tuple[int, int]]) -> np.ndarray:
    """Lengths of consecutive ``(begin, end)`` spans."""
    return np.array([end - begin for begin, end in bounds], dtype=np.int64)


def position_in_span(lengths: np.ndarray) -> np.ndarray:
    """For spans laid end to end, each element's index within its own span."""
    total = int(lengths.sum())
    firsts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(firsts, lengths)


def span_at(begins: Sequence[int], position: int) -> int:
    """Index of the span (given by sorted begins) that holds ``position``."""
    return bisect.bisect_right(begins, position) - 1


def interval_batch(
    meter: str | np.ndarray,
    start: np.ndarray,
    minutes: int | np.ndarray,
    wh: np.ndarray,
    quality: np.ndarray,
    channel: int | np.ndarray,
    line: np.ndarray,
) -> IntervalBatch:
    """An IntervalBatch; a scalar meter, minutes or channel is the same for every interval."""
    count = start.shape[0]
    if isinstance(meter, str):
        meter = np.full(count, meter, dtype=object)
    return IntervalBatch(
        meter=meter,
        start=start.astype(np.int64, copy=False),
        minutes=np.broadcast_to(np.asarray(minutes, dtype=np.int32), (count,)).copy(),
        wh=wh.astype(np.int64, copy=False),
        quality=quality.astype(np.uint8, copy=False),
        channel=np.broadcast_to(np.asarray(channel, dtype=np.uint8), (count,)).copy(),
        line=line.astype(np.int32, copy=False),
    )


def _slice(batch: IntervalBatch, part: slice) -> IntervalBatch:
    return batch.take(part)


_REGISTER_FIELDS = ("meter", "read_at", "wh", "channel", "line")


def concat_registers(parts: list[RegisterBatch]) -> RegisterBatch:
    """One RegisterBatch from several."""
    if not parts:
        return RegisterBatch()
    return RegisterBatch(
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _REGISTER_FIELDS}
    )


class BatchBuilder:
    """Collects parsed reads and hands them out as ParsedBatches of ``batch_reads`` intervals.

    ``records`` of each batch counts the source records its intervals and register reads came
    from (an interval filled in for a gap in the source is no record).
    """

    def __init__(self, batch_reads: int) -> None:
        if batch_reads < 1:
            raise ValueError("batch_reads must be positive")
        self._size = batch_reads
        self._parts: list[IntervalBatch] = []
        self._counted: list[np.ndarray] = []
        self._pending = 0
        self._registers: list[RegisterBatch] = []
        self._records = 0  # records not tied to any interval (register reads, skipped reads)

    def add(self, intervals: IntervalBatch, counted: np.ndarray | None = None) -> None:
        """Queue intervals; ``counted`` marks those that are a source record (default: all)."""
        if len(intervals):
            self._parts.append(intervals)
            self._counted.append(np.ones(len(intervals), bool) if counted is None else counted)
            self._pending += len(intervals)

    def add_registers(self, registers: RegisterBatch, records: int) -> None:
        """Queue register reads that came from ``records`` source records."""
        if len(registers):
            self._registers.append(registers)
        self._records += records

    def take(self, final: bool = False) -> Iterator[ParsedBatch]:
        """Full batches so far; with ``final`` also the remainder."""
        while self._pending >= self._size or (
            final and (self._pending or self._registers or self._records)
        ):
            yield self._cut()

    def _cut(self) -> ParsedBatch:
        # A single queued part is sliced as it is: no copy of a large conversion per batch.
        single = len(self._parts) == 1
        intervals = self._parts[0] if single else IntervalBatch.concat(self._parts)
        counted = np.concatenate(self._counted) if self._counted else np.zeros(0, bool)
        size = min(self._size, len(intervals))
        head = _slice(intervals, slice(0, size))
        records = int(np.count_nonzero(counted[:size])) + self._records
        batch = ParsedBatch(head, concat_registers(self._registers), records)
        self._registers, self._records = [], 0
        rest = len(intervals) - size
        self._parts = [_slice(intervals, slice(size, None))] if rest else []
        self._counted = [counted[size:]] if rest else []
        self._pending = rest
        return batch
