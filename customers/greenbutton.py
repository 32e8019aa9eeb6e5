"""Green Button "Download My Data": a customer's reads as ESPI Atom XML and as CSV, vectorised.

The feed is what meters.reads.interfaces.green_button reads (samples/README.md, section 3): one
UsagePoint per meter (its serial is the last segment of the self link, as this project reads
it), a MeterReading naming a ReadingType by a related link, and one IntervalBlock per local day
(NAESB REQ.21: a block per day of the customer's own calendar, 23 or 25 hours across DST),
clipped to the range. Every feed validates against NAESB's espi.xsd and the Green Button
Alliance's atom.xsd (tests/data/espi/). Connect My Data (connect/) builds its resources from
the same entries. Missing intervals are left out of their block (ESPI: a gap is
missing); estimated and edited values carry ReadingQuality 8 and 7, suspect ones 10. Every
reading's text is built by numpy string operations over whole arrays; nothing here loops over
intervals in Python or touches the ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.day_arrays import IntervalFlag
from meters.reads.intervals import csv_lines, iso_utc, kwh_text
from portal.calendar.localtime import utc_offsets

DAY_S = 86_400
BASE = "https://openmdmr.invalid/DataCustodian/espi/1_1/resource"
MAX_MONTHS = 24
_F = IntervalFlag
CSV_HEADER = "meter_id,interval_start_utc,interval_end_utc,interval_start_local,kwh,flag"


@dataclass
class MeterDays:
    """One meter's stored delivered days of one interval length, and its span at the SDP."""

    serial: str
    minutes: int
    day: np.ndarray  # int64 (K,) UTC day numbers, sorted
    wh: np.ndarray  # int32 (K, n)
    flags: np.ndarray  # uint8 (K, n)
    first_s: int  # the meter's installation at the SDP, clipped to the asked range
    after_s: int


@dataclass
class Flat:
    """Intervals of one meter inside its span: one element per slot (missing included)."""

    block: np.ndarray  # int64: index of the stored day (IntervalBlock) of each slot
    start: np.ndarray  # int64 UTC s
    wh: np.ndarray  # int64
    quality: np.ndarray  # int64 ESPI quality code, 0 = none (actual)
    missing: np.ndarray  # bool


def flatten(days: MeterDays, tz: ZoneInfo | None = None) -> Flat:
    """Every slot of the meter's days inside its span, with its ESPI quality; ``block`` numbers
    the local day of each slot (the day in ``tz``; the stored UTC day when no zone is given)."""
    k, n = days.wh.shape
    step = days.minutes * 60
    start = days.day[:, None] * DAY_S + np.arange(n, dtype=np.int64) * step
    inside = (start >= days.first_s) & (start < days.after_s)
    flags = days.flags[inside]
    quality = np.zeros(flags.shape, np.int64)
    quality[(flags & np.uint8(_F.SUSPECT)) != 0] = 10
    quality[(flags & np.uint8(_F.ESTIMATED)) != 0] = 8
    quality[(flags & np.uint8(_F.EDITED)) != 0] = 7
    starts = start[inside]
    if tz is None:
        block = np.broadcast_to(days.day[:, None], (k, n))[inside]
    else:
        block = (starts + utc_offsets(starts, tz)) // DAY_S
    return Flat(
        block=np.asarray(block, np.int64),
        start=starts,
        wh=days.wh[inside].astype(np.int64),
        quality=quality,
        missing=(flags & np.uint8(_F.MISSING)) != 0,
    )


def _join(*parts: np.ndarray | str) -> np.ndarray:
    out = np.asarray(parts[0]).astype(np.str_)
    for part in parts[1:]:
        out = np.strings.add(out, np.asarray(part).astype(np.str_))
    return out


def readings_xml(flat: Flat, step_s: int) -> np.ndarray:
    """One IntervalReading element per present slot (missing ones are left out)."""
    keep = ~flat.missing
    quality = flat.quality[keep]
    quality_xml = np.where(
        quality > 0,
        _join("<ReadingQuality><quality>", quality.astype(str), "</quality></ReadingQuality>"),
        "",
    )
    return _join(
        "<IntervalReading>",
        quality_xml,
        f"<timePeriod><duration>{step_s}</duration><start>",
        flat.start[keep].astype(str),
        "</start></timePeriod><value>",
        flat.wh[keep].astype(str),
        "</value></IntervalReading>\n",
    )


