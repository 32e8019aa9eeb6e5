"""IEC 61968-9 MeterReadings in an IEC 61968-100 EventMessage (samples/README.md, section 4).

Per ``MeterReading``: ``IntervalBlocks`` (one per ReadingType) of ``IntervalReadings`` stamped at
the interval END with an offset, the ``Meter`` (its ``MeterSerialNumber`` name is the meter ID)
and register ``Readings``. The Meter comes after the blocks in schema order, so the readings'
texts are collected as they come and converted, all blocks at once, after each chunk of the
file for every MeterReading that has closed by then; an error is reported naming the meter.
"""

from __future__ import annotations

import pyexpat
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress
from typing import BinaryIO, NoReturn
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.interfaces._xml import (
    MAX_POWER_OF_TEN,
    BadValue,
    BatchBuilder,
    EndHandler,
    StartHandler,
    XmlReader,
    interval_batch,
    iso_to_epoch,
    parse_decimals,
    qname,
    scaled_wh_each,
    span_at,
    span_lengths,
)
from meters.reads.interfaces.base import (
    DEFAULT_BATCH_READS,
    MAX_REGISTER_WH,
    Channel,
    EnergyRangeError,
    ParsedBatch,
    Quality,
    ReadFileError,
    RegisterBatch,
)

NS_MESSAGE = "http://iec.ch/TC57/2011/schema/message"
NS_READINGS = "http://iec.ch/TC57/2011/MeterReadings#"

EVENT_MESSAGE = qname(NS_MESSAGE, "EventMessage")
HEADER = qname(NS_MESSAGE, "Header")
VERB = qname(NS_MESSAGE, "Verb")
NOUN = qname(NS_MESSAGE, "Noun")
METER_READINGS = qname(NS_READINGS, "MeterReadings")
METER_READING = qname(NS_READINGS, "MeterReading")
INTERVAL_BLOCKS = qname(NS_READINGS, "IntervalBlocks")
INTERVAL_READINGS = qname(NS_READINGS, "IntervalReadings")
READINGS = qname(NS_READINGS, "Readings")
TIME_STAMP = qname(NS_READINGS, "timeStamp")
VALUE = qname(NS_READINGS, "value")
READING_QUALITIES = qname(NS_READINGS, "ReadingQualities")
READING_QUALITY_TYPE = qname(NS_READINGS, "ReadingQualityType")
READING_TYPE = qname(NS_READINGS, "ReadingType")
METER = qname(NS_READINGS, "Meter")
NAMES = qname(NS_READINGS, "Names")
NAME_TYPE = qname(NS_READINGS, "NameType")
NAME = qname(NS_READINGS, "name")

SERIAL_NAME_TYPE = "MeterSerialNumber"
# Verbs that deliver reads; "deleted"/"canceled" messages must not be loaded as new data.
DELIVERY_VERBS = frozenset({"created", "create", "changed", "change", "reply"})

# ReadingType mRID codes (IEC 61968-9 Annex C / ESPI TimeAttributeKind and AccumulationKind).
MEASURING_PERIOD_MINUTES = {1: 10, 2: 15, 3: 1, 5: 30, 6: 5, 7: 60, 10: 2, 14: 3, 31: 20}
ACCUMULATION_BULK, ACCUMULATION_DELTA = 1, 4
FLOW_CHANNEL = {1: Channel.DELIVERED, 19: Channel.RECEIVED}
KIND_ENERGY, UNIT_WH = 12, 72

# ReadingQualityType category -> quality; category.index 5.259 (not acquired) means MISSING.
QUALITY_CATEGORIES = {
    **dict.fromkeys((0, 1, 2, 3, 4), Quality.ACTUAL),
    **dict.fromkeys((5, 6, 10), Quality.SUSPECT),
    **dict.fromkeys((7, 8, 11, 12), Quality.ESTIMATED),
}


