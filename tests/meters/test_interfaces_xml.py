"""The XML interfaces (Green Button, IEC 61968-9, MultiSpeak) against the samples README.

Besides the samples and the malformed files, documents are generated here for the cases the
README says must also hold: the November fall-back day, 15-minute meters, Wh and powers of ten,
several blocks per meter, prefixed namespaces, quality codes and small batches.
"""

from __future__ import annotations

import contextlib
import io
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from meters.reads.interfaces import get_parser
from meters.reads.interfaces._xml import CHUNK_BYTES, iso_to_epoch, parse_decimals
from meters.reads.interfaces.base import (
    Channel,
    IntervalBatch,
    ParsedBatch,
    Quality,
    ReadFileError,
    Reason,
)
from tests.meters.samples import (
    GENERATED,
    PUBLIC,
    TORONTO,
    SampleSet,
    interval_rows,
    parse_path,
    register_rows,
    serials_of_keys,
)

XML_INTERFACES = ("green_button", "iec61968_9", "multispeak")
SAMPLE_RECORDS = {"green_button": 140, "iec61968_9": 147, "multispeak": 141}
NS_ATOM = "http://www.w3.org/2005/Atom"
NS_ESPI = "http://naesb.org/espi"
NS_MESSAGE = "http://iec.ch/TC57/2011/schema/message"
NS_READINGS = "http://iec.ch/TC57/2011/MeterReadings#"
NS_MULTISPEAK = "http://www.multispeak.org/V5.0"
DELTA_60 = "0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"  # hourly delivered kWh
BULK_KWH = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"

Row = tuple[str, int, int, int, int, int]  # meter, start, minutes, wh, quality, channel


def sample_file(interface: str, samples: SampleSet = GENERATED) -> Path:
    return samples.file(interface)


def parse_bytes(interface: str, data: bytes, **kwargs: object) -> list[ParsedBatch]:
    stream = io.BytesIO(data)
    return list(get_parser(interface)(stream, filename="gen.xml", tz=TORONTO, **kwargs))


def intervals(batches: list[ParsedBatch]) -> IntervalBatch:
    return serials_of_keys(IntervalBatch.concat([b.intervals for b in batches]))


def rows(batches: list[ParsedBatch]) -> list[Row]:
    iv = intervals(batches)
    columns = (iv.meter, iv.start, iv.minutes, iv.wh, iv.quality, iv.channel)
    return sorted(
        (str(m), int(s), int(n), int(w), int(q), int(c))
        for m, s, n, w, q, c in zip(*columns, strict=True)
    )


def reject(interface: str, data: bytes) -> ReadFileError:
    with pytest.raises(ReadFileError) as caught:
        parse_bytes(interface, data)
    assert caught.value.file == "gen.xml"
    return caught.value


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def local(epoch: int) -> str:
    """ISO 8601 with the Toronto offset of that instant."""
    return datetime.fromtimestamp(epoch, tz=UTC).astimezone(TORONTO).isoformat()


FALL_BACK_START = utc("2026-11-01T04:00:00Z")  # local midnight EDT; the local day has 25 hours
FALL_BACK = [FALL_BACK_START + 3600 * i for i in range(25)]


def expected(
    meter: str, starts: list[int], minutes: int, wh: list[int | None], **kw: int
) -> list[Row]:
    """Rows for one meter: ``None`` in ``wh`` is a missing interval."""
    quality, channel = kw.get("quality", Quality.ACTUAL), kw.get("channel", Channel.DELIVERED)
    return sorted(
        (meter, s, minutes, w or 0, Quality.MISSING if w is None else quality, channel)
        for s, w in zip(starts, wh, strict=True)
    )


# --- document generators ----------------------------------------------------------------------


def iec_reading(end: int | str, value: str | None, codes: tuple[str, ...] = (), p: str = "") -> str:
    stamp = local(end) if isinstance(end, int) else end
    parts = [f"<{p}IntervalReadings><{p}timeStamp>{stamp}</{p}timeStamp>"]
    if value is not None:
        parts.append(f"<{p}value>{value}</{p}value>")
    parts += [
        f'<{p}ReadingQualities><{p}ReadingQualityType ref="{c}"/></{p}ReadingQualities>'
        for c in codes
    ]
    return "".join(parts) + f"</{p}IntervalReadings>\n"


def iec_block(readings: list[str], mrid: str = DELTA_60, p: str = "") -> str:
    body = "".join(readings)
    return f'<{p}IntervalBlocks>\n{body}<{p}ReadingType ref="{mrid}"/></{p}IntervalBlocks>\n'


def iec_meter_reading(meter: str, blocks: list[str], registers: str = "", p: str = "") -> str:
    meter_xml = (
        f"<{p}Meter><{p}mRID>R-{meter}</{p}mRID><{p}Names><{p}name>{meter}</{p}name>"
        f"<{p}NameType><{p}name>MeterSerialNumber</{p}name></{p}NameType></{p}Names></{p}Meter>"
    )
    return f"<{p}MeterReading>\n{''.join(blocks)}{meter_xml}\n{registers}</{p}MeterReading>\n"


def iec_register(at: int, value: str, mrid: str = BULK_KWH, p: str = "") -> str:
    return (
        f"<{p}Readings><{p}reason>billing</{p}reason><{p}timeStamp>{local(at)}</{p}timeStamp>"
        f'<{p}value>{value}</{p}value><{p}ReadingType ref="{mrid}"/></{p}Readings>\n'
    )


def iec_message(
    meter_readings: list[str], *, m: str = "", msg: str = "", verb: str = "created"
) -> bytes:
    decl_m = f'xmlns:{m[:-1]}="{NS_READINGS}"' if m else f'xmlns="{NS_READINGS}"'
    decl_msg = f'xmlns:{msg[:-1]}="{NS_MESSAGE}"' if msg else f'xmlns="{NS_MESSAGE}"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{msg}EventMessage {decl_msg}>\n'
        f"<{msg}Header><{msg}Verb>{verb}</{msg}Verb><{msg}Noun>MeterReadings</{msg}Noun></{msg}Header>\n"
        f"<{msg}Payload><{m}MeterReadings {decl_m}>\n{''.join(meter_readings)}"
        f"</{m}MeterReadings></{msg}Payload></{msg}EventMessage>\n"
    ).encode()


def iec_hourly(meter: str, starts: list[int], wh: list[int | None], mrid: str = DELTA_60) -> str:
    readings = [
        iec_reading(s + 3600, None if w is None else f"{w / 1000:.3f}")
        for s, w in zip(starts, wh, strict=True)
    ]
    return iec_meter_reading(meter, [iec_block(readings, mrid)])


GB_BASE = "https://gb.example.test/espi/1_1/resource/Subscription/9"