@dataclass(frozen=True)
class Entry:
    """One Atom entry of a feed: its ESPI kind, its self link, its XML."""

    kind: str
    href: str
    xml: str


def _link(rel: str, href: str, kind: str) -> str:
    # The Green Button Alliance's atom.xsd requires a type on every link: "espi-entry/<Kind>"
    # for one resource, "espi-feed/<Kind>" for a collection (GBA technical note "Atom elements").
    form = "feed" if rel == "up" or kind.endswith("*") else "entry"
    return f'<link rel="{rel}" href="{href}" type="espi-{form}/{kind.rstrip("*")}"/>'


def _entry(
    kind: str,
    self_href: str,
    up_href: str,
    content: str,
    *,
    stamp: str,
    base: str,
    title: str = "",
    related: Sequence[tuple[str, str]] = (),
) -> Entry:
    """An Atom entry; ``related`` holds (href, kind) pairs, a kind ending in * being a feed."""
    links = [_link("self", self_href, kind), _link("up", up_href, kind)]
    links += [_link("related", href, target) for href, target in related]
    xml = (
        f"<entry><id>urn:openmdmr:{escape(self_href.removeprefix(base))}</id>"
        f"{''.join(links)}<published>{stamp}</published><title>{escape(title)}</title>"
        f"<content>{content}</content><updated>{stamp}</updated></entry>\n"
    )
    return Entry(kind, self_href, xml)


def summary_entry(
    self_href: str, up_href: str, content: str, *, stamp: str, base: str, title: str
) -> Entry:
    """A UsageSummary entry (customers.summaries builds its content)."""
    return _entry("UsageSummary", self_href, up_href, content, stamp=stamp, base=base, title=title)


def _reading_type(minutes: int) -> str:
    return (
        '<ReadingType xmlns="http://naesb.org/espi">'
        "<accumulationBehaviour>4</accumulationBehaviour><commodity>1</commodity>"
        "<currency>124</currency><dataQualifier>12</dataQualifier>"
        f"<flowDirection>1</flowDirection><intervalLength>{minutes * 60}</intervalLength>"
        "<kind>12</kind><phase>769</phase><powerOfTenMultiplier>0</powerOfTenMultiplier>"
        "<timeAttribute>0</timeAttribute><uom>72</uom></ReadingType>"
    )


def local_time_parameters(tz: ZoneInfo, year: int) -> str:
    """ESPI LocalTimeParameters of a zone: standard offset, DST offset and rules.

    The rules are ESPI's DstRuleType (4-byte hex: seconds, hours, day of week, day of month,
    month, rule type): 360E2000 starts DST on the second Sunday of March at 02:00 and B40E2000
    ends it on the first Sunday of November at 02:00, Ontario's rules (Time Act, R.S.O. 1990,
    c. T.9, as in the US Energy Policy Act of 2005); schema order dstEndRule, dstOffset,
    dstStartRule, tzOffset. A zone without DST has neither rule.
    """
    january = dt.datetime(year, 1, 15, tzinfo=tz).utcoffset() or dt.timedelta()
    july = dt.datetime(year, 7, 15, tzinfo=tz).utcoffset() or dt.timedelta()
    dst = int((july - january).total_seconds())
    end = "<dstEndRule>B40E2000</dstEndRule>" if dst else ""
    start = "<dstStartRule>360E2000</dstStartRule>" if dst else ""
    return (
        '<LocalTimeParameters xmlns="http://naesb.org/espi">'
        f"{end}<dstOffset>{dst}</dstOffset>{start}"
        f"<tzOffset>{int(january.total_seconds())}</tzOffset></LocalTimeParameters>"
    )


