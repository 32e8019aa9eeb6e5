"""IEC 61968-9 MeterReadings in an IEC 61968-100 EventMessage (samples/README.md, section 4).

Per ``MeterReading``: ``IntervalBlocks`` (one per ReadingType) of ``IntervalReadings`` stamped at
the interval END with an offset, the ``Meter`` (its ``MeterSerialNumber`` name is the meter ID)
and register ``Readings``. The Meter comes after the blocks in schema order, so readings are
converted to arrays as they arrive and only labelled with the meter when the MeterReading closes;
an error found on the way is reported then, naming the meter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from meters.interfaces._xml import (
    BadValue,
    BatchBuilder,
    XmlReader,
    interval_batch,
    iso_to_epoch,
    parse_decimals,
    qname,
    scaled_wh,
)
from meters.interfaces.base import (
    DEFAULT_BATCH_READS,
    Channel,
    ParsedBatch,
    Quality,
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
CHUNK_READINGS = 65_536  # texts held before converting them to arrays

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


class _BadReading(Exception):
    """A fault inside a MeterReading, reported once the MeterReading (and its meter) is known."""

    def __init__(self, reason: str, element: str, line: int) -> None:
        super().__init__(reason)
        self.reason, self.element, self.line = reason, element, line


@dataclass
class _Read:
    """One register read (``Readings``) as found in the file."""

    line: int
    stamp: str | None = None
    value: str | None = None
    codes: tuple[str, ...] = ()
    reading_type: str | None = None


@dataclass
class _Intervals:
    """The converted intervals of one IntervalBlocks, waiting for their meter."""

    start: np.ndarray
    minutes: int
    wh: np.ndarray
    quality: np.ndarray
    channel: Channel
    line: np.ndarray


class _Block:
    """The IntervalReadings of one IntervalBlocks: texts, converted every CHUNK_READINGS.

    While the block is open the reader appends timeStamp and value texts straight to ``stamps``
    and ``values`` (one Python call per reading, in ``end_reading``, keeps them aligned: "" for a
    reading without a value). The lists are cleared in place, never replaced.
    """

    def __init__(self, expat: Any, on_fault: Callable[[_BadReading], None]) -> None:
        self.expat = expat
        self.on_fault = on_fault
        self.reading_type: str | None = None
        self.stamps: list[str] = []
        self.values: list[str] = []
        self.lines: list[int] = []
        self.codes: list[str] = []  # ReadingQualityType refs of the reading being read
        self.add_stamp, self.add_value = self.stamps.append, self.values.append
        self.qualities: dict[int, Quality] = {}  # positions with a quality other than ACTUAL
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.converted = 0

    def start_reading(self, _attributes: dict[str, str]) -> None:
        """Start handler of IntervalReadings: note its line."""
        self.lines.append(self.expat.CurrentLineNumber)

    def end_reading(self, _text: str) -> None:
        """End handler of IntervalReadings: check it; convert once enough are held."""
        count = len(self.lines)
        try:
            if self.codes or len(self.stamps) != count or len(self.values) != count:
                self.settle()
            if count >= CHUNK_READINGS:
                self.flush()
        except _BadReading as fault:
            self.on_fault(fault)

    def settle(self) -> None:
        """Check the reading that just closed and apply its quality codes."""
        count = len(self.lines)
        where = f"IntervalReadings[{self.converted + count}]"
        if len(self.stamps) != count:
            many = "more than one" if len(self.stamps) > count else "no"
            raise _BadReading(f"IntervalReadings has {many} timeStamp", where, self.lines[-1])
        if len(self.values) > count:
            raise _BadReading("IntervalReadings has more than one value", where, self.lines[-1])
        if len(self.values) < count:
            self.values.append("")
        if self.codes:
            quality = self._quality(self.codes)
            self.codes.clear()
            if quality == Quality.MISSING:
                self.values[-1] = ""
            elif quality:
                self.qualities[count - 1] = quality

    def _quality(self, codes: list[str]) -> Quality:
        try:
            return max(quality_of(code) for code in codes)
        except ValueError as exc:
            where = f"IntervalReadings[timeStamp={self.stamps[-1].strip()}]/ReadingQualities"
            raise _BadReading(str(exc), f"{where}/ReadingQualityType", self.lines[-1]) from None

    def flush(self) -> None:
        """Convert the texts held so far to arrays (end instants, value or NaN, quality, line)."""
        count = len(self.stamps)
        if not count:
            return
        try:
            ends = iso_to_epoch(self.stamps)
        except BadValue as exc:
            element = f"IntervalReadings[{self.converted + exc.index + 1}]/timeStamp"
            raise _BadReading(exc.reason, element, self.lines[exc.index]) from None
        texts = np.array(self.values, dtype=object)
        present = texts != ""
        values = np.full(count, np.nan)
        values[present] = self._decimals(texts[present], present)
        quality = np.zeros(count, dtype=np.uint8)
        quality[list(self.qualities)] = list(self.qualities.values())
        quality[~present] = Quality.MISSING
        self.parts.append((ends, values, quality, np.array(self.lines, dtype=np.int32)))
        self.converted += count
        self.stamps.clear()
        self.values.clear()
        self.lines.clear()
        self.qualities = {}

    def _decimals(self, texts: np.ndarray, present: np.ndarray) -> np.ndarray:
        try:
            return parse_decimals(texts)
        except BadValue as exc:
            position = int(np.flatnonzero(present)[exc.index])
            element = f"IntervalReadings[timeStamp={self.stamps[position].strip()}]/value"
            raise _BadReading(exc.reason, element, self.lines[position]) from None

    def finish(self, line: int) -> _Intervals:
        """All readings as intervals of the block's ReadingType."""
        self.flush()
        if self.reading_type is None:
            raise _BadReading("IntervalBlocks has no ReadingType", "IntervalBlocks", line)
        element = f"IntervalBlocks[ReadingType={self.reading_type}]/ReadingType"
        try:
            kind = reading_type(self.reading_type)
        except ValueError as exc:
            raise _BadReading(str(exc), element, line) from None
        if kind.accumulation != ACCUMULATION_DELTA:
            raise _BadReading("an IntervalBlocks ReadingType must be a delta (4)", element, line)
        if not self.parts:
            empty = (np.int64, np.float64, np.uint8, np.int32)
            self.parts.append(tuple(np.zeros(0, dtype) for dtype in empty))
        ends, values, quality, lines = (np.concatenate(column) for column in zip(*self.parts, strict=True))
        wh = scaled_wh(np.nan_to_num(values, nan=0.0), kind.power_of_ten)
        start = ends - kind.minutes * 60
        return _Intervals(start, kind.minutes, wh, quality, kind.channel, lines)