@dataclass(frozen=True)
class ReadingType:
    """What an 18-field ReadingType mRID says about a value."""

    accumulation: int
    minutes: int  # interval length; 0 for a bulk (register) reading
    channel: Channel
    power_of_ten: int  # value x 10**power_of_ten = Wh


@lru_cache(maxsize=256)
def reading_type(mrid: str) -> ReadingType:
    """Decode a ReadingType mRID; ValueError with the reason if it is not energy we can load."""
    fields = mrid.strip().split(".")
    if len(fields) != 18:
        raise ValueError(f"ReadingType {mrid!r} does not have 18 dot-separated fields")
    try:
        codes = [int(field) for field in fields]
    except ValueError:
        raise ValueError(f"ReadingType {mrid!r} has a field that is not an integer") from None
    period, accumulation, flow, kind, multiplier, unit = (codes[i] for i in (2, 3, 4, 6, 15, 16))
    if kind != KIND_ENERGY or unit != UNIT_WH:
        raise ValueError(f"ReadingType {mrid!r} is not energy in Wh (kind 12, unit 72)")
    if flow not in FLOW_CHANNEL:
        raise ValueError(f"ReadingType {mrid!r}: flowDirection {flow} is not 1 or 19")
    if abs(multiplier) > MAX_POWER_OF_TEN:
        raise ValueError(f"ReadingType {mrid!r}: multiplier {multiplier} is not a metric prefix")
    minutes = 0
    if accumulation == ACCUMULATION_DELTA:
        if period not in MEASURING_PERIOD_MINUTES:
            raise ValueError(f"ReadingType {mrid!r}: measuringPeriod {period} is not supported")
        minutes = MEASURING_PERIOD_MINUTES[period]
    elif accumulation != ACCUMULATION_BULK:
        raise ValueError(f"ReadingType {mrid!r}: accumulation {accumulation} is not 4 or 1")
    return ReadingType(accumulation, minutes, FLOW_CHANNEL[flow], multiplier)


@lru_cache(maxsize=256)
def quality_of(code: str) -> Quality:
    """Quality of one ReadingQualityType code ``system.category.index``; ValueError if unknown."""
    parts = code.strip().split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"{code!r} is not a ReadingQualityType code system.category.index")
    category, index = int(parts[1]), int(parts[2])
    if (category, index) == (5, 259):
        return Quality.MISSING
    if category not in QUALITY_CATEGORIES:
        raise ValueError(f"unknown ReadingQualityType {code!r}")
    return QUALITY_CATEGORIES[category]


def quality_of_codes(codes: list[str]) -> Quality:
    """The winning quality of several ReadingQualityType codes; ValueError if one is unknown."""
    return max(quality_of(code) for code in codes)


@dataclass
class _MeterReading:
    """One MeterReading: its meter (known once its Meter closes) and whether it has closed."""

    number: int
    line: int
    meter: str | None = None
    name: str | None = None
    name_type: str | None = None
    complete: bool = False

    def label(self) -> str:
        """``MeterReading[<meter>]`` (or its position while the meter is unknown)."""
        return f"MeterReading[{self.meter or f'#{self.number}'}]"


@dataclass
class _Span:
    """The IntervalReadings of one IntervalBlocks: positions [begin, end) in the text columns."""

    owner: _MeterReading
    begin: int
    end: int
    reading_type: str | None
    line: int


@dataclass
class _Read:
    """One register read (``Readings``) as found in the file."""

    owner: _MeterReading
    line: int
    stamp: str | None = None
    value: str | None = None
    codes: list[str] = field(default_factory=list)
    reading_type: str | None = None