def local_time_entry(tz: ZoneInfo, *, base: str, stamp: str, year: int) -> Entry:
    return _entry(
        "LocalTimeParameters",
        f"{base}/LocalTimeParameters/1",
        f"{base}/LocalTimeParameters",
        local_time_parameters(tz, year),
        stamp=stamp,
        base=base,
        title=str(tz),
    )


def meter_entries(
    days: MeterDays,
    *,
    subscription: str,
    sdp_label: str,
    tz: ZoneInfo,
    base: str,
    stamp: str,
    blocks_of: np.ndarray | None = None,
) -> list[Entry]:
    """The UsagePoint, MeterReading, ReadingType and IntervalBlock entries of one meter;
    ``blocks_of`` keeps only the blocks of those local day numbers."""
    serial = quote(days.serial, safe="-_.~")
    usage_point = f"{subscription}/UsagePoint/{serial}"
    reading = f"{usage_point}/MeterReading/{days.minutes}"
    reading_type = f"{base}/ReadingType/{serial}-{days.minutes}"
    common = {"stamp": stamp, "base": base}
    head = [
        _entry(
            "UsagePoint",
            usage_point,
            f"{subscription}/UsagePoint",
            '<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind>'
            "</ServiceCategory></UsagePoint>",
            title=f"{days.serial} at {sdp_label}",
            related=(
                (f"{usage_point}/MeterReading", "MeterReading*"),
                (f"{base}/LocalTimeParameters/1", "LocalTimeParameters"),
            ),
            **common,
        ),
        _entry(
            "MeterReading",
            reading,
            f"{usage_point}/MeterReading",
            '<MeterReading xmlns="http://naesb.org/espi"/>',
            title=f"{days.minutes} Minute Electricity Consumption",
            related=((f"{reading}/IntervalBlock", "IntervalBlock*"), (reading_type, "ReadingType")),
            **common,
        ),
        _entry(
            "ReadingType",
            reading_type,
            f"{base}/ReadingType",
            _reading_type(days.minutes),
            title="Energy Delivered (Wh)",
            **common,
        ),
    ]
    flat = flatten(days, tz)
    if blocks_of is not None:
        keep = np.isin(flat.block, blocks_of)
        flat = Flat(
            *(getattr(flat, f)[keep] for f in ("block", "start", "wh", "quality", "missing"))
        )
    if not flat.start.size:
        return head
    return head + _blocks(flat, days, reading, stamp)


def _blocks(flat: Flat, days: MeterDays, reading: str, stamp: str) -> list[Entry]:
    """One IntervalBlock entry per local day with slots in the span, readings interleaved; a
    block's id is its local date (YYYYMMDD), the same in every feed."""
    step = days.minutes * 60
    used, first_at = np.unique(flat.block, return_index=True)
    last_at = np.r_[first_at[1:], flat.block.size] - 1
    block_start = flat.start[first_at]
    block_duration = flat.start[last_at] + step - block_start
    ids = np.strings.replace(np.datetime_as_string(used.astype("datetime64[D]")), "-", "")
    hrefs = _join(f"{reading}/IntervalBlock/", ids)
    heads = _join(
        "<entry><id>urn:openmdmr:IntervalBlock/",
        f"{quote(days.serial, safe='-_.~')}-{days.minutes}-",
        ids,
        '</id><link rel="self" href="',
        hrefs,
        '" type="espi-entry/IntervalBlock"/><link rel="up" href="',
        f"{reading}/IntervalBlock",
        f'" type="espi-feed/IntervalBlock"/><published>{stamp}</published><title/><content>'
        '<IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>',
        block_duration.astype(str),
        "</duration><start>",
        block_start.astype(str),
        "</start></interval>\n",
    )
    tail = f"</IntervalBlock></content><updated>{stamp}</updated></entry>\n"
    readings = readings_xml(flat, step)
    per_block = np.bincount(np.searchsorted(used, flat.block[~flat.missing]), minlength=used.size)
    ends = np.cumsum(per_block)
    pieces = readings.tolist()
    # One join per block (a local day), never a Python step per interval.
    return [
        Entry("IntervalBlock", str(hrefs[j]), str(heads[j]) + "".join(pieces[a:b]) + tail)
        for j, (a, b) in enumerate(zip(ends - per_block, ends, strict=True))
    ]


