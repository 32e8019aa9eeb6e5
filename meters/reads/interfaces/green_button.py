"""Green Button / NAESB REQ.21 ESPI Atom feeds (samples/README.md, section 3).

Resources are Atom entries tied together by links: an IntervalBlock's self link is
``<MeterReading self>/IntervalBlock/n`` and a MeterReading's ``<UsagePoint self>/MeterReading/m``,
so the meter ID (the last segment of the UsagePoint self link) follows from the MeterReading
link. The MeterReading names its ReadingType by a ``related`` link or embeds it (ESPI 4.0).

Links are resolved as Atom says (RFC 4287 section 2 with xml:base, RFC 3986 section 5.2): relative
to the entry (``ReadingType/07``), absolute, with or without a leading slash; a resource is then
named by its path from the ``RetailCustomer``/``User`` segment on (or from the first ESPI resource
segment), so ``/ReadingType/07`` and ``https://host/espi/1_1/resource/ReadingType/07`` are one.
A UsagePoint's key (the meter as this file names it) is its self link so named
(``User/9b6c7063/UsagePoint/01``); meters.reads.resolve resolves it by external_id, else by its
last segment as the serial when that is unique in the file (KEYS_BY_LAST_SEGMENT).

What ESPI allows but is not delivered/received Wh (espi.xsd ReadingType: commodity other than
electricity, uom other than 72 Wh, accumulationBehaviour other than 4 deltaData, flowDirection
other than 1 forward / 19 reverse) and a UsagePoint whose ServiceCategory kind is not 0
(electricity) are listed as rejected records with the reason, never a rejected file. A reading
whose duration is not its channel's interval length is a rejected record (the rest loads); a
reading is placed by its own timePeriod, also outside its block's interval. intervalLength is
optional (minOccurs 0): without it the channel's interval is its readings' usual duration.

Entries may come in any order. Only the small resources (MeterReading and ReadingType fields)
are kept for the whole file. The readings' texts are collected as they come and converted, all
blocks at once, after each chunk of the file; a block is emitted as soon as its ReadingType is
known and kept (as arrays) only until then.
"""

from __future__ import annotations

import pyexpat
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import BinaryIO, NoReturn, cast
from urllib.parse import urljoin, urlsplit
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
    parse_integers,
    position_in_span,
    qname,
    scaled_wh_each,
    shown,
    span_at,
    span_lengths,
)
from meters.reads.interfaces.base import (
    DEFAULT_BATCH_READS,
    Channel,
    EnergyRangeError,
    ParsedBatch,
    Quality,
    ReadFileError,
    Reason,
)

# Green Button names meters by UsagePoint keys whose last segment may be the serial.
KEYS_BY_LAST_SEGMENT = True

# Sanity bounds: an intervalLength of at most a day, a block of at most a year (366 days), and
# instants within the years local times are read in (1900-2199).
MAX_INTERVAL_SECONDS = 86_400
MAX_BLOCK_SECONDS = 366 * 86_400
EARLIEST, LATEST = -2_208_988_800, 7_258_118_399

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
    "commodity",
    "flowDirection",
    "intervalLength",
    "powerOfTenMultiplier",
    "uom",
)

SERVICE_CATEGORY = qname(NS_ESPI, "ServiceCategory")
KIND = qname(NS_ESPI, "kind")
XML_BASE = qname("http://www.w3.org/XML/1998/namespace", "base")
# The base of a document with no xml:base (RFC 3986 5.1.4: the application's default): any
# hierarchical URI; only the resolved path is kept.
DOCUMENT_BASE = "https://feed.invalid/"
# Where a resource's name starts in a link's path: the customer's resources, then the ESPI
# resources not under a customer (espi.xsd / the ESPI REST paths .../resource/<Resource>/...).
CUSTOMER_ROOTS = ("RetailCustomer", "User")
RESOURCE_ROOTS = (
    "ReadingType",
    "LocalTimeParameters",
    "Subscription",
    "UsagePoint",
    "ApplicationInformation",
    "Authorization",
)

