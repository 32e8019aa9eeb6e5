"""MultiSpeak V5.0 (and V4.1) ``intervalData`` documents (samples/README.md, section 5).

The document declares its two delimiters, then interval profiles (length and ordered channels),
then blocks: one meter, the start of the first interval and one ``ch`` per profile channel whose
text is the interval values joined by the interval delimiter, each optionally followed by the
status delimiter and a status. A ``ch`` is split once; the values of all blocks read are
converted with numpy in one go after each chunk of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from typing import BinaryIO, NoReturn
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.interfaces._xml import (
    BadValue,
    BatchBuilder,
    XmlReader,
    interval_batch,
    iso_to_epoch,
    parse_decimals,
    position_in_span,
    qname,
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
    kwh_to_wh,
)

NAMESPACES = ("http://www.multispeak.org/V5.0", "http://www.multispeak.org/Version_4.1_Release")
INTERVAL_BLOCKS = frozenset(qname(namespace, "intervalBlock") for namespace in NAMESPACES)

STATUSES = {"Measured": Quality.ACTUAL, "Estimated": Quality.ESTIMATED, "Failed": Quality.SUSPECT}
LENGTH_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}  # intervalLength/@units, in seconds
UOM_WH = {"kwh": 1000.0, "wh": 1.0}  # channel uom -> Wh per unit
# channel readingTypeCode (case-insensitive) -> direction: a project convention, since only
# "kWh" (delivered) is attested; any other code is rejected.
READING_TYPE_CODES = {
    **dict.fromkeys(
        ("kwh", "wh", "kwhdel", "whdel", "kwhdelivered", "whdelivered"), Channel.DELIVERED
    ),
    **dict.fromkeys(("kwhrec", "whrec", "kwhreceived", "whreceived"), Channel.RECEIVED),
}
CHANNEL_FIELDS = ("readingTypeCode", "uom", "multiplier")


@dataclass(frozen=True)
class ProfileChannel:
    """One channel of an interval profile."""

    channel: Channel
    wh_per_unit: float  # uom x multiplier


@dataclass
class _Profile:
    """An intervalProfile as read."""

    profile_id: str
    line: int
    units: str = "Minutes"
    length: str | None = None
    channels: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """A validated intervalProfile."""

    minutes: int
    channels: tuple[ProfileChannel, ...]


@dataclass
class _Block:
    """An intervalBlock as read."""

    number: int
    line: int
    profile_id: str | None = None
    meter_name: str | None = None
    meter_text: str | None = None
    start: str | None = None
    chs: list[tuple[str, int]] = field(default_factory=list)  # (text, line)

    def label(self) -> str:
        """``intervalBlock[<meter>]`` (or its position when it names no meter)."""
        return f"intervalBlock[{self.meter_name or self.meter_text or f'#{self.number}'}]"


def profile_channel(fields: dict[str, str]) -> ProfileChannel:
    """Validate one channel's readingTypeCode, uom and multiplier (ValueError if unusable)."""
    code = fields.get("readingTypeCode", "kWh")
    uom = fields.get("uom", "kWh")
    if code.lower() not in READING_TYPE_CODES:
        raise ValueError(f"channel readingTypeCode {shown(code)} is not kWh/Wh delivered/received")
    if uom.lower() not in UOM_WH:
        raise ValueError(f"channel uom {shown(uom)} is neither kWh nor Wh")
    text = fields.get("multiplier", "1")
    try:
        multiplier = float(parse_decimals([text])[0])
    except BadValue:
        multiplier = 0.0
    if multiplier <= 0:
        raise ValueError(f"channel multiplier {shown(text)} is not a positive number")
    return ProfileChannel(READING_TYPE_CODES[code.lower()], UOM_WH[uom.lower()] * multiplier)