def atom_feed(
    entries: Sequence[Entry], *, feed_id: str, title: str, self_href: str, now: dt.datetime
) -> str:
    """An Atom feed of entries (RFC 4287), as ESPI serves collections."""
    stamp = atom_time(now)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<feed xmlns="http://www.w3.org/2005/Atom">\n',
        f"<id>urn:openmdmr:{escape(feed_id)}</id><title>{escape(title)}</title>"
        f"<updated>{stamp}</updated>\n",
        f'<link rel="self" href="{self_href}" type="espi-feed/Subscription"/>\n',
    ]
    parts += [entry.xml for entry in entries]
    parts.append("</feed>\n")
    return "".join(parts)


def atom_entry(entry: Entry) -> str:
    """One entry as a document of its own (an ESPI single-resource answer)."""
    xml = entry.xml.replace("<entry>", '<entry xmlns="http://www.w3.org/2005/Atom">', 1)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}'


def atom_time(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscription_of(feed_key: str, base: str = BASE) -> str:
    return f"{base}/Subscription/{quote(feed_key, safe='-_.~')}"


def usage_point_of(subscription: str, serial: str) -> str:
    return f"{subscription}/UsagePoint/{quote(serial, safe='-_.~')}"


def espi_feed(
    meters: Sequence[MeterDays],
    *,
    tz: ZoneInfo,
    sdp_label: str,
    feed_key: str,
    now: dt.datetime,
    base: str = BASE,
    summaries: Sequence[Entry] = (),
) -> str:
    """The Green Button ESPI Atom feed of the meters' intervals (Download My Data), with the
    UsageSummary entries given."""
    subscription = subscription_of(feed_key, base)
    stamp = atom_time(now)
    entries = [local_time_entry(tz, base=base, stamp=stamp, year=now.year)]
    for days in meters:
        entries += meter_entries(
            days, subscription=subscription, sdp_label=sdp_label, tz=tz, base=base, stamp=stamp
        )
    entries += summaries
    return atom_feed(
        entries,
        feed_id=feed_key,
        title=f"Green Button Usage Feed: {sdp_label}",
        self_href=subscription,
        now=now,
    )


def csv_text(meters: Sequence[MeterDays], tz: ZoneInfo) -> str:
    """CSV of every interval (missing ones with an empty kWh), UTC and local start times."""
    lines = [CSV_HEADER]
    for days in meters:
        flat = flatten(days)
        if not flat.start.size:
            continue
        step = days.minutes * 60
        flag = np.full(flat.start.shape, "ACTUAL", dtype="<U9")
        flag[flat.quality == 10] = "SUSPECT"
        flag[flat.quality == 8] = "ESTIMATED"
        flag[flat.quality == 7] = "EDITED"
        flag[flat.missing] = "MISSING"
        kwh = np.where(flat.missing, "", kwh_text(flat.wh))
        columns = [
            np.full(flat.start.shape, days.serial.replace(",", " ")),
            iso_utc(flat.start),
            iso_utc(flat.start + step),
            local_iso(flat.start, tz),
            kwh,
            flag,
        ]
        lines += csv_lines(columns).tolist()
    return "\n".join(lines) + "\n"


def local_iso(start: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """'2026-03-07T00:00-05:00' local wall-clock times with their offsets."""
    offsets = utc_offsets(start, tz)
    wall = np.datetime_as_string((start + offsets).astype("datetime64[s]"), unit="m")
    distinct, which = np.unique(offsets, return_inverse=True)
    names = np.array(
        [f"{'-' if o < 0 else '+'}{abs(o) // 3600:02d}:{abs(o) % 3600 // 60:02d}" for o in distinct]
    )
    return np.strings.add(wall, names[which]) if start.size else np.empty(0, str)


def interval_count(meters: Sequence[MeterDays]) -> int:
    """Slots in the export (missing ones included)."""
    return int(sum(flatten(m).start.size for m in meters))