def gb_entry(self_href: str, content: str, related: tuple[str, ...] = (), e: str = "") -> str:
    links = [f'<link rel="self" href="{self_href}"/>']
    links += [f'<link rel="related" href="{href}"/>' for href in related]
    decl = "" if e else f' xmlns="{NS_ESPI}"'
    # The ESPI resource is the first element of content: unprefixed, it declares the namespace.
    content = content.replace(">", f"{decl}>", 1) if decl else content
    return f"<entry>\n{''.join(links)}\n<content>{content}</content>\n</entry>\n"


def gb_usage_point(meter: str, e: str = "") -> str:
    href = f"{GB_BASE}/UsagePoint/{meter}"
    return gb_entry(
        href,
        f"<{e}UsagePoint><{e}ServiceCategory><{e}kind>0</{e}kind></{e}ServiceCategory></{e}UsagePoint>",
        e=e,
    )


def gb_reading_type_xml(
    e: str = "", seconds: int = 3600, power: int = 0, flow: int = 1, **kw: int
) -> str:
    fields = {
        "accumulationBehaviour": kw.get("accumulation", 4),
        "commodity": 1,
        "flowDirection": flow,
        "intervalLength": seconds,
        "kind": 12,
        "powerOfTenMultiplier": power,
        "uom": kw.get("uom", 72),
    }
    body = "".join(f"<{e}{k}>{v}</{e}{k}>" for k, v in fields.items())
    return f"<{e}ReadingType>{body}</{e}ReadingType>"


def gb_meter_reading(
    meter: str, rt: str | None, e: str = "", embedded: str = "", number: int = 1
) -> str:
    href = f"{GB_BASE}/UsagePoint/{meter}/MeterReading/{number}"
    related = (f"{href}/IntervalBlock",) + ((f"{GB_BASE}/ReadingType/{rt}",) if rt else ())
    return gb_entry(href, f"<{e}MeterReading>{embedded}</{e}MeterReading>", related, e=e)


def gb_reading_type(rt: str, e: str = "", **kw: int) -> str:
    return gb_entry(f"{GB_BASE}/ReadingType/{rt}", gb_reading_type_xml(e, **kw), e=e)


def gb_reading(
    start: int, value: int | str, seconds: int = 3600, codes: tuple[str, ...] = (), e: str = ""
) -> str:
    quality = "".join(
        f"<{e}ReadingQuality><{e}quality>{c}</{e}quality></{e}ReadingQuality>" for c in codes
    )
    return (
        f"<{e}IntervalReading><{e}cost>100</{e}cost>{quality}<{e}timePeriod><{e}duration>{seconds}</{e}duration>"
        f"<{e}start>{start}</{e}start></{e}timePeriod><{e}value>{value}</{e}value></{e}IntervalReading>\n"
    )


def gb_block(
    meter: str,
    number: int,
    start: int,
    duration: int,
    readings: list[str],
    e: str = "",
    mr: int = 1,
) -> str:
    href = f"{GB_BASE}/UsagePoint/{meter}/MeterReading/{mr}/IntervalBlock/{number}"
    interval = (
        f"<{e}interval><{e}duration>{duration}</{e}duration>"
        f"<{e}start>{start}</{e}start></{e}interval>"
    )
    return gb_entry(
        href, f"<{e}IntervalBlock>{interval}\n{''.join(readings)}</{e}IntervalBlock>", e=e
    )


def gb_feed(entries: list[str], e: str = "", atom: str = "") -> bytes:
    decl = f' xmlns:{e[:-1]}="{NS_ESPI}"' if e else ""
    body = "".join(entries)
    if atom:  # the Atom namespace with a prefix as well
        body = body.replace("<entry>", f"<{atom}entry>").replace("</entry>", f"</{atom}entry>")
        for name in ("link", "content"):
            body = body.replace(f"<{name}", f"<{atom}{name}").replace(
                f"</{name}>", f"</{atom}{name}>"
            )
        head = f'<{atom}feed xmlns:{atom[:-1]}="{NS_ATOM}"{decl}>'
        return f'<?xml version="1.0"?>\n{head}\n{body}</{atom}feed>\n'.encode()
    return f'<?xml version="1.0"?>\n<feed xmlns="{NS_ATOM}"{decl}>\n{body}</feed>\n'.encode()


def gb_hourly(
    meter: str, starts: list[int], wh: list[int | None], rt: str = "RT1", e: str = ""
) -> list[str]:
    readings = [gb_reading(s, w, e=e) for s, w in zip(starts, wh, strict=True) if w is not None]
    duration = starts[-1] + 3600 - starts[0]
    return [
        gb_usage_point(meter, e),
        gb_meter_reading(meter, rt, e),
        gb_reading_type(rt, e),
        gb_block(meter, 1, starts[0], duration, readings, e),
    ]


def ms_profile(
    pid: str = "P60",
    length: str = "60",
    units: str = "Minutes",
    channels: tuple[tuple[str, str, str], ...] = (("kWh", "kWh", "1"),),
    p: str = "",
) -> str:
    chans = "".join(
        f'<{p}channel channelID="{i + 1}"><{p}readingTypeCode>{code}</{p}readingTypeCode>'
        f"<{p}uom>{uom}</{p}uom><{p}multiplier>{mult}</{p}multiplier></{p}channel>"
        for i, (code, uom, mult) in enumerate(channels)
    )
    return (
        f'<{p}intervalProfile profileID="{pid}">'
        f'<{p}intervalLength units="{units}">{length}</{p}intervalLength><{p}channels>'
        f"{chans}</{p}channels></{p}intervalProfile>\n"
    )


def ms_block(
    meter: str, start: str | None, chs: list[str], pid: str | None = "P60", p: str = ""
) -> str:
    profile = f"<{p}profileID>{pid}</{p}profileID>" if pid else ""
    first = f"<{p}intervalStart>{start}</{p}intervalStart>" if start else ""
    ch = "".join(f"<{p}ch>{text}</{p}ch>" for text in chs)
    return (
        f'<{p}intervalBlock>{profile}<{p}meterID meterName="{meter}">{meter}</{p}meterID>'
        f"{first}<{p}dB><{p}chs>{ch}</{p}chs></{p}dB></{p}intervalBlock>\n"
    )


def ms_doc(
    profiles: list[str], blocks: list[str], p: str = "", status: str = ":", delimiter: str = ","
) -> bytes:
    decl = f'xmlns:{p[:-1]}="{NS_MULTISPEAK}"' if p else f'xmlns="{NS_MULTISPEAK}"'
    return (
        f'<?xml version="1.0"?>\n<{p}intervalData {decl}>\n'
        f"<{p}statusDelimiter>{status}</{p}statusDelimiter><{p}intervalDelimiter>{delimiter}</{p}intervalDelimiter>\n"
        f"<{p}profiles>{''.join(profiles)}</{p}profiles>\n<{p}blocks>{''.join(blocks)}</{p}blocks>\n"
        f"</{p}intervalData>\n"
    ).encode()