def profile_minutes(length: str | None, units: str) -> int:
    """Interval length in whole minutes (ValueError if missing or not whole minutes)."""
    if length is None:
        raise ValueError("intervalProfile has no intervalLength")
    scale = LENGTH_UNITS.get(units.strip().lower())
    if scale is None:
        raise ValueError(f"intervalLength units {shown(units)} is not Seconds, Minutes or Hours")
    text = length.strip()
    if not (text.isascii() and text.isdigit()) or int(text) * scale % 60 or not int(text):
        raise ValueError(f"intervalLength {shown(text)} {units} is not a whole number of minutes")
    return int(text) * scale // 60


def split_ch(
    text: str, interval_delimiter: str, status_delimiter: str
) -> tuple[list[str], dict[int, str]]:
    """Value texts of a ``ch`` ("" = missing slot) and the statuses of the slots that have one."""
    body = text.strip() if interval_delimiter.strip() else text
    slots = body.split(interval_delimiter)
    if status_delimiter not in body:
        return slots, {}
    values, statuses = [], {}
    for index, slot in enumerate(slots):
        value, separator, status = slot.partition(status_delimiter)
        values.append(value)
        if separator:  # "value:" has an empty status, which is not a known one
            statuses[index] = status
    return values, statuses


@dataclass
class _Slots:
    """The slots of one ``ch``: positions [begin, end) of the collected values."""

    block: _Block
    number: int  # of the ch in its block, from 1
    begin: int
    end: int
    line: int
    meter: str
    minutes: int
    channel: ProfileChannel


