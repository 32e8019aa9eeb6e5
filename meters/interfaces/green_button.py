"""Green Button / NAESB REQ.21 ESPI Atom feeds (samples/README.md, section 3).

Resources are Atom entries tied together by links: an IntervalBlock's self link is
``<MeterReading self>/IntervalBlock/n`` and a MeterReading's ``<UsagePoint self>/MeterReading/m``,
so the meter ID (the last segment of the UsagePoint self link) follows from the MeterReading
link. The MeterReading names its ReadingType by a ``related`` link or embeds it (ESPI 4.0).

Entries may come in any order. Only the small resources (MeterReading and ReadingType fields)
are kept for the whole file; an IntervalBlock is converted to arrays as it is read, emitted as
soon as its ReadingType is known and buffered (as arrays) only until then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO, NoReturn, cast
from zoneinfo import ZoneInfo

import numpy as np

from meters.interfaces._xml import (
    BadValue,
    BatchBuilder,
    XmlReader,
    interval_batch,
    parse_integers,
    qname,
    scaled_wh,
)
from meters.interfaces.base import (
    DEFAULT_BATCH_READS,
    Channel,
    ParsedBatch,
    Quality,
    ReadFileError,
)

NS_ATOM = "http://www.w3.org/2005/Atom"
NS_ESPI = "http://naesb.org/espi"

FEED = qname(NS_ATOM, "feed")
ENTRY = qname(NS_ATOM, "entry")
LINK = qname(NS_ATOM, "link")
CONTENT = qname(NS_ATOM, "content")
USAGE_POINT = qname(NS_ESPI, "UsagePoint")
METER_READING = qname(NS_ESPI, "MeterReading")
READING_TYPE = qname(NS_ESPI, "ReadingType")
INTERVAL_BLOCK = qname(NS_ESPI, "IntervalBlock")
INTERVAL = qname(NS_ESPI, "interval")
INTERVAL_READING = qname(NS_ESPI, "IntervalReading")
READING_QUALITY = qname(NS_ESPI, "ReadingQuality")
QUALITY = qname(NS_ESPI, "quality")
START = qname(NS_ESPI, "start")
DURATION = qname(NS_ESPI, "duration")
VALUE = qname(NS_ESPI, "value")
READING_TYPE_FIELDS = (
    "accumulationBehaviour",
    "flowDirection",
    "intervalLength",
    "powerOfTenMultiplier",
    "uom",
)

UOM_WH = 72
ACCUMULATION_DELTA = 4
FLOW_CHANNEL = {1: Channel.DELIVERED, 19: Channel.RECEIVED}
CHUNK_READINGS = 65_536  # texts held before converting them to arrays

# ESPI QualityOfReading codes.
QUALITY_CODES = {
    **dict.fromkeys((0, 14, 17, 19), Quality.ACTUAL),
    **dict.fromkeys((7, 8, 9, 11, 12, 15), Quality.ESTIMATED),
    **dict.fromkeys((10, 13, 16, 18), Quality.SUSPECT),
}

Fail = Callable[[str, str, int | None], NoReturn]  # (reason, element suffix, line) -> raises


def resource_label(href: str) -> str:
    """``UsagePoint[MTR-1001]/MeterReading[1]/IntervalBlock[2]`` for an ESPI resource link."""
    segments = [s for s in href.split("/") if s]
    if "UsagePoint" in segments:
        tail = segments[len(segments) - 1 - segments[::-1].index("UsagePoint") :]
        pairs = [f"{tail[i]}[{tail[i + 1]}]" for i in range(0, len(tail) - 1, 2)]
        return "/".join(pairs + tail[len(pairs) * 2 :])
    return f"entry[{href}]"


def parent_resource(href: str, kind: str) -> str | None:
    """The link of the resource that ``href`` (``<parent>/<kind>/<id>``) belongs to."""
    cut = href.rstrip("/").rfind(f"/{kind}/")
    return href[:cut] if cut > 0 else None


@dataclass(frozen=True)
class ReadingType:
    """The ReadingType fields a parser needs."""

    seconds: int  # intervalLength
    power_of_ten: int
    channel: Channel


def reading_type(fields: dict[str, str]) -> ReadingType:
    """Validate raw ReadingType fields; ValueError with the reason if they cannot be loaded."""
    codes: dict[str, int] = {}
    for name in READING_TYPE_FIELDS:
        text = fields.get(name, "0" if name == "powerOfTenMultiplier" else None)
        if text is None:
            raise ValueError(f"ReadingType has no {name}")
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise ValueError(f"ReadingType {name} {text!r} is not an integer")
        codes[name] = int(text)
    if codes["uom"] != UOM_WH:
        raise ValueError(f"ReadingType uom {codes['uom']} is not 72 (Wh)")
    if codes["accumulationBehaviour"] != ACCUMULATION_DELTA:
        raise ValueError(
            f"ReadingType accumulationBehaviour {codes['accumulationBehaviour']} is not 4 (delta)"
        )
    if codes["flowDirection"] not in FLOW_CHANNEL:
        raise ValueError(f"ReadingType flowDirection {codes['flowDirection']} is not 1 or 19")
    seconds = codes["intervalLength"]
    if seconds <= 0 or seconds % 60:
        raise ValueError(f"ReadingType intervalLength {seconds} is not a whole number of minutes")
    return ReadingType(seconds, codes["powerOfTenMultiplier"], FLOW_CHANNEL[codes["flowDirection"]])


class _Block:
    """One IntervalBlock: its readings' texts, converted to int64 arrays every CHUNK_READINGS.

    While the block is open the reader appends the readings' start, duration and value texts
    straight to the lists; ``end_reading`` keeps them aligned (None where a reading has no
    timePeriod start or duration). The lists are cleared in place, never replaced.
    """

    def __init__(self, line: int, expat: Any, fail: Fail) -> None:
        self.line = line
        self.expat = expat
        self.fail = fail
        self.interval: dict[str, str] = {}
        self.starts: list[str | None] = []
        self.durations: list[str | None] = []
        self.values: list[str] = []
        self.lines: list[int] = []
        self.codes: list[str] = []  # quality codes of the reading being read
        self.qualities: dict[int, Quality] = {}
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.converted = 0

    def start_reading(self, _attributes: dict[str, str]) -> None:
        """Start handler of IntervalReading: note its line."""
        self.lines.append(self.expat.CurrentLineNumber)

    def end_reading(self, _text: str) -> None:
        """End handler of IntervalReading: check it; convert once enough are held."""
        count = len(self.lines)
        if (
            self.codes
            or len(self.starts) != count
            or len(self.durations) != count
            or len(self.values) != count
        ):
            self.settle()
        if count >= CHUNK_READINGS:
            self.flush()

    def add_quality(self, text: str) -> None:
        """End handler of ReadingQuality/quality."""
        self.codes.append(text)

    def settle(self) -> None:
        """Check the reading that just closed, mark what it leaves out, apply its quality."""
        count, line = len(self.lines), self.lines[-1]
        where = f"IntervalReading[{self.converted + count}]"
        for name, texts in (("start", self.starts), ("duration", self.durations)):
            if len(texts) > count:
                self.fail(f"IntervalReading has more than one timePeriod/{name}", where, line)
            if len(texts) < count:
                texts.append(None)  # no timePeriod: the next intervalLength step (ESPI)
        if len(self.values) != count:
            many = "more than one" if len(self.values) > count else "no"
            self.fail(f"IntervalReading has {many} value", where, line)
        if self.codes:
            self.qualities[count - 1] = self._quality()

    def _quality(self) -> Quality:
        qualities = []
        for text in self.codes:
            code = text.strip()
            quality = QUALITY_CODES.get(int(code)) if code.isascii() and code.isdigit() else None
            if quality is None:
                where = f"IntervalReading[start={(self.starts[-1] or '').strip()}]/ReadingQuality"
                where += "/quality"
                self.fail(f"unknown ReadingQuality quality {code!r}", where, self.lines[-1])
            qualities.append(quality)
        self.codes.clear()
        return max(qualities)

    def flush(self) -> None:
        """Convert the texts held so far to arrays."""
        if not self.lines:
            return
        starts, no_start = self._integers(self.starts, "timePeriod/start")
        durations, no_duration = self._integers(self.durations, "timePeriod/duration")
        values, _ = self._integers(self.values, "value")
        quality = np.zeros(len(values), dtype=np.uint8)
        quality[list(self.qualities)] = list(self.qualities.values())
        lines = np.array(self.lines, dtype=np.int32)
        self.parts.append((starts, no_start, durations, no_duration, values, quality, lines))
        self.converted += len(values)
        for texts in (self.starts, self.durations, self.values, self.lines):
            texts.clear()
        self.qualities = {}

    def _integers(self, texts: list[str | None], name: str) -> tuple[np.ndarray, np.ndarray]:
        """Integers and a mask of the texts left out (None)."""
        absent = np.zeros(len(texts), dtype=bool)
        if None in texts:
            absent[[i for i, text in enumerate(texts) if text is None]] = True
        if absent.any():
            numbers = ["0" if text is None else text for text in texts]
        else:
            numbers = cast(list[str], texts)
        try:
            return parse_integers(numbers), absent
        except BadValue as exc:
            start = (self.starts[exc.index] or "").strip() or f"#{self.converted + exc.index + 1}"
            self.fail(exc.reason, f"IntervalReading[start={start}]/{name}", self.lines[exc.index])

    def columns(self) -> tuple[np.ndarray, ...]:
        """All readings: starts, no_start, durations, no_duration, values, quality, lines."""
        self.flush()
        if not self.parts:
            empty = (np.int64, bool, np.int64, bool, np.int64, np.uint8, np.int32)
            return tuple(np.zeros(0, dtype) for dtype in empty)
        return tuple(np.concatenate(column) for column in zip(*self.parts, strict=True))


@dataclass
class _Entry:
    """An Atom entry: its links and the ESPI resource(s) in its content."""

    number: int
    line: int
    links: list[tuple[str, str]] = field(default_factory=list)
    kind: str | None = None
    reading_type: dict[str, str] | None = None  # a ReadingType entry's, or one embedded
    blocks: list[_Block] = field(default_factory=list)

    def link(self, rel: str) -> str | None:
        """The first link with relation ``rel``."""
        return next((href for r, href in self.links if r == rel), None)

    def label(self) -> str:
        """A readable name for error messages."""
        href = self.link("self")
        return resource_label(href) if href else f"entry[#{self.number}]"


@dataclass
class _PendingBlock:
    """A converted IntervalBlock, waiting for its ReadingType if need be."""

    label: str
    line: int
    meter: str
    interval: dict[str, str]
    columns: tuple[np.ndarray, ...]


class _Parser:
    """Handlers over an XmlReader; one instance per file."""

    def __init__(self, filename: str, batch_reads: int) -> None:
        self.reader = XmlReader(filename, roots=(FEED, ENTRY))
        self.builder = BatchBuilder(batch_reads)
        self.stack, self.starts, self.ends = self.reader.stack, self.reader.starts, self.reader.ends
        self.entries = 0
        self.entry: _Entry | None = None
        self.block: _Block | None = None
        # The small resources, kept for the whole file: links -> ReadingType fields (and where
        # they are), MeterReading -> its ReadingType link or embedded fields.
        self.reading_types: dict[str, tuple[dict[str, str], str, int]] = {}
        self.meter_readings: dict[str, str | dict[str, str] | None] = {}
        self.validated: dict[str, ReadingType] = {}  # MeterReading link -> its ReadingType
        self.pending: dict[str, list[_PendingBlock]] = {}  # MeterReading link -> blocks
        self._register_handlers()

    def _register_handlers(self) -> None:
        on_start, on_end = self.reader.on_start, self.reader.on_end
        on_start(ENTRY, self._start_entry)
        on_end(ENTRY, self._end_entry)
        on_start(LINK, self._start_link)
        on_start(USAGE_POINT, partial(self._start_resource, "UsagePoint"))
        on_start(METER_READING, partial(self._start_resource, "MeterReading"))
        on_start(READING_TYPE, self._start_reading_type)
        for name in READING_TYPE_FIELDS:
            on_end(qname(NS_ESPI, name), partial(self._end_reading_type_field, name))
        on_start(INTERVAL_BLOCK, self._start_block)
        on_end(INTERVAL_BLOCK, self._end_block)

    def parse(self, stream: BinaryIO) -> Iterator[ParsedBatch]:
        """Batches of the whole file."""
        for _ in self.reader.run(stream):
            yield from self.builder.take()
        self._check_nothing_pending()
        yield from self.builder.take(final=True)

    def _error(self, reason: str, element: str, line: int | None) -> ReadFileError:
        return ReadFileError(reason, file=self.reader.filename, element=element, line=line)

    # --- entries ---------------------------------------------------------------------------

    def _start_entry(self, _attributes: dict[str, str]) -> None:
        self.entries += 1
        self.entry = _Entry(self.entries, self.reader.line())

    def _start_link(self, attributes: dict[str, str]) -> None:
        if self.entry is not None and self.stack and self.stack[-1] == ENTRY:
            href = attributes.get("href", "").strip().rstrip("/")
            self.entry.links.append((attributes.get("rel", "alternate"), href))

    def _start_resource(self, kind: str, _attributes: dict[str, str]) -> None:
        if self.entry is not None and self.stack[-1] == CONTENT:
            self.entry.kind = kind

    def _end_entry(self, _text: str) -> None:
        entry = self.entry
        if entry is None:
            return
        if entry.kind == "ReadingType":
            self._add_reading_type(entry)
        elif entry.kind == "MeterReading":
            self._add_meter_reading(entry)
        elif entry.blocks:
            self._add_blocks(entry)
        self.entry = None

    def _self_link(self, entry: _Entry) -> str:
        href = entry.link("self")
        if not href:
            raise self._error(f"{entry.kind} entry has no self link", entry.label(), entry.line)
        return href

    # --- ReadingType and MeterReading ------------------------------------------------------

    def _start_reading_type(self, _attributes: dict[str, str]) -> None:
        entry, parent = self.entry, self.stack[-1]
        if entry is not None and parent in (CONTENT, METER_READING):
            entry.reading_type = {}
            if parent == CONTENT:
                entry.kind = "ReadingType"

    def _end_reading_type_field(self, name: str, text: str) -> None:
        entry = self.entry
        if entry is not None and entry.reading_type is not None and self.stack[-1] == READING_TYPE:
            entry.reading_type[name] = text.strip()

    def _add_reading_type(self, entry: _Entry) -> None:
        href = self._self_link(entry)
        self.reading_types[href] = (entry.reading_type or {}, f"ReadingType[{href}]", entry.line)
        for meter_reading, ref in list(self.meter_readings.items()):
            if ref == href and meter_reading in self.pending:
                self._flush_pending(meter_reading)

    def _add_meter_reading(self, entry: _Entry) -> None:
        href = self._self_link(entry)
        ref: str | dict[str, str] | None = entry.reading_type
        if ref is None:
            related = (h for rel, h in entry.links if rel == "related" and "/ReadingType/" in h)
            ref = next(related, None)
        else:
            where = f"{resource_label(href)}/ReadingType"
            self.reading_types[href] = (ref, where, entry.line)
            ref = href  # an embedded ReadingType is filed under its MeterReading's link
        self.meter_readings[href] = ref
        if href in self.pending:
            self._flush_pending(href)

    def _reading_type_for(self, meter_reading: str) -> ReadingType | None:
        """The validated ReadingType of a MeterReading, None while it is not known."""
        if meter_reading in self.validated:
            return self.validated[meter_reading]
        ref = self.meter_readings.get(meter_reading)
        if not isinstance(ref, str) or ref not in self.reading_types:
            return None
        fields, where, line = self.reading_types[ref]
        try:
            kind = reading_type(fields)
        except ValueError as exc:
            raise self._error(str(exc), where, line) from None
        self.validated[meter_reading] = kind
        return kind

    # --- IntervalBlocks --------------------------------------------------------------------

    def _start_block(self, _attributes: dict[str, str]) -> None:
        entry = self.entry
        if entry is None or self.stack[-1] != CONTENT:
            return
        entry.kind = "IntervalBlock"
        block = self.block = _Block(self.reader.line(), self.reader.expat, self._fail_in_block)
        entry.blocks.append(block)
        # Inside the block its readings' texts go straight into its lists (the hot path).
        self.starts[INTERVAL_READING], self.ends[INTERVAL_READING] = (
            block.start_reading,
            block.end_reading,
        )
        self.ends[START], self.ends[DURATION] = block.starts.append, block.durations.append
        self.ends[VALUE], self.ends[QUALITY] = block.values.append, block.add_quality
        self.starts[INTERVAL], self.ends[INTERVAL] = self._start_interval, self._end_interval

    def _end_block(self, _text: str) -> None:
        if self.block is None or self.stack[-1] != CONTENT:
            return
        for name in (INTERVAL_READING, INTERVAL):
            del self.starts[name]
        for name in (INTERVAL_READING, START, DURATION, VALUE, QUALITY, INTERVAL):
            del self.ends[name]
        self.block = None

    def _start_interval(self, _attributes: dict[str, str]) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_BLOCK:
            self.ends[START] = partial(self.block.interval.__setitem__, "start")
            self.ends[DURATION] = partial(self.block.interval.__setitem__, "duration")

    def _end_interval(self, _text: str) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_BLOCK:
            self.ends[START], self.ends[DURATION] = (
                self.block.starts.append,
                self.block.durations.append,
            )

    def _fail_in_block(self, reason: str, element: str, line: int | None) -> NoReturn:
        label = self.entry.label() if self.entry is not None else "IntervalBlock"
        raise self._error(reason, f"{label}/{element}", line)

    def _add_blocks(self, entry: _Entry) -> None:
        meter_reading, meter = self._owners(entry)
        for number, block in enumerate(entry.blocks, start=1):
            label = entry.label() + (f"#{number}" if len(entry.blocks) > 1 else "")
            pending = _PendingBlock(label, block.line, meter, block.interval, block.columns())
            kind = self._reading_type_for(meter_reading)
            if kind is None:
                self.pending.setdefault(meter_reading, []).append(pending)
            else:
                self._emit(pending, kind)

    def _owners(self, entry: _Entry) -> tuple[str, str]:
        """The MeterReading link and the meter ID of an IntervalBlock entry."""
        self_link, up = entry.link("self"), entry.link("up")
        meter_reading = parent_resource(self_link, "IntervalBlock") if self_link else None
        if meter_reading is None and up and up.endswith("/IntervalBlock"):
            meter_reading = up.removesuffix("/IntervalBlock")
        if meter_reading is None:
            reason = "IntervalBlock entry has no self or up link <MeterReading>/IntervalBlock"
            raise self._error(reason, entry.label(), entry.line)
        usage_point = parent_resource(meter_reading, "MeterReading")
        if usage_point is None:
            reason = f"MeterReading link {meter_reading!r} is not <UsagePoint>/MeterReading/<id>"
            raise self._error(reason, entry.label(), entry.line)
        return meter_reading, usage_point.rsplit("/", 1)[-1]

    def _flush_pending(self, meter_reading: str) -> None:
        kind = self._reading_type_for(meter_reading)
        if kind is not None:
            for pending in self.pending.pop(meter_reading):
                self._emit(pending, kind)

    def _check_nothing_pending(self) -> None:
        for meter_reading, blocks in self.pending.items():
            ref = self.meter_readings.get(meter_reading, "")
            if meter_reading not in self.meter_readings:
                reason = f"its MeterReading {meter_reading} is not in the feed"
            elif ref is None:
                reason = "its MeterReading names no ReadingType (related link or embedded)"
            else:
                reason = f"the ReadingType {ref} of its MeterReading is not in the feed"
            raise self._error(reason, blocks[0].label, blocks[0].line)

    # --- from readings to intervals --------------------------------------------------------

    def _interval(self, block: _PendingBlock, step: int) -> tuple[int, int]:
        """The block's interval start and duration (a whole number of steps)."""
        try:
            start, duration = (int(block.interval[name]) for name in ("start", "duration"))
        except (KeyError, ValueError):
            reason = (
                f"IntervalBlock interval needs integer start and duration, has {block.interval}"
            )
            raise self._error(reason, f"{block.label}/interval", block.line) from None
        if duration <= 0 or duration % step:
            reason = f"interval duration {duration} is not a positive multiple of {step} s"
            raise self._error(reason, f"{block.label}/interval/duration", block.line)
        return start, duration

    def _emit(self, block: _PendingBlock, kind: ReadingType) -> None:
        step = kind.seconds
        first, duration = self._interval(block, step)
        starts, no_start, _, _, values, quality, lines = block.columns
        starts = self._implicit_starts(starts, no_start, first, step)
        slots = self._slots(block, starts, first, step)
        count = duration // step
        wh = np.zeros(count, dtype=np.int64)
        wh[slots] = scaled_wh(values, kind.power_of_ten)
        full_quality = np.full(count, Quality.MISSING, dtype=np.uint8)
        full_quality[slots] = quality
        full_lines = np.full(count, block.line, dtype=np.int32)
        full_lines[slots] = lines
        counted = np.zeros(count, dtype=bool)
        counted[slots] = True
        start = first + np.arange(count, dtype=np.int64) * step
        batch = interval_batch(
            block.meter, start, step // 60, wh, full_quality, kind.channel, full_lines
        )
        self.builder.add(batch, counted)

    @staticmethod
    def _implicit_starts(
        starts: np.ndarray, absent: np.ndarray, first: int, step: int
    ) -> np.ndarray:
        # ESPI: a reading without timePeriod is the intervalLength step after the previous one.
        if absent.any():
            starts = starts.copy()
            for index in np.flatnonzero(absent).tolist():
                starts[index] = starts[index - 1] + step if index else first
        return starts

    def _slots(self, block: _PendingBlock, starts: np.ndarray, first: int, step: int) -> np.ndarray:
        """Index of each reading in the block's intervals; an error for any that has none."""
        _, _, durations, no_duration, _, _, lines = block.columns
        duration = int(block.interval["duration"])
        offsets = starts - first
        problems = (
            (
                (offsets < 0) | (offsets >= duration),
                f"outside its IntervalBlock [{first}, {first + duration})",
            ),
            (offsets % step != 0, f"off the {step} s intervalLength grid of its IntervalBlock"),
            (~no_duration & (durations != step), f"with a duration other than {step} s"),
        )
        for bad, what in problems:
            if bad.any():
                index = int(np.flatnonzero(bad)[0])
                self._reading_error(block, starts, lines, index, f"reading {what}")
        slots = offsets // step
        repeated = np.bincount(slots, minlength=duration // step) > 1
        if repeated.any():
            index = int(np.flatnonzero(repeated[slots])[1])
            self._reading_error(block, starts, lines, index, "duplicate start in its IntervalBlock")
        return slots

    def _reading_error(
        self, block: _PendingBlock, starts: np.ndarray, lines: np.ndarray, index: int, reason: str
    ) -> NoReturn:
        element = f"{block.label}/IntervalReading[start={int(starts[index])}]"
        raise self._error(reason, element, int(lines[index]))


def parse(
    stream: BinaryIO,
    *,
    filename: str,
    tz: ZoneInfo,
    batch_reads: int = DEFAULT_BATCH_READS,
) -> Iterator[ParsedBatch]:
    """Parse a Green Button (ESPI) Atom feed (``tz`` is unused: times are UTC epoch seconds)."""
    return _Parser(filename, batch_reads).parse(stream)