def ms_ch(wh: list[int | None]) -> str:
    return ",".join("" if w is None else f"{w / 1000:.3f}" for w in wh)


def generated(interface: str, meters: list[str], starts: list[int], wh: list[int | None]) -> bytes:
    """An hourly document of the same reads for each of ``meters`` in ``interface``."""
    if interface == "green_button":
        return gb_feed([e for m in meters for e in gb_hourly(m, starts, wh, rt=f"RT-{m}")])
    if interface == "iec61968_9":
        return iec_message([iec_hourly(m, starts, wh) for m in meters])
    blocks = [ms_block(m, local(starts[0]), [ms_ch(wh)]) for m in meters]
    return ms_doc([ms_profile()], blocks)


# --- the samples and the malformed files of the README (each sample set) -------------------------


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_sample_parses_to_expected_intervals(interface: str, sample_set: SampleSet) -> None:
    batches = parse_path(interface, sample_set.file(interface))
    assert interval_rows(batches) == sample_set.expected_intervals()
    iv = intervals(batches)
    assert set(iv.channel.tolist()) == {Channel.DELIVERED}
    assert set(iv.minutes.tolist()) == {60}
    assert sum(b.records for b in batches) == SAMPLE_RECORDS[interface]
    assert (iv.line > 0).all()


def test_iec_sample_parses_to_expected_registers(sample_set: SampleSet) -> None:
    batches = parse_path("iec61968_9", sample_set.file("iec61968_9"))
    assert register_rows(batches) == sample_set.expected_registers("iec61968_9")


@pytest.mark.parametrize("interface", ("green_button", "multispeak"))
def test_samples_without_registers(interface: str, sample_set: SampleSet) -> None:
    assert register_rows(parse_path(interface, sample_set.file(interface))) == []
    assert sample_set.expected_registers(interface) == []


@pytest.mark.parametrize("interface", XML_INTERFACES)
@pytest.mark.parametrize("size", [1, 7, 50])
def test_small_batches_give_the_same_result(
    interface: str, size: int, sample_set: SampleSet
) -> None:
    whole = parse_path(interface, sample_set.file(interface))
    small = parse_path(interface, sample_set.file(interface), batch_reads=size)
    assert all(len(b.intervals) <= size for b in small)
    a, b = intervals(whole), intervals(small)
    for name in ("meter", "start", "minutes", "wh", "quality", "channel", "line"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
    assert sum(x.records for x in small) == sum(x.records for x in whole)
    assert register_rows(small) == register_rows(whole)


def test_sample_lines_point_at_the_readings(sample_set: SampleSet) -> None:
    iv = intervals(parse_path("iec61968_9", sample_set.file("iec61968_9")))
    text = sample_set.file("iec61968_9").read_text().splitlines()
    assert all(text[n - 1].strip() == "<IntervalReadings>" for n in iv.line.tolist())
    iv = intervals(parse_path("green_button", sample_set.file("green_button")))
    text = sample_set.file("green_button").read_text().splitlines()
    missing = iv.quality == Quality.MISSING
    assert all(text[n - 1].strip() == "<IntervalReading>" for n in iv.line[~missing].tolist())
    assert all("<IntervalBlock" in text[n - 1] for n in iv.line[missing].tolist())


BAD_FILES = {
    "green_button": {
        "truncated.xml": ("not well-formed", None),
        "billion_laughs.xml": ("DTD", "<!DOCTYPE feed>"),
        "xxe_external_entity.xml": ("DTD", "<!DOCTYPE feed>"),
    },
    "iec61968_9": {
        "billion_laughs.xml": ("DTD", "<!DOCTYPE EventMessage>"),
        "xxe_external_entity.xml": ("DTD", "<!DOCTYPE EventMessage>"),
        "non_numeric_value.xml": (
            "'n/a' is not a number",
            "MeterReading[MTR-1001]/IntervalReadings[timeStamp=2026-03-07T01:00:00-05:00]/value",
        ),
    },
    "multispeak": {
        "billion_laughs.xml": ("DTD", "<!DOCTYPE intervalData>"),
        "xxe_external_entity.xml": ("DTD", "<!DOCTYPE intervalData>"),
        "non_numeric_slot.xml": (
            "'0.4x1' is not a number",
            "intervalBlock[MTR-1001]/dB/chs/ch[1]/slot[6]",
        ),
        "missing_interval_start.xml": (
            "intervalStart is missing",
            "intervalBlock[MTR-1002]/intervalStart",
        ),
    },
}


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_every_bad_file_is_covered(interface: str, sample_set: SampleSet) -> None:
    assert sample_set.bad_names(interface) == set(BAD_FILES[interface])


@pytest.mark.parametrize(
    ("interface", "name"), [(i, n) for i in XML_INTERFACES for n in sorted(BAD_FILES[i])]
)
def test_bad_file_is_rejected_naming_file_element_and_reason(
    interface: str, name: str, sample_set: SampleSet
) -> None:
    reason, element = BAD_FILES[interface][name]
    path = sample_set.bad(interface, name)
    began = time.perf_counter()
    with pytest.raises(ReadFileError) as caught:
        parse_path(interface, path)
    error = caught.value
    assert time.perf_counter() - began < 2  # nothing was expanded
    assert error.file == name and name in str(error)
    assert reason in error.reason
    assert error.line is not None and error.line > 0
    if element is not None:
        assert error.element == element
        assert element in str(error)


def test_truncated_feed_names_line_and_column(sample_set: SampleSet) -> None:
    path = sample_set.bad("green_button", "truncated.xml")
    with pytest.raises(ReadFileError) as caught:
        parse_path("green_button", path)
    lines = path.read_text().splitlines()
    assert caught.value.line == len(lines)
    assert "column" in caught.value.reason
    assert caught.value.element is not None and caught.value.element.startswith("feed/entry")


@pytest.mark.parametrize("interface", XML_INTERFACES)
@pytest.mark.parametrize("attack", ["billion_laughs.xml", "xxe_external_entity.xml"])
def test_dtd_is_refused_before_anything_is_expanded(
    interface: str, attack: str, sample_set: SampleSet
) -> None:
    with pytest.raises(ReadFileError) as caught:
        parse_path(interface, sample_set.bad(interface, attack))
    message = str(caught.value)
    assert "forbidden" in message and "DTD" in message
    assert "lol" not in message and "root:" not in message and "/bin/" not in message
    assert caught.value.line == 2  # the DOCTYPE itself, before the document element


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_external_entity_file_is_never_read(interface: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    sample = sample_file(interface).read_bytes()
    declaration, rest = sample.split(b"?>", 1)
    root = {"green_button": b"feed", "iec61968_9": b"EventMessage", "multispeak": b"intervalData"}
    doctype = b'<!DOCTYPE %s [<!ENTITY s SYSTEM "%s">]>' % (
        root[interface],
        secret.as_uri().encode(),
    )
    data = declaration + b"?>" + doctype + rest.replace(b"OPENMDMR", b"&s;", 1)
    error = reject(interface, data)
    assert "TOP-SECRET" not in str(error) and "DTD" in error.reason


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_even_a_harmless_doctype_is_refused(interface: str) -> None:
    root = {"green_button": "feed", "iec61968_9": "EventMessage", "multispeak": "intervalData"}
    data = (
        sample_file(interface)
        .read_bytes()
        .replace(b"?>", f"?><!DOCTYPE {root[interface]}>".encode(), 1)
    )
    assert "DTD" in reject(interface, data).reason


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_undeclared_entity_is_not_well_formed(interface: str) -> None:
    data = sample_file(interface).read_bytes().replace(b"MTR-1001", b"&meter;", 1)
    error = reject(interface, data)
    assert "not well-formed" in error.reason and "undefined entity" in error.reason


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_mangled_samples_fail_only_with_read_file_error(interface: str) -> None:
    data = sample_file(interface).read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 97)):
        for mangled in (
            data[:cut],
            data[:cut] + b"<" + data[cut + 1 :],
            data[:cut] + b"x" + data[cut:],
        ):
            with contextlib.suppress(ReadFileError):
                parse_bytes(interface, mangled)


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_random_corruption_fails_only_with_read_file_error(interface: str) -> None:
    rng = random.Random(61968)
    data = sample_file(interface).read_bytes()
    for _ in range(200):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(len(mutated))] = rng.choice(b"<>&/:;,.-+0123456789xZT \n\"'=")
        with contextlib.suppress(ReadFileError):
            parse_bytes(interface, bytes(mutated))


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_other_document_is_rejected_by_its_root(interface: str) -> None:
    other = {"green_button": "multispeak", "iec61968_9": "green_button", "multispeak": "iec61968_9"}
    error = reject(interface, sample_file(other[interface]).read_bytes())
    assert "root element" in error.reason


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_other_encodings_are_read_and_unknown_ones_rejected(
    interface: str, sample_set: SampleSet
) -> None:
    text = sample_set.file(interface).read_text(encoding="utf-8")
    utf16 = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert interval_rows(parse_bytes(interface, utf16)) == sample_set.expected_intervals()
    unknown = text.replace('encoding="UTF-8"', 'encoding="UTF-9"').encode()
    error = reject(interface, unknown)
    assert "encoding" in error.reason and error.line == 1


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_empty_file_is_rejected(interface: str) -> None:
    assert "not well-formed" in reject(interface, b"").reason