# espi.xsd UnitSymbolKind, CommodityKind and ServiceKind (NAESB REQ.21; IEC 61968-9 codes).
UOM_WH = 72
UOM_REASON = {
    73: "not_loaded_kvarh",  # VArh, reactive energy
    71: "not_loaded_kvah",  # VAh, apparent energy
    38: "not_loaded_kw",  # W, demand
    63: "not_loaded_kvar",  # VAr
    61: "not_loaded_kva",  # VA
}
NOT_ELECTRIC_UOM = {42, 119, 128, 169}  # m3, therm, US gallon, ft3 (gas, water)
ELECTRIC_COMMODITIES = {0, 1, 2}  # not applicable, electricity secondary / primary metered
ELECTRIC_SERVICE = 0  # ServiceCategory kind 0 electricity (1 gas, 2 water, ...)
_SIGNED_INTEGER = re.compile(r"-?[0-9]+")
ACCUMULATION_DELTA = 4
FLOW_CHANNEL = {1: Channel.DELIVERED, 19: Channel.RECEIVED}

# ESPI QualityOfReading codes.
QUALITY_CODES = {
    **dict.fromkeys((0, 14, 17, 19), Quality.ACTUAL),
    **dict.fromkeys((7, 8, 9, 11, 12, 15), Quality.ESTIMATED),
    **dict.fromkeys((10, 13, 16, 18), Quality.SUSPECT),
}


def resolve_link(href: str, base: str) -> str:
    """An Atom link resolved against ``base`` (RFC 3986 5.2) and named by its resource path
    (see the module docstring): ``User/9b6c7063/UsagePoint/01``, ``ReadingType/07``."""
    url = urljoin(base, href.strip())
    segments = [s for s in urlsplit(url).path.split("/") if s]
    for roots in (CUSTOMER_ROOTS, RESOURCE_ROOTS):
        at = next((i for i, segment in enumerate(segments) if segment in roots), None)
        if at is not None:
            return "/".join(segments[at:])
    return url.rstrip("/")


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

    seconds: int | None  # intervalLength (optional: then the readings' usual duration)
    power_of_ten: int
    channel: Channel
    reject: str | None = None  # a Reason name: the readings are listed, not loaded


def reading_type(fields: dict[str, str]) -> ReadingType:
    """Validate raw ReadingType fields; ValueError with the reason if they cannot be read.

    Every field of espi.xsd's ReadingType is optional (minOccurs 0) but uom: without
    accumulationBehaviour the readings are taken as interval data (4, what an IntervalBlock
    holds), without flowDirection as delivered (1), without powerOfTenMultiplier as 10^0.
    """
    codes: dict[str, int] = {}
    for name in READING_TYPE_FIELDS:
        text = fields.get(name)
        if text is None:
            continue
        if not _SIGNED_INTEGER.fullmatch(text):
            raise ValueError(f"ReadingType {name} {shown(text)} is not an integer")
        codes[name] = int(text)
    if "uom" not in codes:
        raise ValueError("ReadingType has no uom")
    seconds = codes.get("intervalLength")
    if seconds is not None and (seconds <= 0 or seconds % 60 or seconds > MAX_INTERVAL_SECONDS):
        raise ValueError(
            f"ReadingType intervalLength {seconds} is not a whole number of minutes up to a day"
        )
    power = codes.get("powerOfTenMultiplier", 0)
    if abs(power) > MAX_POWER_OF_TEN:
        raise ValueError(f"ReadingType powerOfTenMultiplier {power} is not a metric prefix")
    uom, flow = codes["uom"], codes.get("flowDirection", 1)
    reject = None
    if codes.get("commodity", 0) not in ELECTRIC_COMMODITIES or uom in NOT_ELECTRIC_UOM:
        reject = Reason.NOT_ELECTRICITY
    elif uom != UOM_WH:
        reject = UOM_REASON.get(uom, Reason.UNIT_NOT_LOADED)
    elif codes.get("accumulationBehaviour", ACCUMULATION_DELTA) != ACCUMULATION_DELTA:
        reject = Reason.NOT_INTERVAL_DATA
    elif flow not in FLOW_CHANNEL:
        reject = Reason.FLOW_NOT_LOADED
    return ReadingType(seconds, power, FLOW_CHANNEL.get(flow, Channel.DELIVERED), reject)