class _MeterReading:
    """What one MeterReading holds until it closes."""

    def __init__(self, number: int, line: int) -> None:
        self.number = number
        self.line = line
        self.meter: str | None = None
        self.name: str | None = None
        self.name_type: str | None = None
        self.intervals: list[_Intervals] = []
        self.reads: list[_Read] = []
        self.fault: _BadReading | None = None

    def label(self) -> str:
        """``MeterReading[<meter>]`` (or its position when the meter is unknown)."""
        return f"MeterReading[{self.meter or f'#{self.number}'}]"


class _Parser:
    """Handlers over an XmlReader; one instance per file."""

    def __init__(self, filename: str, batch_reads: int) -> None:
        self.reader = XmlReader(filename, roots=(EVENT_MESSAGE, METER_READINGS))
        self.builder = BatchBuilder(batch_reads)
        self.stack = self.reader.stack
        self.line = self.reader.line
        self.payloads = 0
        self.meter_reading: _MeterReading | None = None
        self.block: _Block | None = None
        self.read: _Read | None = None
        self.starts, self.ends, self.expat = self.reader.starts, self.reader.ends, self.reader.expat
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
            yield from self.builder.take()
        if not self.payloads:
            raise self.reader.error(f"no MeterReadings element in namespace {NS_READINGS}")
        yield from self.builder.take(final=True)

    # --- envelope --------------------------------------------------------------------------

    def _end_verb(self, text: str) -> None:
        if self.stack[-1] == HEADER and text.strip() not in DELIVERY_VERBS:
            raise self.reader.error(
                f"verb {text.strip()!r} does not deliver reads", element="Header/Verb"
            )

    def _end_noun(self, text: str) -> None:
        if self.stack[-1] == HEADER and text.strip() != "MeterReadings":
            raise self.reader.error(
                f"noun {text.strip()!r} is not MeterReadings", element="Header/Noun"
            )

    def _start_payload(self, _attributes: dict[str, str]) -> None:
        self.payloads += 1

    # --- MeterReading ----------------------------------------------------------------------

    def _start_meter_reading(self, _attributes: dict[str, str]) -> None:
        if self.stack[-1] == METER_READINGS:
            number = 1 if self.meter_reading is None else self.meter_reading.number + 1
            self.meter_reading = _MeterReading(number, self.line())

    def _end_meter_reading(self, _text: str) -> None:
        reading, self.read = self.meter_reading, None
        if reading is None or self.stack[-1] != METER_READINGS:
            return
        if self.block is not None:  # an IntervalBlocks left open cannot happen in XML
            self._leave_block()
        if reading.fault is not None:
            fault = reading.fault
            raise self.reader.error(
                fault.reason, element=f"{reading.label()}/{fault.element}", line=fault.line
            )
        if reading.meter is None:
            raise self.reader.error(
                f"no Meter/Names/name whose NameType is {SERIAL_NAME_TYPE}",
                element=f"{reading.label()}/Meter",
                line=reading.line,
            )
        for part in reading.intervals:
            self.builder.add(
                interval_batch(
                    reading.meter,
                    part.start,
                    part.minutes,
                    part.wh,
                    part.quality,
                    part.channel,
                    part.line,
                )
            )
        self._emit_registers(reading)

    def _fail(self, fault: _BadReading) -> None:
        # Keep the first fault only; nothing more of this MeterReading is converted.
        if self.meter_reading is not None and self.meter_reading.fault is None:
            self.meter_reading.fault = fault
        if self.block is not None:
            self._leave_block()

    # --- IntervalBlocks --------------------------------------------------------------------

    def _start_block(self, _attributes: dict[str, str]) -> None:
        reading = self.meter_reading
        if reading is None or reading.fault is not None or self.stack[-1] != METER_READING:
            return
        block = self.block = _Block(self.expat, self._fail)
        # Inside the block its readings' texts go straight into its lists (the hot path).
        self.starts[INTERVAL_READINGS] = block.start_reading
        self.ends[INTERVAL_READINGS] = block.end_reading
        self.ends[TIME_STAMP], self.ends[VALUE] = block.add_stamp, block.add_value

    def _leave_block(self) -> None:
        del self.starts[INTERVAL_READINGS], self.ends[INTERVAL_READINGS]
        self.ends[TIME_STAMP], self.ends[VALUE] = self._end_time_stamp, self._end_value
        self.block = None

    def _end_block(self, _text: str) -> None:
        block = self.block
        if block is None or self.meter_reading is None:
            return
        self._leave_block()
        try:
            self.meter_reading.intervals.append(block.finish(self.reader.line()))
        except _BadReading as fault:
            self._fail(fault)

    def _end_time_stamp(self, text: str) -> None:
        if self.stack[-1] == READINGS and self.read is not None:
            self.read.stamp = text

    def _end_value(self, text: str) -> None:
        if self.stack[-1] == READINGS and self.read is not None:
            self.read.value = text

    def _start_qualities(self, _attributes: dict[str, str]) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_READINGS:
            self.ends[TIME_STAMP] = self._end_time_stamp  # its timeStamp is not the reading's

    def _end_qualities(self, _text: str) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_READINGS:
            self.ends[TIME_STAMP] = self.block.add_stamp

    def _start_quality(self, attributes: dict[str, str]) -> None:
        if self.stack[-1] != READING_QUALITIES or len(self.stack) < 2:
            return
        code = attributes.get("ref", "")
        if self.stack[-2] == INTERVAL_READINGS and self.block is not None:
            self.block.codes.append(code)
        elif self.stack[-2] == READINGS and self.read is not None:
            self.read.codes += (code,)

    def _start_reading_type(self, attributes: dict[str, str]) -> None:
        parent, ref = self.stack[-1], attributes.get("ref")
        if parent == INTERVAL_BLOCKS and self.block is not None:
            self.block.reading_type = ref
        elif parent == READINGS and self.read is not None:
            self.read.reading_type = ref

    # --- Meter and register Readings -------------------------------------------------------

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
                raise self.reader.error(
                    f"two meter serial numbers {reading.meter!r} and {reading.name!r}",
                    element=f"{reading.label()}/Meter/Names",
                )
            reading.meter = reading.name
        reading.name = reading.name_type = None

    def _start_read(self, _attributes: dict[str, str]) -> None:
        if self.meter_reading is not None and self.stack[-1] == METER_READING:
            self.read = _Read(self.line())

    def _end_read(self, _text: str) -> None:
        if self.read is not None and self.meter_reading is not None:
            self.meter_reading.reads.append(self.read)
        self.read = None

    def _emit_registers(self, reading: _MeterReading) -> None:
        assert reading.meter is not None
        rows = [row for read in reading.reads if (row := self._register(reading, read))]
        registers = RegisterBatch(
            meter=np.full(len(rows), reading.meter, dtype=object),
            read_at=np.array([r[0] for r in rows], dtype=np.int64),
            wh=np.array([r[1] for r in rows], dtype=np.int64),
            channel=np.array([r[2] for r in rows], dtype=np.uint8),
            line=np.array([r[3] for r in rows], dtype=np.int32),
        )
        self.builder.add_registers(registers, records=len(reading.reads))

    def _register(self, reading: _MeterReading, read: _Read) -> tuple[int, int, int, int] | None:
        """(read_at, Wh, channel, line) of one register read, None if it is a missing read."""
        where = f"{reading.label()}/Readings[timeStamp={(read.stamp or '').strip()}]"
        try:
            kind = reading_type(read.reading_type or "")
            if kind.accumulation != ACCUMULATION_BULK:
                raise ValueError("a Readings ReadingType must be a bulk quantity (1)")
            quality = max((quality_of(c) for c in read.codes), default=Quality.ACTUAL)
            if read.stamp is None:
                raise ValueError("Readings has no timeStamp")
            read_at = int(iso_to_epoch([read.stamp])[0])
            if quality == Quality.MISSING or not (read.value or "").strip():
                return None
            wh = int(scaled_wh(parse_decimals([read.value or ""]), kind.power_of_ten)[0])
        except (BadValue, ValueError) as exc:
            reason = exc.reason if isinstance(exc, BadValue) else str(exc)
            raise self.reader.error(reason, element=where, line=read.line) from None
        return read_at, wh, int(kind.channel), read.line


def parse(
    stream: BinaryIO,
    *,
    filename: str,
    tz: ZoneInfo,
    batch_reads: int = DEFAULT_BATCH_READS,
) -> Iterator[ParsedBatch]:
    """Parse an IEC 61968-9 MeterReadings message (``tz`` is unused: stamps carry offsets)."""
    return _Parser(filename, batch_reads).parse(stream)