class _Recording(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_so_far = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.read_so_far += len(chunk)
        return chunk


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_batches_come_while_the_file_is_read(interface: str) -> None:
    starts = [FALL_BACK_START + 3600 * i for i in range(24 * 10)]
    wh: list[int | None] = [100 + i % 7 for i in range(len(starts))]
    size = len(generated(interface, ["M"], starts, wh))
    meters = 3 * CHUNK_BYTES // size + 1  # several chunks of the reader
    data = generated(interface, [f"M{n}" for n in range(meters)], starts, wh)
    stream = _Recording(data)
    parser = get_parser(interface)(stream, filename="gen.xml", tz=TORONTO, batch_reads=1000)
    first = next(iter(parser))
    assert len(first.intervals) == 1000
    assert stream.read_so_far < len(data) / 2


# --- the November fall-back day, 15-minute meters, units ----------------------------------------


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_fall_back_day_has_25_hours(interface: str) -> None:
    wh = [100 * (i + 1) for i in range(25)]
    wh[5] = None  # the second 01:00-02:00 hour (EST) is missing
    batches = parse_bytes(interface, generated(interface, ["MTR-9"], FALL_BACK, wh))
    assert rows(batches) == expected("MTR-9", FALL_BACK, 60, wh)


def test_iec_fall_back_stamps_repeat_local_time_with_other_offset() -> None:
    stamps = [local(s + 3600) for s in FALL_BACK]
    assert stamps[0] == "2026-11-01T01:00:00-04:00" and stamps[1] == "2026-11-01T01:00:00-05:00"
    assert iso_to_epoch(stamps).tolist() == [s + 3600 for s in FALL_BACK]


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_fifteen_minute_meter(interface: str) -> None:
    starts = [FALL_BACK_START + 900 * i for i in range(100)]
    wh = [i * 3 for i in range(100)]
    if interface == "green_button":
        readings = [gb_reading(s, w, seconds=900) for s, w in zip(starts, wh, strict=True)]
        data = gb_feed(
            [
                gb_meter_reading("Q", "R15"),
                gb_reading_type("R15", seconds=900),
                gb_block("Q", 1, starts[0], 90000, readings),
            ]
        )
    elif interface == "iec61968_9":
        mrid = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
        readings = [
            iec_reading(s + 900, f"{w / 1000:.3f}") for s, w in zip(starts, wh, strict=True)
        ]
        data = iec_message([iec_meter_reading("Q", [iec_block(readings, mrid)])])
    else:
        profile = ms_profile("P15", "900", "Seconds")
        data = ms_doc([profile], [ms_block("Q", local(starts[0]), [ms_ch(wh)], "P15")])
    assert rows(parse_bytes(interface, data)) == expected("Q", starts, 15, wh)


def test_green_button_powers_of_ten() -> None:
    start = FALL_BACK_START
    entries = [
        gb_meter_reading("A", "MILLI"),
        gb_reading_type("MILLI", power=-3),
        gb_block("A", 1, start, 7200, [gb_reading(start, 371000), gb_reading(start + 3600, 1500)]),
        gb_meter_reading("B", "KILO"),
        gb_reading_type("KILO", power=3),
        gb_block("B", 1, start, 3600, [gb_reading(start, 2)]),
    ]
    got = rows(parse_bytes("green_button", gb_feed(entries)))
    # 1500 mWh is 1.5 Wh: half-to-even gives 2 Wh
    assert [(r[0], r[3]) for r in got] == [("A", 371), ("A", 2), ("B", 2000)]


@pytest.mark.parametrize(
    ("multiplier", "value", "wh"),
    [(3, "0.371", 371), (0, "371", 371), (-3, "371000", 371), (6, "0.002", 2000)],
)
def test_iec_multiplier_and_wh(multiplier: int, value: str, wh: int) -> None:
    mrid = f"0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.{multiplier}.72.0"
    data = iec_message(
        [iec_meter_reading("W", [iec_block([iec_reading(FALL_BACK_START + 3600, value)], mrid)])]
    )
    assert rows(parse_bytes("iec61968_9", data)) == [("W", FALL_BACK_START, 60, wh, 0, 1)]


def test_multispeak_wh_and_multiplier() -> None:
    channels = (("kWh", "Wh", "1"), ("kWh", "kWh", "2"))
    block = ms_block("W", local(FALL_BACK_START), ["371,1500", "0.5,0.25"])
    got = rows(parse_bytes("multispeak", ms_doc([ms_profile(channels=channels)], [block])))
    assert [r[3] for r in got] == [371, 1000, 500, 1500]  # sorted by start, then Wh


# --- several blocks per meter, directions, namespaces ------------------------------------------


def test_iec_several_blocks_and_meter_readings_per_meter() -> None:
    day1, day2 = FALL_BACK[:12], FALL_BACK[12:]
    received = "0.0.7.4.19.1.12.0.0.0.0.0.0.0.0.0.72.0"  # reverse flow, Wh
    first = iec_meter_reading(
        "N",
        [
            iec_block([iec_reading(s + 3600, "0.100") for s in day1]),
            iec_block([iec_reading(s + 3600, "7") for s in day1], received),
        ],
    )
    second = iec_meter_reading("N", [iec_block([iec_reading(s + 3600, "0.200") for s in day2])])
    got = rows(parse_bytes("iec61968_9", iec_message([first, second])))
    assert got == sorted(
        expected("N", day1, 60, [100] * 12)
        + expected("N", day1, 60, [7] * 12, channel=Channel.RECEIVED)
        + expected("N", day2, 60, [200] * 13)
    )


def test_green_button_several_blocks_and_reverse_flow() -> None:
    start = FALL_BACK_START
    entries = [
        gb_meter_reading("N", "DEL"),
        gb_reading_type("DEL"),
        gb_meter_reading("N", "REC", number=2),
        gb_reading_type("REC", flow=19),
        gb_block("N", 1, start, 3 * 3600, [gb_reading(start + 3600 * i, 10 + i) for i in range(3)]),
        gb_block(
            "N",
            2,
            start + 3 * 3600,
            2 * 3600,
            [gb_reading(start + 3600 * (3 + i), 20 + i) for i in range(2)],
        ),
        gb_block("N", 1, start, 3600, [gb_reading(start, 5)], mr=2),
    ]
    got = rows(parse_bytes("green_button", gb_feed(entries)))
    hours = [start + 3600 * i for i in range(5)]
    assert got == sorted(
        expected("N", hours, 60, [10, 11, 12, 20, 21])
        + expected("N", [start], 60, [5], channel=Channel.RECEIVED)
    )


def test_multispeak_several_blocks_per_meter_and_channels() -> None:
    profile = ms_profile(channels=(("kWh", "kWh", "1"), ("kWhRec", "kWh", "1")))
    blocks = [
        ms_block("N", local(FALL_BACK[0]), ["0.1,0.2", "0.01,0.02"]),
        ms_block("N", local(FALL_BACK[2]), ["0.3", "0.03"]),
    ]
    got = rows(parse_bytes("multispeak", ms_doc([profile], blocks)))
    assert got == sorted(
        expected("N", FALL_BACK[:3], 60, [100, 200, 300])
        + expected("N", FALL_BACK[:3], 60, [10, 20, 30], channel=Channel.RECEIVED)
    )


def test_prefixed_namespaces_equal_default_ones() -> None:
    wh: list[int | None] = [100, None, 300]
    starts = FALL_BACK[:3]
    iec_plain = iec_message([iec_hourly("P", starts, wh)])
    readings = [
        iec_reading(s + 3600, None if w is None else f"{w / 1000:.3f}", p="m:")
        for s, w in zip(starts, wh, strict=True)
    ]
    iec_prefixed = iec_message(
        [iec_meter_reading("P", [iec_block(readings, p="m:")], p="m:")], m="m:", msg="msg:"
    )
    assert b"<m:IntervalReadings>" in iec_prefixed and b"<msg:Header>" in iec_prefixed
    gb_plain = gb_feed(gb_hourly("P", starts, wh))
    gb_prefixed = gb_feed(gb_hourly("P", starts, wh, e="espi:"), e="espi:", atom="atom:")
    assert b"<espi:IntervalReading>" in gb_prefixed and b"<atom:entry>" in gb_prefixed
    ms_plain = ms_doc([ms_profile()], [ms_block("P", local(starts[0]), [ms_ch(wh)])])
    ms_prefixed = ms_doc(
        [ms_profile(p="ms:")], [ms_block("P", local(starts[0]), [ms_ch(wh)], p="ms:")], p="ms:"
    )
    want = expected("P", starts, 60, wh)
    for interface, plain, prefixed in (
        ("iec61968_9", iec_plain, iec_prefixed),
        ("green_button", gb_plain, gb_prefixed),
        ("multispeak", ms_plain, ms_prefixed),
    ):
        assert rows(parse_bytes(interface, plain)) == rows(parse_bytes(interface, prefixed)) == want


@pytest.mark.parametrize("interface", XML_INTERFACES)
def test_elements_in_another_namespace_are_not_taken(interface: str) -> None:
    data = sample_file(interface).read_bytes()
    for ns in (NS_ESPI, NS_READINGS, NS_MULTISPEAK):
        data = data.replace(ns.encode(), b"urn:other")
    if interface == "multispeak":
        assert "root element" in reject(interface, data).reason
    elif interface == "iec61968_9":
        assert "no MeterReadings" in reject(interface, data).reason
    else:
        assert rows(parse_bytes(interface, data)) == []  # nothing ESPI in the feed any more


def test_multispeak_version_4_1_namespace_is_read(sample_set: SampleSet) -> None:
    data = sample_set.file("multispeak").read_bytes()
    old = data.replace(NS_MULTISPEAK.encode(), b"http://www.multispeak.org/Version_4.1_Release")
    assert interval_rows(parse_bytes("multispeak", old)) == sample_set.expected_intervals()


def test_iec_bare_meter_readings_document_is_read(sample_set: SampleSet) -> None:
    text = sample_set.file("iec61968_9").read_text()
    payload = text[text.index("<MeterReadings") : text.index("</Payload>")]
    batches = parse_bytes("iec61968_9", payload.encode())
    assert interval_rows(batches) == sample_set.expected_intervals()
    assert register_rows(batches) == sample_set.expected_registers("iec61968_9")


# --- Green Button specifics ----------------------------------------------------------------------


def test_green_button_entries_in_any_order() -> None:
    ordered = gb_hourly("O", FALL_BACK[:4], [1, 2, None, 4])
    usage_point, meter_reading, reading_type, block = ordered
    for order in (
        [block, reading_type, meter_reading, usage_point],
        [meter_reading, block, reading_type],
    ):
        assert rows(parse_bytes("green_button", gb_feed(order))) == expected(
            "O", FALL_BACK[:4], 60, [1, 2, None, 4]
        )


def test_green_button_embedded_reading_type() -> None:
    embedded = gb_reading_type_xml("espi:", seconds=900)
    start = FALL_BACK_START
    entries = [
        gb_block(
            "E", 1, start, 1800, [gb_reading(start + 900, 7, seconds=900, e="espi:")], e="espi:"
        ),
        gb_meter_reading("E", None, e="espi:", embedded=embedded),
    ]
    got = rows(parse_bytes("green_button", gb_feed(entries, e="espi:")))
    assert got == expected("E", [start, start + 900], 15, [None, 7])


def test_green_button_several_interval_blocks_in_one_entry() -> None:
    first = FALL_BACK_START
    two = gb_block("N", 1, first, 3600, [gb_reading(first, 1)]).replace(
        "</IntervalBlock>",
        f'</IntervalBlock><IntervalBlock xmlns="{NS_ESPI}"><interval><duration>3600</duration>'
        f"<start>{first + 3600}</start></interval>{gb_reading(first + 3600, 2)}</IntervalBlock>",
    )
    entries = [gb_meter_reading("N", "RT"), gb_reading_type("RT"), two]
    assert rows(parse_bytes("green_button", gb_feed(entries))) == expected(
        "N", FALL_BACK[:2], 60, [1, 2]
    )


def test_green_button_block_without_reading_type_is_rejected() -> None:
    entries = gb_hourly("X", FALL_BACK[:2], [1, 2])
    del entries[2]  # the ReadingType entry
    error = reject("green_button", gb_feed(entries))
    assert (
        "ReadingType" in error.reason
        and error.element == "UsagePoint[X]/MeterReading[1]/IntervalBlock[1]"
    )


@pytest.mark.parametrize(
    "start",
    [
        FALL_BACK_START - 3600,  # before its block's interval
        FALL_BACK_START + 2 * 3600,  # after it
        FALL_BACK_START + 1800,  # off its grid (the off_grid rule lists it at ingestion)
        FALL_BACK_START,  # a second reading at a start (the duplicate rule decides)
    ],
)
def test_green_button_reading_is_placed_by_its_own_time_period(start: int) -> None:
    # #18: ESPI places a reading by its timePeriod; a block's interval that does not cover it
    # is no reason to refuse the file. The reading keeps its own start; the grid's own steps
    # stay as they are.
    readings = [gb_reading(FALL_BACK_START, 1), gb_reading(start, 2)]
    entries = gb_hourly("X", FALL_BACK[:2], [1, 2])
    entries[3] = gb_block("X", 1, FALL_BACK_START, 7200, readings)
    iv = intervals(parse_bytes("green_button", gb_feed(entries)))
    placed = sorted(zip(iv.start.tolist(), iv.wh.tolist(), iv.quality.tolist(), strict=True))
    grid = [(FALL_BACK_START, 1, 0), (FALL_BACK_START + 3600, 0, int(Quality.MISSING))]
    assert placed == sorted([*grid, (start, 2, 0)])
    assert not iv.reasons().any()


def test_green_button_reading_of_another_duration_is_a_rejected_record() -> None:
    readings = [gb_reading(FALL_BACK_START, 1), gb_reading(FALL_BACK_START + 3600, 2, 7200)]
    entries = gb_hourly("X", FALL_BACK[:2], [1, 2])
    entries[3] = gb_block("X", 1, FALL_BACK_START, 7200, readings)
    iv = intervals(parse_bytes("green_button", gb_feed(entries)))
    rejected = iv.reasons() != 0
    assert iv.start[rejected].tolist() == [FALL_BACK_START + 3600]
    assert iv.reasons()[rejected].tolist() == [Reason.CODE[Reason.DURATION]]
    assert (iv.line[rejected] > 1).all()


@pytest.mark.parametrize(
    ("codes", "quality"),
    [
        ((), Quality.ACTUAL),
        (("0",), Quality.ACTUAL),
        (("19",), Quality.ACTUAL),
        (("8",), Quality.ESTIMATED),
        (("15",), Quality.ESTIMATED),
        (("10",), Quality.SUSPECT),
        (("18",), Quality.SUSPECT),
        (("17", "7", "13"), Quality.ESTIMATED),
    ],
)
def test_green_button_quality_codes(codes: tuple[str, ...], quality: Quality) -> None:
    entries = gb_hourly("X", FALL_BACK[:1], [1])
    entries[3] = gb_block(
        "X", 1, FALL_BACK_START, 3600, [gb_reading(FALL_BACK_START, 1, codes=codes)]
    )
    assert [r[4] for r in rows(parse_bytes("green_button", gb_feed(entries)))] == [quality]


@pytest.mark.parametrize("code", ["1", "99", "x", "-8", ""])
def test_green_button_unknown_quality_code_is_rejected(code: str) -> None:
    entries = gb_hourly("X", FALL_BACK[:1], [1])
    entries[3] = gb_block(
        "X", 1, FALL_BACK_START, 3600, [gb_reading(FALL_BACK_START, 1, codes=(code,))]
    )
    error = reject("green_button", gb_feed(entries))
    assert (
        "quality" in error.reason
        and error.element is not None
        and error.element.endswith("/ReadingQuality/quality")
    )


def test_green_button_reading_type_interval_length_not_in_minutes_is_rejected() -> None:
    entries = gb_hourly("X", FALL_BACK[:1], [1])
    entries[2] = gb_reading_type("RT1", seconds=90)
    error = reject("green_button", gb_feed(entries))
    assert "intervalLength" in error.reason and "ReadingType" in (error.element or "")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"uom": 38}, Reason.KW_NOT_LOADED),
        ({"uom": 73}, Reason.KVARH_NOT_LOADED),
        ({"accumulation": 1}, Reason.NOT_INTERVAL_DATA),
        ({"flow": 4}, Reason.FLOW_NOT_LOADED),
    ],
)
def test_green_button_legal_reading_type_beyond_kwh_is_listed_not_a_rejected_file(
    change: dict[str, int], reason: str
) -> None:
    # #18: a unit, accumulation or flow ESPI allows never rejects the file: its readings are
    # rejected records with the reason (espi.xsd ReadingType; uom codes of IEC 61968-9).
    entries = gb_hourly("X", FALL_BACK[:1], [1])
    entries[2] = gb_reading_type("RT1", **change)
    iv = intervals(parse_bytes("green_button", gb_feed(entries)))
    assert iv.reasons().tolist() == [Reason.CODE[reason]]