def quality_of_codes(codes: list[str]) -> Quality:
    """The winning quality of several ESPI quality codes; ValueError naming an unknown one."""
    qualities = []
    for text in codes:
        code = text.strip()
        quality = QUALITY_CODES.get(int(code)) if code.isascii() and code.isdigit() else None
        if quality is None:
            raise ValueError(f"unknown ReadingQuality quality {shown(code)}")
        qualities.append(quality)
    return max(qualities)


class _Texts:
    """Texts of the IntervalReadings read since the last conversion, one entry per reading.

    The reader appends timePeriod start and duration and value texts straight to the lists (the
    hot path); the end of each IntervalReading keeps the columns aligned (None where a reading
    has no timePeriod). Lists are only changed in place: the reader holds their ``append``.
    """

    def __init__(self, expat: pyexpat.XMLParserType) -> None:
        self.starts: list[str | None] = []
        self.durations: list[str | None] = []
        self.values: list[str] = []
        self.lines: list[int] = []
        self.codes: list[str] = []  # quality codes of the reading being read
        self.qualities: dict[int, list[str]] = {}  # position -> quality codes
        self.problems: dict[int, str] = {}  # position -> what is wrong with its structure
        self.start_reading, self.end_reading = self._reading_handlers(expat)

    def _reading_handlers(self, expat: pyexpat.XMLParserType) -> tuple[StartHandler, EndHandler]:
        """Start and end handlers of IntervalReading: note the line; check the alignment."""
        starts, durations, values, lines = self.starts, self.durations, self.values, self.lines
        codes, settle = self.codes, self.settle

        def start(_attributes: dict[str, str]) -> None:
            lines.append(expat.CurrentLineNumber)

        def end(_text: str) -> None:
            count = len(lines)
            if codes or len(starts) != count or len(durations) != count or len(values) != count:
                settle()

        return start, end

    def settle(self) -> None:
        """Align the columns after the reading that just closed; note its codes and faults."""
        count = len(self.lines)
        position = count - 1
        for name, texts in (("start", self.starts), ("duration", self.durations)):
            if len(texts) > count:
                self.problems.setdefault(position, f"IntervalReading has two timePeriod/{name}")
                del texts[count:]
            elif len(texts) < count:
                texts.append(None)  # no timePeriod: the next intervalLength step (ESPI)
        if len(self.values) != count:
            many = "more than one" if len(self.values) > count else "no"
            self.problems.setdefault(position, f"IntervalReading has {many} value")
            del self.values[count:]
            self.values.extend([""] * (count - len(self.values)))
        if self.codes:
            self.qualities[position] = self.codes[:]
            self.codes.clear()

    def drop(self, count: int) -> None:
        """Forget the first ``count`` readings (converted)."""
        for texts in (self.starts, self.durations, self.values, self.lines):
            del texts[:count]
        self.qualities = {p - count: c for p, c in self.qualities.items() if p >= count}
        self.problems = {p - count: r for p, r in self.problems.items() if p >= count}


@dataclass
class _Entry:
    """An Atom entry: its links and the ESPI resource(s) in its content."""

    number: int
    line: int
    links: list[tuple[str, str]] = field(default_factory=list)
    kind: str | None = None
    reading_type: dict[str, str] | None = None  # a ReadingType entry's, or one embedded
    spans: list[_Span] = field(default_factory=list)
    complete: bool = False
    service_kind: str | None = None  # a UsagePoint's ServiceCategory/kind

    def link(self, rel: str) -> str | None:
        """The first link with relation ``rel``."""
        return next((href for r, href in self.links if r == rel), None)

    def label(self) -> str:
        """A readable name for error messages."""
        href = self.link("self")
        return resource_label(href) if href else f"entry[#{self.number}]"