class _Texts:
    """Texts of the IntervalReadings read since the last conversion, one entry per reading.

    The reader appends timeStamp and value texts straight to ``stamps`` and ``values`` (the hot
    path); the end of each IntervalReadings keeps the columns aligned. Lists are only ever
    changed in place, because the reader holds their ``append`` methods.
    """

    def __init__(self, expat: pyexpat.XMLParserType) -> None:
        self.stamps: list[str] = []
        self.values: list[str] = []  # "" where a reading has no value
        self.lines: list[int] = []
        self.reading_codes: list[str] = []  # ReadingQualityType refs of the reading being read
        self.codes: dict[int, list[str]] = {}  # position -> ReadingQualityType refs
        self.problems: dict[int, str] = {}  # position -> what is wrong with its structure
        self.start_reading, self.end_reading = self._reading_handlers(expat)

    def _reading_handlers(self, expat: pyexpat.XMLParserType) -> tuple[StartHandler, EndHandler]:
        """Start and end handlers of IntervalReadings: note the line; check the alignment."""
        stamps, values, lines, codes, settle = (
            self.stamps,
            self.values,
            self.lines,
            self.reading_codes,
            self.settle,
        )

        def start(_attributes: dict[str, str]) -> None:
            lines.append(expat.CurrentLineNumber)

        def end(_text: str) -> None:
            count = len(lines)
            if codes or len(stamps) != count or len(values) != count:
                settle()

        return start, end

    def settle(self) -> None:
        """Align the columns after the reading that just closed; note its codes and faults."""
        count = len(self.lines)
        position = count - 1
        for name, texts in (("timeStamp", self.stamps), ("value", self.values)):
            if len(texts) > count:
                self.problems.setdefault(position, f"IntervalReadings has more than one {name}")
                del texts[count:]
            elif len(texts) < count:
                if name == "timeStamp":
                    self.problems.setdefault(position, "IntervalReadings has no timeStamp")
                texts.append("")
        if self.reading_codes:
            self.codes[position] = self.reading_codes[:]
            self.reading_codes.clear()

    def drop(self, count: int) -> None:
        """Forget the first ``count`` readings (converted)."""
        for texts in (self.stamps, self.values, self.lines):
            del texts[:count]
        self.codes = {p - count: c for p, c in self.codes.items() if p >= count}
        self.problems = {p - count: r for p, r in self.problems.items() if p >= count}