class _Parser:
    """Handlers over an XmlReader; one instance per file."""

    def __init__(self, filename: str, batch_reads: int) -> None:
        self.reader = XmlReader(filename, roots=[qname(ns, "intervalData") for ns in NAMESPACES])
        self.builder = BatchBuilder(batch_reads)
        self.stack = self.reader.stack
        self.delimiters: dict[str, str] = {}
        self.profiles: dict[str, Profile] = {}
        self.profile: _Profile | None = None
        self.channel: dict[str, str] | None = None
        self.block: _Block | None = None
        self.blocks = 0
        self.ch_line = 0
        self.values: list[str] = []  # slot values of the ch read since the last conversion
        self.statuses: dict[int, str] = {}  # position in values -> status
        self.slots: list[_Slots] = []
        for namespace in NAMESPACES:
            self._register_handlers(partial(qname, namespace))

    def _register_handlers(self, name: partial[str]) -> None:
        on_start, on_end = self.reader.on_start, self.reader.on_end
        for delimiter in ("statusDelimiter", "intervalDelimiter"):
            on_end(name(delimiter), partial(self._end_delimiter, delimiter, name("intervalData")))
        on_start(name("intervalProfile"), self._start_profile)
        on_end(name("intervalProfile"), self._end_profile)
        on_start(name("intervalLength"), self._start_length)
        on_end(name("intervalLength"), self._end_length)
        on_start(name("channel"), self._start_channel)
        on_end(name("channel"), self._end_channel)
        for child in CHANNEL_FIELDS:
            on_end(name(child), partial(self._end_channel_field, child))
        on_start(name("intervalBlock"), self._start_block)
        on_end(name("intervalBlock"), self._end_block)
        on_end(name("profileID"), partial(self._end_block_field, "profile_id"))
        on_end(name("intervalStart"), partial(self._end_block_field, "start"))
        on_start(name("meterID"), self._start_meter)
        on_end(name("meterID"), partial(self._end_block_field, "meter_text"))
        on_start(name("ch"), self._start_ch)
        on_end(name("ch"), self._end_ch)

    def parse(self, stream: BinaryIO) -> Iterator[ParsedBatch]:
        """Batches of the whole file."""
        for _ in self.reader.run(stream):
            self._convert()
            yield from self.builder.take()
        self._convert()
        yield from self.builder.take(final=True)

    def _error(self, reason: str, element: str, line: int | None = None) -> ReadFileError:
        return self.reader.error(reason, element=element, line=line)

    def _end_delimiter(self, delimiter: str, parent: str, text: str) -> None:
        if self.stack[-1] == parent:
            # Delimiters are data, not layout: keep a space or tab, drop pretty-printing.
            value = text.strip() or text
            if not value:
                raise self._error(f"{delimiter} is empty", f"intervalData/{delimiter}")
            self.delimiters[delimiter] = value

    # --- profiles --------------------------------------------------------------------------

    def _start_profile(self, attributes: dict[str, str]) -> None:
        self.profile = _Profile(attributes.get("profileID", "").strip(), self.reader.line())

    def _start_length(self, attributes: dict[str, str]) -> None:
        if self.profile is not None:
            self.profile.units = attributes.get("units", "Minutes")

    def _end_length(self, text: str) -> None:
        if self.profile is not None:
            self.profile.length = text

    def _start_channel(self, _attributes: dict[str, str]) -> None:
        if self.profile is not None:
            self.channel = {}

    def _end_channel_field(self, name: str, text: str) -> None:
        if self.channel is not None:
            self.channel[name] = text.strip()

    def _end_channel(self, _text: str) -> None:
        if self.profile is not None and self.channel is not None:
            self.profile.channels.append(self.channel)
        self.channel = None

    def _end_profile(self, _text: str) -> None:
        read, self.profile = self.profile, None
        if read is None:
            return
        element = f"intervalProfile[{read.profile_id}]"
        if not read.profile_id or read.profile_id in self.profiles:
            reason = (
                "duplicate profileID" if read.profile_id else "intervalProfile has no profileID"
            )
            raise self._error(reason, element, read.line)
        try:
            minutes = profile_minutes(read.length, read.units)
            channels = tuple(profile_channel(fields) for fields in read.channels)
        except ValueError as exc:
            raise self._error(str(exc), element, read.line) from None
        if not channels:
            raise self._error("intervalProfile has no channels", element, read.line)
        self.profiles[read.profile_id] = Profile(minutes, channels)

    # --- blocks ----------------------------------------------------------------------------

    def _start_block(self, _attributes: dict[str, str]) -> None:
        self.blocks += 1
        self.block = _Block(self.blocks, self.reader.line())

    def _end_block_field(self, name: str, text: str) -> None:
        if self.block is not None and self.stack[-1] in INTERVAL_BLOCKS:
            setattr(self.block, name, text.strip())

    def _start_meter(self, attributes: dict[str, str]) -> None:
        if self.block is not None and "meterName" in attributes:
            self.block.meter_name = attributes["meterName"].strip()

    def _start_ch(self, _attributes: dict[str, str]) -> None:
        self.ch_line = self.reader.line()

    def _end_ch(self, text: str) -> None:
        if self.block is not None:
            self.block.chs.append((text, self.ch_line))

    def _end_block(self, _text: str) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        meter, profile = self._meter(block), self._profile(block)
        if block.start is None:
            reason = "required element intervalStart is missing"
            raise self._error(reason, f"{block.label()}/intervalStart", block.line)
        if len(block.chs) != len(profile.channels):
            reason = f"{len(block.chs)} ch for the {len(profile.channels)} channels of its profile"
            raise self._error(reason, f"{block.label()}/dB/chs", block.line)
        interval, status = self._delimiter("intervalDelimiter"), self._delimiter("statusDelimiter")
        for number, ((text, line), channel) in enumerate(
            zip(block.chs, profile.channels, strict=True), start=1
        ):
            values, statuses = split_ch(text, interval, status)
            begin = len(self.values)
            self.values += values
            if statuses:
                self.statuses.update({begin + i: s for i, s in statuses.items()})
            end = len(self.values)
            self.slots.append(
                _Slots(block, number, begin, end, line, meter, profile.minutes, channel)
            )

    # --- conversion, once per chunk, of the blocks read --------------------------------------

    def _convert(self) -> None:
        if not self.slots:
            return
        slots, values = self.slots, self.values
        firsts = self._firsts(slots)
        present = np.fromiter(map(bool, values), dtype=bool, count=len(values))
        numbers = np.zeros(len(values), dtype=np.float64)
        try:
            kept = values if present.all() else list(compress(values, present.tolist()))
            numbers[present] = parse_decimals(kept)
        except BadValue as exc:
            self._slot_error(int(np.flatnonzero(present)[exc.index]), exc.reason)
        quality = np.zeros(len(values), dtype=np.uint8)
        for position, status in self.statuses.items():
            if status not in STATUSES:
                self._slot_error(position, f"unknown status {shown(status)}")
            quality[position] = STATUSES[status]
        quality[~present] = Quality.MISSING
        lengths = span_lengths([(s.begin, s.end) for s in slots])
        steps = np.repeat([s.minutes * 60 for s in slots], lengths)
        scale = np.repeat([s.channel.wh_per_unit for s in slots], lengths)
        try:
            wh = kwh_to_wh(numbers * scale, 1.0)
        except EnergyRangeError as exc:
            self._slot_error(exc.index, str(exc))
        batch = interval_batch(
            np.repeat(np.array([s.meter for s in slots], dtype=object), lengths),
            np.repeat(firsts, lengths) + position_in_span(lengths) * steps,
            steps // 60,
            wh,
            quality,
            np.repeat([int(s.channel.channel) for s in slots], lengths),
            np.repeat([s.line for s in slots], lengths),
        )
        self.builder.add(batch)
        self.values.clear()
        self.statuses.clear()
        self.slots.clear()

    def _firsts(self, slots: list[_Slots]) -> np.ndarray:
        """The intervalStart of each ch's block, as epoch seconds."""
        try:
            return iso_to_epoch([s.block.start or "" for s in slots])
        except BadValue as exc:
            block = slots[exc.index].block
            raise self._error(exc.reason, f"{block.label()}/intervalStart", block.line) from None

    def _slot_error(self, position: int, reason: str) -> NoReturn:
        slots = self.slots[span_at([s.begin for s in self.slots], position)]
        slot = position - slots.begin + 1
        element = f"{slots.block.label()}/dB/chs/ch[{slots.number}]/slot[{slot}]"
        raise self._error(reason, element, slots.line)

    def _meter(self, block: _Block) -> str:
        name, text = block.meter_name, block.meter_text
        if name and text and name != text:
            reason = f"meterID meterName {name!r} differs from its text {text!r}"
            raise self._error(reason, f"{block.label()}/meterID", block.line)
        if not (name or text):
            raise self._error("required element meterID is missing", block.label(), block.line)
        return name or text or ""

    def _profile(self, block: _Block) -> Profile:
        if block.profile_id is None and len(self.profiles) == 1:
            return next(iter(self.profiles.values()))
        if block.profile_id is None:
            reason = f"intervalBlock has no profileID and the document has {len(self.profiles)}"
            raise self._error(f"{reason} intervalProfiles", block.label(), block.line)
        if block.profile_id not in self.profiles:
            reason = f"profileID {block.profile_id!r} names no intervalProfile declared before it"
            raise self._error(reason, f"{block.label()}/profileID", block.line)
        return self.profiles[block.profile_id]

    def _delimiter(self, name: str) -> str:
        if name not in self.delimiters:
            raise self._error(f"intervalData declares no {name}", f"intervalData/{name}")
        return self.delimiters[name]


def parse(
    stream: BinaryIO,
    *,
    filename: str,
    tz: ZoneInfo,
    batch_reads: int = DEFAULT_BATCH_READS,
) -> Iterator[ParsedBatch]:
    """Parse a MultiSpeak intervalData document (``tz`` is unused: times carry offsets)."""
    return _Parser(filename, batch_reads).parse(stream)