@dataclass
class _Span:
    """One IntervalBlock: its readings at positions [begin, end) of the columns."""

    entry: _Entry
    begin: int
    end: int
    line: int
    interval: dict[str, str] = field(default_factory=dict)
    label: str = ""
    meter_reading: str = ""
    meter: str = ""


Columns = tuple[np.ndarray, ...]  # starts, no_start, durations, no_duration, values, quality, line


class _Parser:
    """Handlers over an XmlReader; one instance per file."""

    def __init__(self, filename: str, batch_reads: int) -> None:
        self.reader = XmlReader(filename, roots=(FEED, ENTRY))
        self.builder = BatchBuilder(batch_reads)
        self.stack, self.starts, self.ends = self.reader.stack, self.reader.starts, self.reader.ends
        self.expat = self.reader.expat
        self.texts = _Texts(self.expat)
        self.spans: list[_Span] = []  # IntervalBlocks read and not converted yet
        self.entries = 0
        self.entry: _Entry | None = None
        self.block: _Span | None = None
        # The small resources, kept for the whole file: ReadingType fields (and where they
        # are) by link, and each MeterReading's ReadingType link.
        self.reading_types: dict[str, tuple[dict[str, str], str, int]] = {}
        self.meter_readings: dict[str, str | None] = {}
        self.validated: dict[str, ReadingType] = {}  # MeterReading link -> its ReadingType
        self.pending: dict[str, list[tuple[_Span, Columns]]] = {}  # by MeterReading link
        self.feed_base = DOCUMENT_BASE
        self.entry_base = DOCUMENT_BASE
        self.service_kinds: dict[str, str] = {}  # UsagePoint link -> ServiceCategory kind
        self._register_handlers()

    def _register_handlers(self) -> None:
        on_start, on_end = self.reader.on_start, self.reader.on_end
        on_start(FEED, self._start_feed)
        on_end(KIND, self._end_kind)
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
            self._convert()
            yield from self.builder.take()
        self._convert()
        self._check_nothing_pending()
        yield from self.builder.take(final=True)

    def _error(self, reason: str, element: str, line: int | None) -> ReadFileError:
        return ReadFileError(reason, file=self.reader.filename, element=element, line=line)

    # --- entries ---------------------------------------------------------------------------

    def _start_feed(self, attributes: dict[str, str]) -> None:
        if XML_BASE in attributes:  # RFC 4287 2 / XML Base: the feed's links resolve against it
            self.feed_base = urljoin(DOCUMENT_BASE, attributes[XML_BASE].strip())

    def _start_entry(self, attributes: dict[str, str]) -> None:
        self.entries += 1
        self.entry = _Entry(self.entries, self.reader.line())
        base = attributes.get(XML_BASE)
        self.entry_base = urljoin(self.feed_base, base.strip()) if base else self.feed_base

    def _start_link(self, attributes: dict[str, str]) -> None:
        if self.entry is not None and self.stack and self.stack[-1] == ENTRY:
            href = resolve_link(attributes.get("href", ""), self.entry_base)
            self.entry.links.append((attributes.get("rel", "alternate"), href))

    def _end_kind(self, text: str) -> None:
        if self.entry is not None and self.stack and self.stack[-1] == SERVICE_CATEGORY:
            self.entry.service_kind = text.strip()

    def _start_resource(self, kind: str, _attributes: dict[str, str]) -> None:
        if self.entry is not None and self.stack[-1] == CONTENT:
            self.entry.kind = kind

    def _end_entry(self, _text: str) -> None:
        entry, self.entry = self.entry, None
        if entry is None:
            return
        if entry.kind == "UsagePoint" and entry.service_kind is not None:
            self.service_kinds[self._self_link(entry)] = entry.service_kind
        if entry.kind == "ReadingType":
            self._add_reading_type(entry)
        elif entry.kind == "MeterReading":
            self._add_meter_reading(entry)
        elif entry.spans:
            self._own_blocks(entry)
        entry.complete = True

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
        if entry.reading_type is not None:  # embedded: filed under its MeterReading's link
            where = f"{resource_label(href)}/ReadingType"
            self.reading_types[href] = (entry.reading_type, where, entry.line)
            self.meter_readings[href] = href
        else:
            related = (
                h for rel, h in entry.links if rel == "related" and "ReadingType" in h.split("/")
            )
            self.meter_readings[href] = next(related, None)
        if href in self.pending:
            self._flush_pending(href)

    def _reading_type_for(self, meter_reading: str) -> ReadingType | None:
        """The validated ReadingType of a MeterReading, None while it is not known."""
        if meter_reading in self.validated:
            return self.validated[meter_reading]
        ref = self.meter_readings.get(meter_reading)
        if ref is None or ref not in self.reading_types:
            return None
        fields, where, line = self.reading_types[ref]
        try:
            kind = reading_type(fields)
        except ValueError as exc:
            raise self._error(str(exc), where, line) from None
        self.validated[meter_reading] = kind
        return kind

    # --- IntervalBlocks: the hot path ------------------------------------------------------

    def _start_block(self, _attributes: dict[str, str]) -> None:
        entry = self.entry
        if entry is None or self.stack[-1] != CONTENT:
            return
        entry.kind = "IntervalBlock"
        begin = len(self.texts.lines)
        self.block = _Span(entry, begin, begin, self.reader.line())
        entry.spans.append(self.block)
        texts, starts, ends = self.texts, self.starts, self.ends
        starts[INTERVAL_READING], ends[INTERVAL_READING] = texts.start_reading, texts.end_reading
        ends[START], ends[DURATION] = texts.starts.append, texts.durations.append
        ends[VALUE], ends[QUALITY] = texts.values.append, texts.codes.append
        starts[INTERVAL], ends[INTERVAL] = self._start_interval, self._end_interval

    def _end_block(self, _text: str) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        for name in (INTERVAL_READING, INTERVAL):
            del self.starts[name]
        for name in (INTERVAL_READING, START, DURATION, VALUE, QUALITY, INTERVAL):
            del self.ends[name]
        block.end = len(self.texts.lines)
        self.spans.append(block)

    def _start_interval(self, _attributes: dict[str, str]) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_BLOCK:
            self.ends[START] = partial(self.block.interval.__setitem__, "start")
            self.ends[DURATION] = partial(self.block.interval.__setitem__, "duration")

    def _end_interval(self, _text: str) -> None:
        if self.block is not None and self.stack[-1] == INTERVAL_BLOCK:
            self.ends[START] = self.texts.starts.append
            self.ends[DURATION] = self.texts.durations.append

    def _own_blocks(self, entry: _Entry) -> None:
        """Tie the blocks of an entry to their MeterReading link and meter ID."""
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
        for number, span in enumerate(entry.spans, start=1):
            span.label = entry.label() + (f"#{number}" if len(entry.spans) > 1 else "")
            # The UsagePoint's key: its link from RetailCustomer/ or User/ on (resolve_link).
            span.meter_reading, span.meter = meter_reading, usage_point

    # --- conversion, once per chunk, of every block whose entry has closed -----------------

    def _convert(self) -> None:
        ready = next((i for i, s in enumerate(self.spans) if not s.entry.complete), len(self.spans))
        if not ready:
            return
        spans, self.spans = self.spans[:ready], self.spans[ready:]
        cut = spans[-1].end
        columns = self._columns(spans, cut)
        known = [self._reading_type_for(span.meter_reading) is not None for span in spans]
        if all(known):
            self._emit(spans, columns)
        else:
            self._split(spans, known, columns)
        self.texts.drop(cut)
        for span in (*self.spans, *([self.block] if self.block else [])):
            span.begin, span.end = span.begin - cut, span.end - cut

    def _split(self, spans: list[_Span], known: list[bool], columns: Columns) -> None:
        """Emit the blocks whose ReadingType is known; keep the others' arrays until it is."""
        ready = [s for s, k in zip(spans, known, strict=True) if k]
        if ready:
            keep = np.concatenate([np.arange(s.begin, s.end) for s in ready])
            self._emit(_rebased(ready), tuple(column[keep] for column in columns))
        for span, is_known in zip(spans, known, strict=True):
            if not is_known:
                part = tuple(column[span.begin : span.end].copy() for column in columns)
                self.pending.setdefault(span.meter_reading, []).append((span, part))

    def _flush_pending(self, meter_reading: str) -> None:
        if self._reading_type_for(meter_reading) is None:
            return
        waiting = self.pending.pop(meter_reading)
        spans = _rebased([span for span, _ in waiting])
        columns = tuple(
            np.concatenate(parts) for parts in zip(*(c for _, c in waiting), strict=True)
        )
        self._emit(spans, columns)

    def _check_nothing_pending(self) -> None:
        for meter_reading, waiting in self.pending.items():
            span = waiting[0][0]
            ref = self.meter_readings.get(meter_reading)
            if meter_reading not in self.meter_readings:
                reason = f"its MeterReading {meter_reading} is not in the feed"
            elif ref is None:
                reason = "its MeterReading names no ReadingType (related link or embedded)"
            else:
                reason = f"the ReadingType {ref} of its MeterReading is not in the feed"
            raise self._error(reason, span.label, span.line)

    def _reading_error(
        self,
        spans: list[_Span],
        starts: Sequence[object],
        lines: Sequence[int] | np.ndarray,
        index: int,
        reason: str,
        what: str = "",
    ) -> NoReturn:
        """Raise for reading ``index`` of ``spans``, named by its start (or its rank)."""
        span = spans[span_at([s.begin for s in spans], index)]
        start = starts[index]
        start = start.strip() if isinstance(start, str) else start
        name = f"start={start}" if start or start == 0 else f"{index - span.begin + 1}"
        raise self._error(reason, f"{span.label}/IntervalReading[{name}]{what}", int(lines[index]))

    def _columns(self, spans: list[_Span], cut: int) -> Columns:
        """The arrays of readings [0, cut): see ``Columns``."""
        texts = self.texts
        starts, lines = texts.starts, texts.lines
        faulty = [position for position in texts.problems if position < cut]
        if faulty:
            self._reading_error(spans, starts, lines, min(faulty), texts.problems[min(faulty)])
        quality = np.zeros(cut, dtype=np.uint8)
        for position, codes in texts.qualities.items():
            if position < cut:
                try:
                    quality[position] = quality_of_codes(codes)
                except ValueError as exc:
                    what = "/ReadingQuality/quality"
                    self._reading_error(spans, starts, lines, position, str(exc), what)
        parsed: list[np.ndarray] = []
        named = (("timePeriod/start", starts), ("timePeriod/duration", texts.durations))
        for name, column in (*named, ("value", texts.values)):
            try:
                parsed.extend(integers_with_gaps(column[:cut]))
            except BadValue as exc:
                self._reading_error(spans, starts, lines, exc.index, exc.reason, f"/{name}")
        start, no_start, duration, no_duration, values, _ = parsed
        return start, no_start, duration, no_duration, values, quality, np.array(lines[:cut])

    # --- from readings to intervals --------------------------------------------------------

    def _interval(self, span: _Span, step: int) -> tuple[int, int]:
        """The block's interval start and its number of intervalLength steps."""
        try:
            first, duration = (int(span.interval[name]) for name in ("start", "duration"))
        except (KeyError, ValueError):
            reason = f"IntervalBlock interval needs integer start and duration, has {span.interval}"
            raise self._error(reason, f"{span.label}/interval", span.line) from None
        if duration <= 0 or duration % step:
            reason = f"interval duration {duration} is not a positive multiple of {step} s"
            raise self._error(reason, f"{span.label}/interval/duration", span.line)
        if duration > MAX_BLOCK_SECONDS:
            # Every step without a reading becomes a MISSING interval: a few bytes claiming
            # centuries would otherwise fill memory.
            reason = f"interval duration {duration} s is longer than {MAX_BLOCK_SECONDS} s (a year)"
            raise self._error(reason, f"{span.label}/interval/duration", span.line)
        if not EARLIEST <= first <= LATEST:
            reason = f"interval start {first} is not between {EARLIEST} and {LATEST} (epoch s)"
            raise self._error(reason, f"{span.label}/interval/start", span.line)
        return first, duration // step

    def _emit(self, spans: list[_Span], columns: Columns) -> None:
        """Intervals of blocks laid end to end in ``columns``: a full grid per block (a step
        without a reading is a MISSING interval), and each reading the grid cannot hold (outside
        its block's interval, off its grid, a second one at a start, or rejected with a reason)
        as an interval of its own at its own timePeriod start."""
        starts, no_start, durations, no_duration, values, quality, lines = columns
        lengths = span_lengths([(span.begin, span.end) for span in spans])
        kinds = [self._with_step(span, spans, lengths, durations, no_duration) for span in spans]
        rejected = [self._rejection(span, kind) for span, kind in zip(spans, kinds, strict=True)]
        firsts, steps, sizes = self._grids(spans, kinds, rejected)
        if no_start.any():
            starts = _implicit_starts(spans, starts, no_start, firsts, steps)
        step = np.repeat(steps, lengths)
        reason = np.repeat(np.array(rejected, np.uint8), lengths)
        reason[(reason == 0) & ~no_duration & (durations != step)] = Reason.CODE[Reason.DURATION]
        offsets = starts - np.repeat(firsts, lengths)
        at = np.repeat(np.cumsum(sizes) - sizes, lengths) + offsets // step
        inside = np.flatnonzero(
            (reason == 0)
            & (offsets >= 0)
            & (offsets < step * np.repeat(sizes, lengths))
            & (offsets % step == 0)
        )
        _, first = np.unique(at[inside], return_index=True)  # a second reading at a start: own
        in_grid = np.zeros(len(starts), bool)
        in_grid[inside[first]] = True
        extra = ~in_grid
        far = extra & ((starts < EARLIEST) | (starts > LATEST))
        if far.any():
            index = int(np.flatnonzero(far)[0])
            reason_text = (
                f"reading outside its IntervalBlock, at a start out of range ({starts[index]})"
            )
            self._reading_error(spans, starts.tolist(), lines, index, reason_text)
        powers = np.repeat([kind.power_of_ten for kind in kinds], lengths)
        try:
            wh = scaled_wh_each(values, powers)
        except EnergyRangeError as exc:
            self._reading_error(spans, starts.tolist(), lines, exc.index, str(exc), "/value")
        meters = np.array([span.meter for span in spans], dtype=object)
        channels = np.array([int(kind.channel) for kind in kinds], np.uint8)
        total = int(sizes.sum())
        where = at[in_grid]
        grid = interval_batch(
            np.repeat(meters, sizes),
            np.repeat(firsts, sizes) + position_in_span(sizes) * np.repeat(steps, sizes),
            np.repeat(steps // 60, sizes),
            _scatter(where, wh[in_grid], np.zeros(total, np.int64)),
            _scatter(where, quality[in_grid], np.full(total, Quality.MISSING, np.uint8)),
            np.repeat(channels, sizes),
            _scatter(where, lines[in_grid], np.repeat([span.line for span in spans], sizes)),
        )
        self.builder.add(grid, _scatter(where, True, np.zeros(total, bool)))
        if extra.any():
            own = interval_batch(
                np.repeat(meters, lengths)[extra],
                starts[extra],
                (step // 60)[extra],
                wh[extra],
                quality[extra],
                np.repeat(channels, lengths)[extra],
                lines[extra],
            )
            own.reason = reason[extra]
            self.builder.add(own)

    def _with_step(
        self,
        span: _Span,
        spans: list[_Span],
        lengths: np.ndarray,
        durations: np.ndarray,
        no_duration: np.ndarray,
    ) -> ReadingType:
        """The span's ReadingType with its interval length: intervalLength, or (optional in
        espi.xsd) the usual duration of its MeterReading's readings, fixed at first sight."""
        kind = self.validated[span.meter_reading]
        if kind.seconds is not None:
            return kind
        mine = np.repeat([s.meter_reading == span.meter_reading for s in spans], lengths)
        seen = durations[mine & ~no_duration]
        seen = seen[(seen > 0) & (seen % 60 == 0) & (seen <= MAX_INTERVAL_SECONDS)]
        if not len(seen):
            if kind.reject is None:
                reason = "ReadingType has no intervalLength and its readings no usable duration"
                raise self._error(reason, span.label, span.line)
            seconds = 3600  # listed as rejected records only: any length places them
        else:
            values, counts = np.unique(seen, return_counts=True)
            seconds = int(values[np.argmax(counts)])
        kind = replace(kind, seconds=seconds)
        self.validated[span.meter_reading] = kind
        return kind

    def _rejection(self, span: _Span, kind: ReadingType) -> int:
        """The Reason code of every reading of the span (0: loaded)."""
        service = self.service_kinds.get(span.meter)
        if service is not None and service != str(ELECTRIC_SERVICE):
            return Reason.CODE[Reason.NOT_ELECTRICITY]  # UsagePoint ServiceCategory gas, water
        return Reason.CODE[kind.reject] if kind.reject else 0

    def _grids(
        self, spans: list[_Span], kinds: list[ReadingType], rejected: list[int]
    ) -> tuple[np.ndarray, ...]:
        """Per block: its first interval start, interval length and number of intervals (no
        grid for a block whose readings are all rejected)."""
        grids = []
        for span, kind, reason in zip(spans, kinds, rejected, strict=True):
            seconds = int(kind.seconds or 3600)
            first, size = self._interval(span, seconds) if not reason else (0, 0)
            grids.append((first, size, seconds))
        firsts, sizes, steps = (
            np.array(column, dtype=np.int64) for column in zip(*grids, strict=True)
        )
        return firsts, steps, sizes


def _scatter(at: np.ndarray, values: np.ndarray | bool, into: np.ndarray) -> np.ndarray:
    into[at] = values
    return into


def integers_with_gaps(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Integers of texts, and a mask of the ones left out (None, converted as 0)."""
    absent = np.zeros(len(texts), dtype=bool)
    if None in texts:
        absent[[i for i, text in enumerate(texts) if text is None]] = True
        return parse_integers(["0" if t is None else t for t in texts]), absent
    return parse_integers(cast(Sequence[str], texts)), absent


def _rebased(spans: list[_Span]) -> list[_Span]:
    """Copies of spans laid end to end from position 0 (their readings taken out and joined)."""
    out, begin = [], 0
    for span in spans:
        end = begin + span.end - span.begin
        out.append(replace(span, begin=begin, end=end))
        begin = end
    return out


def _implicit_starts(
    spans: list[_Span],
    starts: np.ndarray,
    absent: np.ndarray,
    firsts: np.ndarray,
    steps: np.ndarray,
) -> np.ndarray:
    """ESPI: a reading without timePeriod is the intervalLength step after the one before it."""
    starts = starts.copy()
    begins = [span.begin for span in spans]
    for index in np.flatnonzero(absent).tolist():
        block = span_at(begins, index)
        starts[index] = (
            firsts[block] if index == begins[block] else starts[index - 1] + steps[block]
        )
    return starts


def parse(
    stream: BinaryIO,
    *,
    filename: str,
    tz: ZoneInfo,
    batch_reads: int = DEFAULT_BATCH_READS,
) -> Iterator[ParsedBatch]:
    """Parse a Green Button (ESPI) Atom feed (``tz`` is unused: times are UTC epoch seconds)."""
    return _Parser(filename, batch_reads).parse(stream)