@pytest.mark.parametrize("value", ["1.5", "n/a", "1e3", ""])
def test_green_button_non_integer_value_is_rejected(value: str) -> None:
    entries = gb_hourly("X", FALL_BACK[:1], [1])
    entries[3] = gb_block("X", 1, FALL_BACK_START, 3600, [gb_reading(FALL_BACK_START, value)])
    error = reject("green_button", gb_feed(entries))
    block = "UsagePoint[X]/MeterReading[1]/IntervalBlock[1]"
    assert error.element == f"{block}/IntervalReading[start={FALL_BACK_START}]/value"


def test_green_button_readings_without_time_period_follow_each_other() -> None:
    value = "<IntervalReading><value>{}</value></IntervalReading>"
    entries = gb_hourly("X", FALL_BACK[:3], [1, 2, 3])
    entries[3] = gb_block("X", 1, FALL_BACK_START, 3 * 3600, [value.format(5), value.format(6)])
    assert rows(parse_bytes("green_button", gb_feed(entries))) == expected(
        "X", FALL_BACK[:3], 60, [5, 6, None]
    )


def test_green_button_public_feeds_parse() -> None:
    folder = PUBLIC / "green_button"
    for name, count in (
        ("openespi_test_usage_data_01.xml", 96),
        ("openespi_test_usage_data_1.xml", 480),
    ):
        batches = parse_path("green_button", folder / name)
        iv = intervals(batches)
        assert len(iv) == count and sum(b.records for b in batches) == count
        assert set(iv.meter.tolist()) == {"5446AF3F"} and set(iv.minutes.tolist()) == {15}
        assert int((iv.quality == Quality.ESTIMATED).sum()) == 2
        assert not (iv.quality == Quality.MISSING).any()
        assert (np.diff(np.sort(iv.start)) == 900).all()
        assert iv.start.min() == utc("2012-03-01T05:00:00Z")
        assert iv.wh.min() > 0 and iv.wh.max() < 10_000  # Wh per 15 minutes of a house
    feed4 = parse_path("green_button", folder / "openespi4_usage_subscription_feed_anonymized.xml")
    assert len(intervals(feed4)) == 0  # MeterReading with embedded ReadingType, no IntervalBlock