class _Parser:
    """Handlers over an XmlReader; one instance per file."""

    def __init__(self, filename: str, batch_reads: int) -> None:
        self.reader = XmlReader(filename, roots=(EVENT_MESSAGE, METER_READINGS))
        self.builder = BatchBuilder(batch_reads)
        self.stack, self.starts, self.ends = self.reader.stack, self.reader.starts, self.reader.ends
        self.expat = self.reader.expat
        self.texts = _Texts(self.expat)
        self.spans: list[_Span] = []  # of complete IntervalBlocks, not converted yet
        self.reads: list[_Read] = []  # register reads not converted yet
        self.payloads = 0
        self.meter_reading: _MeterReading | None = None
        self.block: _Span | None = None  # the IntervalBlocks being read
        self.read: _Read | None = None
        self._register_handlers()

    def _register_handlers(self) -> None:
        on_start, on_end = self.reader.on_start, self.reader.on_end
        on_end(VERB, self._end_verb)
        on_end(NOUN, self._end_noun)
        on_start(METER_READINGS, self._start_payload)
        on_start(METER_READING, self._start_meter_reading)
        on_end(METER_READING, self._end_meter_reading)
        on_start(INTERVAL_BLOCKS, self._start_block)
        on_end(INTERVAL_BLOCKS, self._end_block)
        on_start(READINGS, self._start_read)
        on_end(READINGS, self._end_read)
        on_end(TIME_STAMP, self._end_time_stamp)
        on_end(VALUE, self._end_value)
        on_start(READING_QUALITIES, self._start_qualities)
        on_end(READING_QUALITIES, self._end_qualities)
        on_start(READING_QUALITY_TYPE, self._start_quality)
        on_start(READING_TYPE, self._start_reading_type)
        on_end(NAME, self._end_name)
        on_end(NAMES, self._end_names)

    def parse(self, stream: BinaryIO) -> Iterator[ParsedBatch]:
        """Batches of the whole file."""
        for _ in self.reader.run(stream):
            self._convert()
            yield from self.builder.take()
        if not self.payloads:
            raise self.reader.error(f"no MeterReadings element in namespace {NS_READINGS}")
        self._convert()
        yield from self.builder.take(final=True)

    def _error(self, reason: str, element: str, line: int | None) -> ReadFileError:
        return ReadFileError(reason, file=self.reader.filename, element=element, line=line)

    # --- envelope and MeterReading ---------------------------------------------------------

    def _end_verb(self, text: str) -> None:
        if self.stack[-1] == HEADER and text.strip() not in DELIVERY_VERBS:
            reason = f"verb {text.strip()!r} does not deliver reads"
            raise self.reader.error(reason, element="Header/Verb")

    def _end_noun(self, text: str) -> None:
        if self.stack[-1] == HEADER and text.strip() != "MeterReadings":
            reason = f"noun {text.strip()!r} is not MeterReadings"
            raise self.reader.error(reason, element="Header/Noun")

    def _start_payload(self, _attributes: dict[str, str]) -> None:
        self.payloads += 1

    def _start_meter_reading(self, _attributes: dict[str, str]) -> None:
        if self.stack[-1] == METER_READINGS:
            number = 1 if self.meter_reading is None else self.meter_reading.number + 1
            self.meter_reading = _MeterReading(number, self.reader.line())

    def _end_meter_reading(self, _text: str) -> None:
        reading = self.meter_reading
        if reading is None or self.stack[-1] != METER_READINGS:
            return
        if reading.meter is None:
            reason = f"no Meter/Names/name whose NameType is {SERIAL_NAME_TYPE}"
            raise self._error(reason, f"{reading.label()}/Meter", reading.line)
        reading.complete = True

    def _end_name(self, text: str) -> None:
        reading = self.meter_reading
        if reading is None:
            return
        if self.stack[-2:] == [METER, NAMES]:
            reading.name = text.strip()
        elif self.stack[-3:] == [METER, NAMES, NAME_TYPE]:
            reading.name_type = text.strip()

    def _end_names(self, _text: str) -> None:
        reading = self.meter_reading
        if reading is None or self.stack[-1] != METER:
            return
        if reading.name_type == SERIAL_NAME_TYPE and reading.name:
            if reading.meter not in (None, reading.name):
                reason = f"two meter serial numbers {reading.meter!r} and {reading.name!r}"
                raise self.reader.error(reason, element=f"{reading.label()}/Meter/Names")
            reading.meter = reading.name
        reading.name = reading.name_type = None

    # --- IntervalBlocks: the hot path ------------------------------------------------------

    def _start_block(self, _attributes: dict[str, str]) -> None:
        if self.meter_reading is None or self.stack[-1] != METER_READING:
            return
        begin = len(self.texts.lines)
        self.block = _Span(self.meter_reading, begin, begin, None, self.reader.line())
        texts = self.texts
        self.starts[INTERVAL_READINGS] = texts.start_reading
        self.ends[INTERVAL_READINGS] = texts.end_reading
        self.ends[TIME_STAMP], self.ends[VALUE] = texts.stamps.append, texts.values.append

    def _end_block(self, _text: str) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        del self.starts[INTERVAL_READINGS], self.ends[INTERVAL_READINGS]
        self.ends[TIME_STAMP], self.ends[VALUE] = self._end_time_stamp, self._end_value
        block.end = len(self.texts.lines)
        self.spans.append(block)

    def _start_qualities(self, _attributes: dict[str, str]) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_READINGS:
            self.ends[TIME_STAMP] = self._end_time_stamp  # its timeStamp is not the reading's

    def _end_qualities(self, _text: str) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_READINGS:
            self.ends[TIME_STAMP] = self.texts.stamps.append

    def _start_quality(self, attributes: dict[str, str]) -> None:
        if len(self.stack) < 2 or self.stack[-1] != READING_QUALITIES:
            return
        code = attributes.get("ref", "")
        if self.stack[-2] == INTERVAL_READINGS and self.block is not None:
            self.texts.reading_codes.append(code)
        elif self.stack[-2] == READINGS and self.read is not None:
            self.read.codes.append(code)

    def _start_reading_type(self, attributes: dict[str, str]) -> None:
        parent, ref = self.stack[-1], attributes.get("ref")
        if parent == INTERVAL_BLOCKS and self.block is not None:
            self.block.reading_type = ref
        elif parent == READINGS and self.read is not None:
            self.read.reading_type = ref

    # --- register Readings -----------------------------------------------------------------

    def _start_read(self, _attributes: dict[str, str]) -> None:
        if self.meter_reading is not None and self.stack[-1] == METER_READING:
            self.read = _Read(self.meter_reading, self.reader.line())

    def _end_read(self, _text: str) -> None:
        if self.read is not None:
            self.reads.append(self.read)
        self.read = None

    def _end_time_stamp(self, text: str) -> None:
        if self.read is not None and self.stack[-1] == READINGS:
            self.read.stamp = text

    def _end_value(self, text: str) -> None:
        if self.read is not None and self.stack[-1] == READINGS:
            self.read.value = text

    # --- conversion, once per chunk, of every MeterReading that has closed -----------------

    def _convert(self) -> None:
        ready = next((i for i, s in enumerate(self.spans) if not s.owner.complete), len(self.spans))
        if ready:
            spans, self.spans = self.spans[:ready], self.spans[ready:]
            cut = spans[-1].end
            self._emit(spans, *self._columns(spans, cut))
            self.texts.drop(cut)
            for span in (*self.spans, *([self.block] if self.block else [])):
                span.begin, span.end = span.begin - cut, span.end - cut
        self._convert_registers()

    def _reading_error(self, spans: list[_Span], position: int, what: str, reason: str) -> NoReturn:
        """Raise for reading ``position``: named by its timeStamp, or its rank if that is bad."""
        span = spans[span_at([s.begin for s in spans], position)]
        stamp = self.texts.stamps[position].strip()
        if what == "timeStamp" or not stamp:
            where = f"IntervalReadings[{position - span.begin + 1}]"
        else:
            where = f"IntervalReadings[timeStamp={stamp}]"
        element = f"{span.owner.label()}/{where}" + (f"/{what}" if what else "")
        raise self._error(reason, element, self.texts.lines[position])

    def _columns(self, spans: list[_Span], cut: int) -> tuple[np.ndarray, ...]:
        """End instants, values (0 where missing), quality and line of readings [0, cut)."""
        texts = self.texts
        faulty = [position for position in texts.problems if position < cut]
        if faulty:
            self._reading_error(spans, min(faulty), "", texts.problems[min(faulty)])
        try:
            ends = iso_to_epoch(texts.stamps[:cut])
        except BadValue as exc:
            self._reading_error(spans, exc.index, "timeStamp", exc.reason)
        quality = self._quality(spans, cut)
        values = texts.values[:cut]
        present = np.fromiter(map(bool, values), dtype=bool, count=cut) & (
            quality != Quality.MISSING
        )
        numbers = np.zeros(cut, dtype=np.float64)
        try:
            numbers[present] = parse_decimals(list(compress(values, present.tolist())))
        except BadValue as exc:
            self._reading_error(spans, int(np.flatnonzero(present)[exc.index]), "value", exc.reason)
        quality[~present] = Quality.MISSING
        return ends, numbers, quality, np.array(texts.lines[:cut], dtype=np.int32)

    def _quality(self, spans: list[_Span], cut: int) -> np.ndarray:
        quality = np.zeros(cut, dtype=np.uint8)
        for position, codes in self.texts.codes.items():
            if position < cut:
                try:
                    quality[position] = quality_of_codes(codes)
                except ValueError as exc:
                    what = "ReadingQualities/ReadingQualityType"
                    self._reading_error(spans, position, what, str(exc))
        return quality

    def _kind(self, span: _Span) -> ReadingType:
        element = f"{span.owner.label()}/IntervalBlocks[ReadingType={span.reading_type}]"
        if span.reading_type is None:
            raise self._error("IntervalBlocks has no ReadingType", element, span.line)
        try:
            kind = reading_type(span.reading_type)
        except ValueError as exc:
            raise self._error(str(exc), f"{element}/ReadingType", span.line) from None
        if kind.accumulation != ACCUMULATION_DELTA:
            reason = "an IntervalBlocks ReadingType must be a delta (accumulation 4)"
            raise self._error(reason, f"{element}/ReadingType", span.line)
        return kind

    def _emit(
        self,
        spans: list[_Span],
        ends: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray,
        lines: np.ndarray,
    ) -> None:
        lengths = span_lengths([(s.begin, s.end) for s in spans])
        kinds = [self._kind(span) for span in spans]
        minutes = np.repeat([k.minutes for k in kinds], lengths)
        powers = np.repeat([k.power_of_ten for k in kinds], lengths)
        channels = np.repeat([int(k.channel) for k in kinds], lengths)
        meters = np.repeat(np.array([s.owner.meter for s in spans], dtype=object), lengths)
        try:
            wh = scaled_wh_each(values, powers)
        except EnergyRangeError as exc:
            self._reading_error(spans, exc.index, "value", str(exc))
        batch = interval_batch(meters, ends - minutes * 60, minutes, wh, quality, channels, lines)
        self.builder.add(batch)

    def _convert_registers(self) -> None:
        ready = next((i for i, r in enumerate(self.reads) if not r.owner.complete), len(self.reads))
        if not ready:
            return
        reads, self.reads = self.reads[:ready], self.reads[ready:]
        kept = [(read, kind) for read in reads if (kind := self._register_kind(read)) is not None]
        try:
            read_at = iso_to_epoch([read.stamp or "" for read, _ in kept])
        except BadValue as exc:
            self._register_error(kept[exc.index][0], exc.reason)
        try:
            values = parse_decimals([read.value or "" for read, _ in kept])
        except BadValue as exc:
            self._register_error(kept[exc.index][0], exc.reason)
        powers = np.array([kind.power_of_ten for _, kind in kept], dtype=np.int64)
        try:
            wh = scaled_wh_each(values, powers, MAX_REGISTER_WH)
        except EnergyRangeError as exc:
            self._register_error(kept[exc.index][0], str(exc))
        registers = RegisterBatch(
            meter=np.array([read.owner.meter for read, _ in kept], dtype=object),
            read_at=read_at,
            wh=wh,
            channel=np.array([kind.channel for _, kind in kept], dtype=np.uint8),
            line=np.array([read.line for read, _ in kept], dtype=np.int32),
        )
        self.builder.add_registers(registers, records=len(reads))

    def _register_kind(self, read: _Read) -> ReadingType | None:
        """The ReadingType of a register read; None for a missing read (nothing to store)."""
        try:
            kind = reading_type(read.reading_type or "")
            quality = quality_of_codes(read.codes) if read.codes else Quality.ACTUAL
        except ValueError as exc:
            self._register_error(read, str(exc))
        if kind.accumulation != ACCUMULATION_BULK:
            self._register_error(read, "a Readings ReadingType must be a bulk quantity (1)")
        if read.stamp is None:
            self._register_error(read, "Readings has no timeStamp")
        if quality == Quality.MISSING or not (read.value or "").strip():
            return None
        return kind

    def _register_error(self, read: _Read, reason: str) -> NoReturn:
        element = f"{read.owner.label()}/Readings[timeStamp={(read.stamp or '').strip()}]"
        raise self._error(reason, element, read.line)


def parse(
    stream: BinaryIO,
    *,
    filename: str,
    tz: ZoneInfo,
    batch_reads: int = DEFAULT_BATCH_READS,
) -> Iterator[ParsedBatch]:
    """Parse an IEC 61968-9 MeterReadings message (``tz`` is unused: stamps carry offsets)."""
    return _Parser(filename, batch_reads).parse(stream)
