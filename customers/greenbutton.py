"""Green Button "Download My Data": a customer's reads as ESPI Atom XML and as CSV, vectorised.

The feed is what meters.reads.interfaces.green_button reads (samples/README.md, section 3): one
UsagePoint per meter (its serial is the last segment of the self link, as this project reads
it), a MeterReading naming a ReadingType by a related link, and one IntervalBlock per stored UTC
day, clipped to the range. Missing intervals are left out of their block (ESPI: a gap is
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


def flatten(days: MeterDays) -> Flat:
    """Every slot of the meter's days inside its span, with its ESPI quality."""
    k, n = days.wh.shape
    step = days.minutes * 60
    start = days.day[:, None] * DAY_S + np.arange(n, dtype=np.int64) * step
    inside = (start >= days.first_s) & (start < days.after_s)
    flags = days.flags[inside]
    quality = np.zeros(flags.shape, np.int64)
    quality[(flags & np.uint8(_F.SUSPECT)) != 0] = 10
    quality[(flags & np.uint8(_F.ESTIMATED)) != 0] = 8
    quality[(flags & np.uint8(_F.EDITED)) != 0] = 7
    return Flat(
        block=np.broadcast_to(np.arange(k)[:, None], (k, n))[inside],
        start=start[inside],
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


def _entry(
    self_href: str, up_href: str, content: str, title: str = "", related: Sequence[str] = ()
) -> str:
    links = [f'<link rel="self" href="{self_href}"/>', f'<link rel="up" href="{up_href}"/>']
    links += [f'<link rel="related" href="{href}"/>' for href in related]
    return (
        f"<entry><id>urn:openmdmr:{escape(self_href.removeprefix(BASE))}</id>"
        f"{''.join(links)}<title>{escape(title)}</title>"
        f"<content>{content}</content></entry>\n"
    )


def _reading_type(minutes: int) -> str:
    return (
        '<ReadingType xmlns="http://naesb.org/espi">'
        "<accumulationBehaviour>4</accumulationBehaviour><commodity>1</commodity>"
        "<currency>124</currency><dataQualifier>12</dataQualifier>"
        f"<flowDirection>1</flowDirection><intervalLength>{minutes * 60}</intervalLength>"
        "<kind>12</kind><phase>769</phase><powerOfTenMultiplier>0</powerOfTenMultiplier>"
        "<timeAttribute>0</timeAttribute><uom>72</uom></ReadingType>"
    )


def _local_time_parameters(tz: ZoneInfo, year: int) -> str:
    january = dt.datetime(year, 1, 15, tzinfo=tz).utcoffset() or dt.timedelta()
    july = dt.datetime(year, 7, 15, tzinfo=tz).utcoffset() or dt.timedelta()
    dst = int((july - january).total_seconds())
    rules = "<dstEndRule>B40E2000</dstEndRule><dstStartRule>360E2000</dstStartRule>" if dst else ""
    return (
        '<LocalTimeParameters xmlns="http://naesb.org/espi">'
        f"{rules}<dstOffset>{dst}</dstOffset>"
        f"<tzOffset>{int(january.total_seconds())}</tzOffset></LocalTimeParameters>"
    )


def _meter_xml(days: MeterDays, subscription: str, sdp_label: str) -> list[str]:
    """The UsagePoint, MeterReading, ReadingType and IntervalBlock entries of one meter."""
    serial = quote(days.serial, safe="-_.~")
    usage_point = f"{subscription}/UsagePoint/{serial}"
    reading = f"{usage_point}/MeterReading/1"
    reading_type = f"{BASE}/ReadingType/{serial}-{days.minutes}"
    head = [
        _entry(
            usage_point,
            f"{subscription}/UsagePoint",
            '<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind>'
            "</ServiceCategory></UsagePoint>",
            title=f"{days.serial} at {sdp_label}",
            related=(f"{usage_point}/MeterReading", f"{BASE}/LocalTimeParameters/1"),
        ),
        _entry(
            reading,
            f"{usage_point}/MeterReading",
            '<MeterReading xmlns="http://naesb.org/espi"/>',
            title=f"{days.minutes} Minute Electricity Consumption",
            related=(f"{reading}/IntervalBlock", reading_type),
        ),
        _entry(
            reading_type,
            f"{BASE}/ReadingType",
            _reading_type(days.minutes),
            title="Energy Delivered (Wh)",
        ),
    ]
    flat = flatten(days)
    if not flat.start.size:
        return head
    return head + _blocks_xml(flat, days, reading)


def _blocks_xml(flat: Flat, days: MeterDays, reading: str) -> list[str]:
    """One IntervalBlock entry per stored day with slots in the span, readings interleaved."""
    step = days.minutes * 60
    used, first_at = np.unique(flat.block, return_index=True)
    last_at = np.r_[first_at[1:], flat.block.size] - 1
    block_start = flat.start[first_at]
    block_duration = flat.start[last_at] + step - block_start
    numbers = np.arange(1, used.size + 1)
    heads = _join(
        "<entry><id>urn:openmdmr:IntervalBlock/",
        numbers.astype(str),
        '</id><link rel="self" href="',
        f"{reading}/IntervalBlock/",
        numbers.astype(str),
        '"/><link rel="up" href="',
        f"{reading}/IntervalBlock",
        '"/><title/><content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>',
        block_duration.astype(str),
        "</duration><start>",
        block_start.astype(str),
        "</start></interval>\n",
    )
    readings = readings_xml(flat, step)
    per_block = np.bincount(np.searchsorted(used, flat.block[~flat.missing]), minlength=used.size)
    # Lay out head, readings, tail of each block: head j sits after 2j pieces and the
    # readings of blocks before it.
    offsets = np.cumsum(per_block) - per_block
    head_at = offsets + 2 * np.arange(used.size)
    out = np.empty(readings.size + 2 * used.size, dtype=object)
    out[head_at] = heads
    out[head_at + per_block + 1] = "</IntervalBlock></content></entry>\n"
    mask = np.ones(out.size, bool)
    mask[head_at] = False
    mask[head_at + per_block + 1] = False
    out[mask] = readings
    return out.tolist()


def espi_feed(
    meters: Sequence[MeterDays], *, tz: ZoneInfo, sdp_label: str, feed_key: str, now: dt.datetime
) -> str:
    """The Green Button ESPI Atom feed of the meters' intervals."""
    subscription = f"{BASE}/Subscription/{quote(feed_key, safe='-_.~')}"
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<feed xmlns="http://www.w3.org/2005/Atom">\n',
        f"<id>urn:openmdmr:{escape(feed_key)}</id><title>Green Button Usage Feed: "
        f"{escape(sdp_label)}</title><updated>{stamp}</updated>\n",
        f'<link rel="self" href="{subscription}"/>\n',
        _entry(
            f"{BASE}/LocalTimeParameters/1",
            f"{BASE}/LocalTimeParameters",
            _local_time_parameters(tz, now.year),
            title=str(tz),
        ),
    ]
    for days in meters:
        parts += _meter_xml(days, subscription, sdp_label)
    parts.append("</feed>\n")
    return "".join(parts)


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