# --- IEC 61968-9 specifics --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "value", "quality"),
    [
        ((), "1", Quality.ACTUAL),
        (("1.0.0",), "1", Quality.ACTUAL),
        (("1.2.32",), "1", Quality.ACTUAL),
        (("2.8.0",), "1", Quality.ESTIMATED),
        (("2.7.1",), "1", Quality.ESTIMATED),
        (("2.12.0",), "1", Quality.ESTIMATED),
        (("2.6.0",), "1", Quality.SUSPECT),
        (("2.10.3",), "1", Quality.SUSPECT),
        (("2.5.259",), "1", Quality.MISSING),
        (("1.2.32", "2.8.0"), "1", Quality.ESTIMATED),
        (("2.6.0", "2.11.0"), "1", Quality.ESTIMATED),
        ((), None, Quality.MISSING),
        ((), "", Quality.MISSING),
        (("2.8.0",), None, Quality.MISSING),
    ],
)
def test_iec_quality_codes(codes: tuple[str, ...], value: str | None, quality: Quality) -> None:
    reading = iec_reading(FALL_BACK_START + 3600, value, codes)
    got = rows(
        parse_bytes("iec61968_9", iec_message([iec_meter_reading("Q", [iec_block([reading])])]))
    )
    wh = 0 if quality == Quality.MISSING else 1000
    assert got == [("Q", FALL_BACK_START, 60, wh, quality, 1)]


@pytest.mark.parametrize("code", ["2.9.0", "2.99.1", "8", "x.y.z", "1.2", ""])
def test_iec_unknown_quality_code_is_rejected(code: str) -> None:
    reading = iec_reading(FALL_BACK_START + 3600, "1", (code,))
    error = reject("iec61968_9", iec_message([iec_meter_reading("Q", [iec_block([reading])])]))
    reading = "MeterReading[Q]/IntervalReadings[timeStamp=2026-11-01T01:00:00-04:00]"
    assert error.element == f"{reading}/ReadingQualities/ReadingQualityType"
    assert repr(code) in error.reason


@pytest.mark.parametrize(
    ("mrid", "word"),
    [
        ("0.0.7.4.4.1.12.0.0.0.0.0.0.0.0.3.72.0", "flowDirection"),
        ("0.0.4.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0", "measuringPeriod"),
        ("0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.3.73.0", "Wh"),
        ("0.0.7.9.1.1.12.0.0.0.0.0.0.0.0.3.72.0", "accumulation"),
        (BULK_KWH, "delta"),
        ("0.0.7.4.1.1.12", "18"),
        ("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r", "integer"),
    ],
)
def test_iec_unusable_reading_type_is_rejected(mrid: str, word: str) -> None:
    block = iec_block([iec_reading(FALL_BACK_START + 3600, "1")], mrid)
    error = reject("iec61968_9", iec_message([iec_meter_reading("Q", [block])]))
    assert (
        word in error.reason
        and error.element == f"MeterReading[Q]/IntervalBlocks[ReadingType={mrid}]/ReadingType"
    )


def test_iec_registers_are_bulk_reads() -> None:
    registers = iec_register(FALL_BACK_START, "100.5") + iec_register(
        FALL_BACK[-1], "99", "0.0.0.1.19.1.12.0.0.0.0.0.0.0.0.0.72.0"
    )
    data = iec_message([iec_meter_reading("R", [], registers)])
    batches = parse_bytes("iec61968_9", data)
    reg = batches[0].registers
    assert reg.meter.tolist() == ["R", "R"] and reg.read_at.tolist() == [
        FALL_BACK_START,
        FALL_BACK[-1],
    ]
    assert reg.wh.tolist() == [100_500, 99] and reg.channel.tolist() == [
        Channel.DELIVERED,
        Channel.RECEIVED,
    ]
    assert sum(b.records for b in batches) == 2 and len(intervals(batches)) == 0


def test_iec_delta_reading_type_in_registers_is_rejected() -> None:
    data = iec_message([iec_meter_reading("R", [], iec_register(FALL_BACK_START, "1", DELTA_60))])
    assert "bulk" in reject("iec61968_9", data).reason


@pytest.mark.parametrize("value", ["n/a", "1e3", "nan", "1_0", "0x10", " "])
def test_iec_non_numeric_value_is_rejected(value: str) -> None:
    reading = iec_reading(FALL_BACK_START + 3600, value)
    error = reject(
        "iec61968_9",
        iec_message(
            [iec_meter_reading("Q", [iec_block([iec_reading(FALL_BACK_START, "1"), reading])])]
        ),
    )
    assert (
        error.element
        == "MeterReading[Q]/IntervalReadings[timeStamp=2026-11-01T01:00:00-04:00]/value"
    )
    assert "is not a number" in error.reason


@pytest.mark.parametrize(
    "stamp", ["2026-11-01T01:00:00", "2026-11-01 01:00", "2026-02-30T01:00:00Z", "yesterday"]
)
def test_iec_bad_time_stamp_is_rejected(stamp: str) -> None:
    block = iec_block([iec_reading(FALL_BACK_START + 3600, "1"), iec_reading(stamp, "1")])
    error = reject("iec61968_9", iec_message([iec_meter_reading("Q", [block])]))
    assert error.element == "MeterReading[Q]/IntervalReadings[2]/timeStamp"


def test_iec_time_stamp_forms() -> None:
    stamps = [
        "2026-11-01T06:00:00Z",
        "2026-11-01T02:00:00.000-05:00",
        " 2026-11-01T08:00:00+01:00 ",
    ]
    block = iec_block([iec_reading(s, "1") for s in stamps])
    got = rows(parse_bytes("iec61968_9", iec_message([iec_meter_reading("T", [block])])))
    assert [r[1] for r in got] == [
        utc("2026-11-01T05:00:00Z"),
        utc("2026-11-01T06:00:00Z"),
        utc("2026-11-01T06:00:00Z"),
    ]


def test_iec_meter_without_serial_number_is_rejected() -> None:
    reading = iec_meter_reading("Q", [iec_block([iec_reading(FALL_BACK_START, "1")])])
    error = reject("iec61968_9", iec_message([reading.replace("MeterSerialNumber", "AssetTag")]))
    assert "MeterSerialNumber" in error.reason and error.element == "MeterReading[#1]/Meter"


@pytest.mark.parametrize("verb", ["deleted", "canceled", "get"])
def test_iec_message_that_does_not_deliver_reads_is_rejected(verb: str) -> None:
    assert "verb" in reject("iec61968_9", iec_message([], verb=verb)).reason


def test_iec_quality_time_stamp_is_not_the_reading_one() -> None:
    quality = (
        "<ReadingQualities><timeStamp>2020-01-01T00:00:00Z</timeStamp>"
        '<ReadingQualityType ref="2.8.0"/></ReadingQualities>'
    )
    stamp = local(FALL_BACK_START + 3600)
    reading = (
        f"<IntervalReadings><timeStamp>{stamp}</timeStamp><value>1</value>{quality}"
        "</IntervalReadings>"
    )
    got = rows(
        parse_bytes("iec61968_9", iec_message([iec_meter_reading("Q", [iec_block([reading])])]))
    )
    assert got == [("Q", FALL_BACK_START, 60, 1000, Quality.ESTIMATED, 1)]


# --- MultiSpeak specifics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ch", "wh", "quality"),
    [
        ("0.1,0.2,", [100, 200, 0], [0, 0, 3]),
        (",0.2", [0, 200], [3, 0]),
        ("0.1:Measured,0.2:Estimated,0.3:Failed,:Estimated", [100, 200, 300, 0], [0, 2, 1, 3]),
        ("\n  0.1,0.2\n", [100, 200], [0, 0]),
        ("", [0], [3]),
    ],
)
def test_multispeak_slots(ch: str, wh: list[int], quality: list[int]) -> None:
    data = ms_doc([ms_profile()], [ms_block("S", local(FALL_BACK_START), [ch])])
    got = rows(parse_bytes("multispeak", data))
    assert [r[3] for r in got] == wh and [r[4] for r in got] == quality
    assert [r[1] for r in got] == FALL_BACK[: len(wh)]


def test_multispeak_declared_delimiters_are_used() -> None:
    data = ms_doc(
        [ms_profile()],
        [ms_block("S", local(FALL_BACK_START), ["0.1|0.2;Estimated||0.4"])],
        status=";",
        delimiter="|",
    )
    got = rows(parse_bytes("multispeak", data))
    assert [(r[3], r[4]) for r in got] == [(100, 0), (200, 2), (0, 3), (400, 0)]


@pytest.mark.parametrize("status", ["Bogus", "estimated", ""])
def test_multispeak_unknown_status_is_rejected(status: str) -> None:
    data = ms_doc([ms_profile()], [ms_block("S", local(FALL_BACK_START), [f"0.1,0.2:{status}"])])
    error = reject("multispeak", data)
    assert error.element == "intervalBlock[S]/dB/chs/ch[1]/slot[2]" and "status" in error.reason


@pytest.mark.parametrize(
    ("profile", "block", "word"),
    [
        (ms_profile(), ms_block("S", local(FALL_BACK_START), ["1", "2"]), "2 ch"),
        (ms_profile(), ms_block("S", local(FALL_BACK_START), ["1"], pid="OTHER"), "profileID"),
        (
            ms_profile(length="7", units="Seconds"),
            ms_block("S", local(FALL_BACK_START), ["1"]),
            "whole number of minutes",
        ),
        (ms_profile(units="Fortnights"), ms_block("S", local(FALL_BACK_START), ["1"]), "units"),
        (
            ms_profile(channels=(("kVArh", "kVArh", "1"),)),
            ms_block("S", local(FALL_BACK_START), ["1"]),
            "readingTypeCode",
        ),
        (
            ms_profile(channels=(("kWh", "MWh", "1"),)),
            ms_block("S", local(FALL_BACK_START), ["1"]),
            "uom",
        ),
        (ms_profile(), ms_block("S", "2026-11-01T00:00:00", ["1"]), "offset"),
    ],
)
def test_multispeak_bad_profile_or_block_is_rejected(profile: str, block: str, word: str) -> None:
    assert word in reject("multispeak", ms_doc([profile], [block])).reason


def test_multispeak_block_without_profile_id_uses_the_only_profile() -> None:
    data = ms_doc([ms_profile()], [ms_block("S", local(FALL_BACK_START), ["0.5"], pid=None)])
    assert rows(parse_bytes("multispeak", data)) == [("S", FALL_BACK_START, 60, 500, 0, 1)]


def test_multispeak_delimiters_must_be_declared() -> None:
    data = ms_doc([ms_profile()], [ms_block("S", local(FALL_BACK_START), ["0.5"])])
    data = data.replace(b"<statusDelimiter>:</statusDelimiter>", b"")
    assert "statusDelimiter" in reject("multispeak", data).reason


# --- shared helpers ------------------------------------------------------------------------------


def test_decimal_parsing_is_strict() -> None:
    assert parse_decimals([" 1.5 ", "+.5", "2."]).tolist() == [1.5, 0.5, 2.0]
    for bad in ("1e3", "nan", "inf", "1_0", "١", "-", "", "1.2.3"):
        with pytest.raises(ValueError):
            parse_decimals(["1", bad])


def test_iso_parsing_matches_datetime() -> None:
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=17 * i) for i in range(20_000)]
    texts = [
        m.astimezone(TORONTO).isoformat() if i % 3 else m.strftime("%Y-%m-%dT%H:%M:%SZ")
        for i, m in enumerate(moments)
    ]
    assert iso_to_epoch(texts).tolist() == [int(m.timestamp()) for m in moments]
