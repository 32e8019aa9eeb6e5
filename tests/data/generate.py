"""The project's own sample set of the six read-file interfaces, written from one data set.

``python -m tests.data.generate`` writes ``tests/data/samples/``; ``--check`` compares instead and
exits 1 naming every file that differs. The layouts are those of the samples README (the
specification of the six interfaces, section by section: CMEP MEPMD01, MV-90 HHF text rendering,
Green Button ESPI, IEC 61968-9 MeterReadings, MultiSpeak V5.0 intervalData, the generic CSV) and
of its registry file; the malformed files of its ``bad/`` table are the good files here with the
one defect the table names.

The data set (``CANONICAL``): three hourly meters, delivered kWh, the local days 2026-03-07 and
2026-03-08 in America/Toronto. DST starts on the 8th at 02:00 EST (07:00Z), so the period
2026-03-07T05:00Z to 2026-03-09T04:00Z holds 24 + 23 = 47 intervals per meter, 141 in all. One
interval is missing (MTR-1002, 2026-03-07 19:00Z-20:00Z), one is estimated by the head-end
(MTR-1003, 2026-03-08 13:00Z-14:00Z, 8.717 kWh). The register reads at the period's start and end
differ by the interval sum plus the energy of the missing interval: the meter kept counting while
the head-end lost the interval. Values are whole Wh (exact at 0.001 kWh), from load shapes with a
deterministic jitter (SHA-256 of meter and instant), so that the files never change unless this
module does.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

TORONTO = ZoneInfo("America/Toronto")
EST = timezone(timedelta(hours=-5))  # MV-90 writes standard time all year (README section 2)
HOUR = timedelta(hours=1)
DAYS = (date(2026, 3, 7), date(2026, 3, 8))  # local days; a weekend (Saturday and Sunday)
CREATED = datetime(2026, 3, 9, 11, 15, tzinfo=UTC)  # when the head-end wrote the files
SENDER = "HESA"  # the head-end (AMCC) of the registry's ami_headend
RECEIVER = "OPENMDMR"
OUT = Path(__file__).resolve().parent / "samples"

# Load shapes, Wh per local hour of the day (0 = 00:00-01:00), for a weekend in March.
HOUSE_GAS_HEAT = (340, 310, 290, 280, 290, 320, 450, 780, 1120, 1050, 840, 720) + (
    880,
    740,
    660,
    690,
    920,
    1380,
    1760,
    1620,
    1350,
    1080,
    740,
    480,
)  # a family home heated by gas: morning and evening peaks (about 19 kWh a day)
HOUSE_EV_ULO = (410, 2270, 2250, 2230, 2240, 380, 520, 950, 1280, 1160, 710, 620) + (
    790,
    680,
    610,
    640,
    830,
    1520,
    1940,
    1810,
    1470,
    1190,
    860,
    580,
)  # on the ULO plan, an electric car charging from 01:00 to 05:00 (ultra-low overnight)
BAKERY_CAFE = (2410, 2350, 2300, 2280, 2330, 2620, 4850, 8120, 9040, 9380, 9610, 9950) + (
    10420,
    10180,
    9730,
    9360,
    9120,
    8740,
    7960,
    5210,
    3480,
    2940,
    2700,
    2520,
)  # a small commercial customer (GS < 50 kW) open 07:00-19:00 every day, ovens from 06:00
SUNDAY_PER_MILLE = {"residential": 1000, "gs_lt_50": 930}


@dataclass(frozen=True)
class MeterSpec:
    """One meter of the data set and its registry row."""

    meter_id: str
    sdp_id: str
    recorder: str  # the head-end's device key: MV-90 recorder ID, IEC 61968-9 Meter/mRID
    rate_class: str
    commodity_rate_class: str
    postal_code: str
    shape: tuple[int, ...]
    register_start_wh: int


@dataclass(frozen=True)
class Interval:
    """One hour of one meter: start (UTC), Wh as the file carries it (None: missing), flag."""

    start: datetime
    wh: int | None
    flag: str  # ACTUAL, ESTIMATED or MISSING (expected.csv)
    counted_wh: int  # what the meter's register counted in the hour

    @property
    def end(self) -> datetime:
        return self.start + HOUR


@dataclass(frozen=True)
class MeterReads:
    """A meter's 47 intervals and its register reads at the period's start and end."""

    meter: MeterSpec
    intervals: tuple[Interval, ...]

    @property
    def register_end_wh(self) -> int:
        return self.meter.register_start_wh + sum(iv.counted_wh for iv in self.intervals)


METERS = (
    MeterSpec(
        "MTR-1001",
        "SDP-1001",
        "R0451001",
        "residential",
        "tou",
        "M6G 2K9",
        HOUSE_GAS_HEAT,
        27415338,
    ),
    MeterSpec(
        "MTR-1002", "SDP-1002", "R0451002", "residential", "ulo", "M4E 1G7", HOUSE_EV_ULO, 9826905
    ),
    MeterSpec(
        "MTR-1003", "SDP-1003", "R0451003", "gs_lt_50", "tou", "L5M 4Z5", BAKERY_CAFE, 352118760
    ),
)
MISSING = ("MTR-1002", datetime(2026, 3, 7, 19, tzinfo=UTC))  # 14:00-15:00 EST
ESTIMATED = ("MTR-1003", datetime(2026, 3, 8, 13, tzinfo=UTC), 8717)  # 09:00-10:00 EDT


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TORONTO).astimezone(UTC)


PERIOD_START = local_midnight(DAYS[0])
PERIOD_END = local_midnight(DAYS[-1] + timedelta(days=1))


def hours() -> list[datetime]:
    """The interval starts of the period (UTC): 47, the 8th being 23 hours long."""
    count = int((PERIOD_END - PERIOD_START) / HOUR)
    return [PERIOD_START + i * HOUR for i in range(count)]


def jitter_per_mille(meter_id: str, start: datetime) -> int:
    """920..1080: the same for the same meter and hour on every machine and Python."""
    digest = hashlib.sha256(f"{meter_id}|{start.isoformat()}".encode()).digest()
    return 920 + int.from_bytes(digest[:4], "big") % 161


def meter_reads(meter: MeterSpec) -> MeterReads:
    """The meter's intervals from its shape; no two neighbours equal (VEE V08 'frozen')."""
    intervals: list[Interval] = []
    previous = None
    for start in hours():
        local = start.astimezone(TORONTO)
        day = SUNDAY_PER_MILLE[meter.rate_class] if local.weekday() == 6 else 1000
        scale = meter.shape[local.hour] * day * jitter_per_mille(meter.meter_id, start)
        wh = (scale + 500_000) // 1_000_000
        if wh == previous:
            wh += 1
        previous = wh
        if (meter.meter_id, start) == MISSING:
            intervals.append(Interval(start, None, "MISSING", wh))
        elif (meter.meter_id, start) == ESTIMATED[:2]:
            intervals.append(Interval(start, ESTIMATED[2], "ESTIMATED", ESTIMATED[2]))
        else:
            intervals.append(Interval(start, wh, "ACTUAL", wh))
    return MeterReads(meter, tuple(intervals))


CANONICAL = tuple(meter_reads(m) for m in METERS)


# --- renderings of numbers and instants --------------------------------------------------------


def kwh(wh: int) -> str:
    """Whole Wh as kWh with three places: 371 -> '0.371'."""
    return f"{wh // 1000}.{wh % 1000:03d}"


def stamp(at: datetime, zone: ZoneInfo | timezone) -> str:
    """CCYYMMDDHHMM in a zone (CMEP: local prevailing time; MV-90: standard time)."""
    return at.astimezone(zone).strftime("%Y%m%d%H%M")


def local_iso(at: datetime) -> str:
    """ISO 8601 with the local offset: 2026-03-07T01:00:00-05:00."""
    return at.astimezone(TORONTO).isoformat()


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def zulu(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- CMEP MEPMD01 (README section 1) ------------------------------------------------------------

CMEP_QUALITY = {"ACTUAL": "R0", "ESTIMATED": "E0", "MISSING": "N0"}


def cmep_record(meter_id: str, units: str, interval: str, triplets: list[tuple[str, ...]]) -> str:
    head = ["MEPMD01", "20080501", SENDER, "", RECEIVER, "", stamp(CREATED, TORONTO), meter_id]
    head += ["OK", "E", units, "1", interval, str(len(triplets))]
    return ",".join(head + [field for triplet in triplets for field in triplet])


def cmep(data: tuple[MeterReads, ...]) -> str:
    """An interval record (stamps: interval end, local prevailing time) and a register record."""
    lines = []
    for reads in data:
        triplets = [
            (stamp(iv.end, TORONTO), CMEP_QUALITY[iv.flag], "" if iv.wh is None else kwh(iv.wh))
            for iv in reads.intervals
        ]
        lines.append(cmep_record(reads.meter.meter_id, "KWH", "00000100", triplets))
        registers = [
            (stamp(PERIOD_START, TORONTO), "R0", kwh(reads.meter.register_start_wh)),
            (stamp(PERIOD_END, TORONTO), "R0", kwh(reads.register_end_wh)),
        ]
        lines.append(cmep_record(reads.meter.meter_id, "KWHREG", "00000000", registers))
    return "\n".join(lines) + "\n"


# --- MV-90 HHF text rendering (README section 2) ------------------------------------------------

MV90_STATUS = {"ACTUAL": "", "ESTIMATED": "16", "MISSING": "7"}


def mv90(data: tuple[MeterReads, ...]) -> str:
    """H0, then R, C and one D per interval (end, standard time, pulses of 1 Wh), then T."""
    lines = [f"H0,{stamp(CREATED, EST)},MV90XI,HHFTXT1,-0500,N"]
    for reads in data:
        m, start, stop = reads.meter, stamp(PERIOD_START, EST), stamp(PERIOD_END, EST)
        lines.append(f"R,{m.recorder},{m.meter_id},{start},{stop},60,1")
        registers = f"{kwh(m.register_start_wh)},{kwh(reads.register_end_wh)}"
        lines.append(f"C,{m.recorder},1,KWH,0.001,1,{registers}")
        for iv in reads.intervals:
            pulses = 0 if iv.wh is None else iv.wh  # 7 = data missing: the 0 means nothing
            lines.append(f"D,{m.recorder},1,{stamp(iv.end, EST)},{pulses},{MV90_STATUS[iv.flag]}")
    lines.append(f"T,{len(data)},{len(lines) + 1}")
    return "\n".join(lines) + "\n"


# --- Green Button / NAESB REQ.21 ESPI (README section 3) ----------------------------------------

GB_BASE = "https://greenbutton.hesa.example/DataCustodian/espi/1_1/resource"
GB_SUBSCRIPTION = "7c3e9b20"
GB_UPDATED = zulu(CREATED)

GB_ENTRY = """\
  <entry>
    <id>urn:uuid:{id}</id>
{links}
    {title}
    <content>
{content}
    </content>
    <published>{updated}</published>
    <updated>{updated}</updated>
  </entry>"""

GB_LOCAL_TIME = """\
      <LocalTimeParameters xmlns="http://naesb.org/espi">
        <dstEndRule>B40E2000</dstEndRule>
        <dstOffset>3600</dstOffset>
        <dstStartRule>360E2000</dstStartRule>
        <tzOffset>-18000</tzOffset>
      </LocalTimeParameters>"""

GB_USAGE_POINT = """\
      <UsagePoint xmlns="http://naesb.org/espi">
        <ServiceCategory><kind>0</kind></ServiceCategory>
      </UsagePoint>"""

GB_READING_TYPE = """\
      <ReadingType xmlns="http://naesb.org/espi">
        <accumulationBehaviour>4</accumulationBehaviour>
        <commodity>1</commodity>
        <currency>124</currency>
        <dataQualifier>12</dataQualifier>
        <flowDirection>1</flowDirection>
        <intervalLength>3600</intervalLength>
        <kind>12</kind>
        <phase>769</phase>
        <powerOfTenMultiplier>0</powerOfTenMultiplier>
        <timeAttribute>0</timeAttribute>
        <uom>72</uom>
      </ReadingType>"""

GB_READING = """\
        <IntervalReading>
{quality}          <timePeriod><duration>3600</duration><start>{start}</start></timePeriod>
          <value>{value}</value>
        </IntervalReading>"""


def gb_entry(uuid: str, links: list[tuple[str, str]], title: str, content: str) -> str:
    rendered = "\n".join(f'    <link rel="{rel}" href="{GB_BASE}/{href}"/>' for rel, href in links)
    title_tag = f"<title>{title}</title>" if title else "<title/>"
    return GB_ENTRY.format(
        id=uuid, links=rendered, title=title_tag, content=content, updated=GB_UPDATED
    )


def gb_uuid(meter_no: int, kind: int, n: int = 0) -> str:
    return f"{GB_SUBSCRIPTION}-{meter_no:04d}-4{n:03d}-8000-{kind:06d}{meter_no:06d}"


def gb_block(reads: MeterReads, day: date) -> str:
    """One local day's IntervalBlock; the missing reading is simply absent (a gap)."""
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    readings = []
    for iv in reads.intervals:
        if not start <= iv.start < end or iv.wh is None:
            continue
        quality = "          <ReadingQuality><quality>8</quality></ReadingQuality>\n"
        readings.append(
            GB_READING.format(
                quality=quality if iv.flag == "ESTIMATED" else "",
                start=epoch(iv.start),
                value=iv.wh,
            )
        )
    return "\n".join(
        [
            '      <IntervalBlock xmlns="http://naesb.org/espi">',
            "        <interval>",
            f"          <duration>{int((end - start).total_seconds())}</duration>",
            f"          <start>{epoch(start)}</start>",
            "        </interval>",
            *readings,
            "      </IntervalBlock>",
        ]
    )


def gb_meter_entries(no: int, reads: MeterReads) -> list[str]:
    meter_id = reads.meter.meter_id
    point = f"Subscription/{GB_SUBSCRIPTION}/UsagePoint/{meter_id}"
    reading = f"{point}/MeterReading/1"
    reading_type = f"ReadingType/RT{no:02d}"
    entries = [
        gb_entry(
            gb_uuid(no, 1),
            [
                ("self", point),
                ("up", f"Subscription/{GB_SUBSCRIPTION}/UsagePoint"),
                ("related", f"{point}/MeterReading"),
                ("related", "LocalTimeParameters/1"),
            ],
            meter_id,
            GB_USAGE_POINT,
        ),
        gb_entry(
            gb_uuid(no, 2),
            [
                ("self", reading),
                ("up", f"{point}/MeterReading"),
                ("related", f"{reading}/IntervalBlock"),
                ("related", reading_type),
            ],
            "Hourly Electricity Consumption",
            '      <MeterReading xmlns="http://naesb.org/espi"/>',
        ),
        gb_entry(
            gb_uuid(no, 3),
            [("self", reading_type), ("up", "ReadingType")],
            "Energy Delivered (Wh)",
            GB_READING_TYPE,
        ),
    ]
    for n, day in enumerate(DAYS, start=1):
        links = [("self", f"{reading}/IntervalBlock/{n}"), ("up", f"{reading}/IntervalBlock")]
        entries.append(gb_entry(gb_uuid(no, 4, n), links, "", gb_block(reads, day)))
    return entries


def green_button(data: tuple[MeterReads, ...]) -> str:
    """An Atom feed: LocalTimeParameters, then per meter UsagePoint, MeterReading, ReadingType
    and one IntervalBlock per local day (86400 s, then 82800 s on the DST day)."""
    entries = [
        gb_entry(
            gb_uuid(0, 1),
            [("self", "LocalTimeParameters/1"), ("up", "LocalTimeParameters")],
            "DST For North America",
            GB_LOCAL_TIME,
        )
    ]
    for no, reads in enumerate(data, start=1):
        entries += gb_meter_entries(no, reads)
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- OpenMDMR sample (tests/data/generate.py): NAESB REQ.21 ESPI usage feed. -->",
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>urn:uuid:{gb_uuid(0, 0)}</id>",
        "  <title>Green Button Usage Feed</title>",
        f"  <updated>{GB_UPDATED}</updated>",
        f'  <link rel="self" href="{GB_BASE}/Batch/Subscription/{GB_SUBSCRIPTION}"/>',
    ]
    return "\n".join([*head, *entries, "</feed>"]) + "\n"


# --- IEC 61968-9 MeterReadings in an EventMessage (README section 4) ---------------------------

IEC_DELTA_60 = "0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"  # hourly delta, forward, energy, kWh
IEC_BULK = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"  # bulk register, kWh
IEC_QUALITY = {"ESTIMATED": "2.8.0", "MISSING": "2.5.259"}  # README: estimated; not acquired

IEC_HEAD = """\
<?xml version="1.0" encoding="UTF-8"?>
<EventMessage xmlns="http://iec.ch/TC57/2011/schema/message">
  <Header>
    <Verb>created</Verb>
    <Noun>MeterReadings</Noun>
    <Revision>2.0</Revision>
    <Timestamp>{created}</Timestamp>
    <Source>{sender}</Source>
    <MessageID>6b8d2f4e-1c37-4a9b-8e52-d07a3c1f9e24</MessageID>
  </Header>
  <Payload>
    <MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#">"""

IEC_TAIL = """\
    </MeterReadings>
  </Payload>
</EventMessage>"""

IEC_METER = """\
        <Meter>
          <mRID>{recorder}</mRID>
          <Names>
            <name>{meter_id}</name>
            <NameType>
              <name>MeterSerialNumber</name>
              <NameTypeAuthority><name>OPENMDMR</name></NameTypeAuthority>
            </NameType>
          </Names>
        </Meter>"""

IEC_REGISTER = """\
        <Readings>
          <reason>billing</reason>
          <timeStamp>{at}</timeStamp>
          <value>{value}</value>
          <ReadingType ref="{IEC_BULK}"/>
        </Readings>"""


def iec_reading(iv: Interval) -> str:
    """IntervalReadings: timeStamp (interval end, local offset), value?, ReadingQualities*."""
    lines = [
        "          <IntervalReadings>",
        f"            <timeStamp>{local_iso(iv.end)}</timeStamp>",
    ]
    if iv.wh is not None:
        lines.append(f"            <value>{kwh(iv.wh)}</value>")
    if iv.flag in IEC_QUALITY:
        lines += [
            "            <ReadingQualities>",
            f'              <ReadingQualityType ref="{IEC_QUALITY[iv.flag]}"/>',
            "            </ReadingQualities>",
        ]
    return "\n".join([*lines, "          </IntervalReadings>"])


def iec61968_9(data: tuple[MeterReads, ...]) -> str:
    """One MeterReading per meter: its IntervalBlocks, the Meter, the two register Readings."""
    out = [IEC_HEAD.format(created=local_iso(CREATED), sender=SENDER)]
    for reads in data:
        m = reads.meter
        out += ["      <MeterReading>", "        <IntervalBlocks>"]
        out += [iec_reading(iv) for iv in reads.intervals]
        out += [f'          <ReadingType ref="{IEC_DELTA_60}"/>', "        </IntervalBlocks>"]
        out.append(IEC_METER.format(recorder=m.recorder, meter_id=m.meter_id))
        for at, wh in ((PERIOD_START, m.register_start_wh), (PERIOD_END, reads.register_end_wh)):
            out.append(IEC_REGISTER.format(at=local_iso(at), value=kwh(wh), IEC_BULK=IEC_BULK))
        out.append("      </MeterReading>")
    return "\n".join([*out, IEC_TAIL]) + "\n"


# --- MultiSpeak V5.0 intervalData (README section 5) --------------------------------------------

MULTISPEAK_HEAD = """\
<?xml version="1.0" encoding="UTF-8"?>
<intervalData xmlns="http://www.multispeak.org/V5.0" \
xmlns:com="http://www.multispeak.org/V5.0/commonTypes">
  <statusDelimiter>:</statusDelimiter>
  <intervalDelimiter>,</intervalDelimiter>
  <comment>OpenMDMR sample (tests/data/generate.py), hourly delivered kWh</comment>
  <profiles>
    <intervalProfile profileID="KWH-60">
      <name>Delivered kWh, 60-minute</name>
      <intervalLength units="Minutes">60</intervalLength>
      <channels>
        <channel channelID="1">
          <readingTypeCode>kWh</readingTypeCode>
          <uom>kWh</uom>
          <multiplier>1</multiplier>
        </channel>
      </channels>
    </intervalProfile>
  </profiles>
  <blocks>"""

MULTISPEAK_BLOCK = """\
    <intervalBlock>
      <profileID>KWH-60</profileID>
      <meterID meterName="{meter_id}" serviceType="Electric" utility="OPENMDMR">{meter_id}</meterID>
      <logTime>{log_time}</logTime>
      <intervalStart>{start}</intervalStart>
      <dB>
        <chs>
          <ch>{ch}</ch>
        </chs>
      </dB>
    </intervalBlock>"""

MULTISPEAK_TAIL = """\
  </blocks>
</intervalData>"""


def ms_slot(iv: Interval) -> str:
    """A value, a value and its status, or nothing (a missing interval)."""
    if iv.wh is None:
        return ""
    return kwh(iv.wh) + (":Estimated" if iv.flag == "ESTIMATED" else "")


def multispeak(data: tuple[MeterReads, ...]) -> str:
    """One intervalBlock per meter: the start of its first interval, then the slots in order."""
    blocks = [
        MULTISPEAK_BLOCK.format(
            meter_id=reads.meter.meter_id,
            log_time=local_iso(CREATED),
            start=local_iso(reads.intervals[0].start),
            ch=",".join(ms_slot(iv) for iv in reads.intervals),
        )
        for reads in data
    ]
    return "\n".join([MULTISPEAK_HEAD, *blocks, MULTISPEAK_TAIL]) + "\n"


# --- the generic CSV (README section 6) ---------------------------------------------------------

CSV_FLAG = {"ACTUAL": "A", "ESTIMATED": "E", "MISSING": "M"}


def csv(data: tuple[MeterReads, ...]) -> str:
    """meter_id,timestamp (interval end, local offset),kwh,quality_flag; sorted by meter, time."""
    rows = ["meter_id,timestamp,kwh,quality_flag"]
    for reads in data:
        for iv in reads.intervals:
            value = "" if iv.wh is None else kwh(iv.wh)
            rows.append(f"{reads.meter.meter_id},{local_iso(iv.end)},{value},{CSV_FLAG[iv.flag]}")
    return "\n".join(rows) + "\n"


# --- the canonical outputs and the registry -----------------------------------------------------


def expected(data: tuple[MeterReads, ...]) -> str:
    """What every interface must parse to: one row per interval, UTC start and end, kWh, flag."""
    rows = ["meter_id,interval_start_utc,interval_end_utc,kwh,flag"]
    for reads in sorted(data, key=lambda r: r.meter.meter_id):
        for iv in reads.intervals:
            value = "" if iv.wh is None else kwh(iv.wh)
            rows.append(f"{reads.meter.meter_id},{zulu(iv.start)},{zulu(iv.end)},{value},{iv.flag}")
    return "\n".join(rows) + "\n"


def expected_registers(data: tuple[MeterReads, ...]) -> str:
    rows = ["meter_id,read_time_utc,register_kwh,carried_by"]
    for reads in data:
        for at, wh in (
            (PERIOD_START, reads.meter.register_start_wh),
            (PERIOD_END, reads.register_end_wh),
        ):
            rows.append(f"{reads.meter.meter_id},{zulu(at)},{kwh(wh)},cmep;mv90_hhf;iec61968_9")
    return "\n".join(rows) + "\n"


def registry(data: tuple[MeterReads, ...]) -> str:
    """The LDC's registry sync file: one open SDP-meter relationship per meter."""
    rows = [
        "sdp_id,meter_id,rate_class,commodity_rate_class,postal_code,service_multiplier,"
        "ami_headend,billing_agent,bidirectional,effective_from,effective_to"
    ]
    for reads in data:
        m = reads.meter
        rows.append(
            f"{m.sdp_id},{m.meter_id},{m.rate_class},{m.commodity_rate_class},{m.postal_code},"
            f"1,{SENDER},BILLCO,false,2025-01-01,"
        )
    return "\n".join(rows) + "\n"


# --- the malformed files of the README's table: the good files with one defect each ------------

BILLION_LAUGHS = "\n".join(
    [
        "<!DOCTYPE {root} [",
        '  <!ENTITY lol "lol">',
        *(
            f'  <!ENTITY lol{i} "{("&lol" + ("" if i == 1 else str(i - 1)) + ";") * 10}">'
            for i in range(1, 10)
        ),
        "]>",
    ]
)
XXE = '<!DOCTYPE {root} [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>'


def with_doctype(text: str, doctype: str, root: str, old: str, entity: str) -> str:
    """The DOCTYPE after the XML declaration (line 2), and ``old`` (once) replaced by the entity."""
    declaration, rest = text.split("\n", 1)
    assert old in rest, old
    rest = rest.replace(old, old.split(">", 1)[0] + f">&{entity};<" + old.rsplit("<", 1)[1], 1)
    return f"{declaration}\n{doctype.format(root=root)}\n{rest}"


def replace_line(text: str, number: int, change: Callable[[str], str]) -> str:
    lines = text.split("\n")
    lines[number - 1] = change(lines[number - 1])
    return "\n".join(lines)


def set_field(line: str, index: int, change: Callable[[str], str]) -> str:
    fields = line.split(",")
    fields[index] = change(fields[index])
    return ",".join(fields)


def letter_o(digits: str) -> str:
    """The last digit typed as the letter O: '1873' -> '187O'."""
    return digits[:-1] + "O"


def cmep_bad(good: str) -> dict[str, str]:
    first, second, third = good.split("\n")[:3]
    fields = third.split(",")
    swapped = first.split(",")
    # Triplets 10 and 11 (fields 15 + 3 x 9 and 15 + 3 x 10, 1-based) swap their stamps.
    a, b = 14 + 3 * 9, 14 + 3 * 10
    swapped[a], swapped[b] = swapped[b], swapped[a]
    return {
        # 47 triplets declared (155 fields), cut in the 16th triplet's stamp: 60 fields, no newline
        "truncated.txt": f"{first}\n{second}\n" + ",".join(fields[:59]) + "," + fields[59][:2],
        "count_mismatch.txt": set_field(first, 13, lambda _: "48") + "\n",
        "out_of_order.txt": ",".join(swapped) + "\n",
    }


def mv90_bad(good: str) -> dict[str, str]:
    lines = good.split("\n")
    return {
        "truncated_no_trailer.txt": "\n".join(lines[:60]) + "\n",
        "non_numeric_pulses.txt": replace_line(good, 21, lambda x: set_field(x, 4, letter_o)),
        "wrong_field_count.txt": replace_line(good, 3, lambda x: ",".join(x.split(",")[:5])),
    }


def green_button_bad(good: str) -> dict[str, str]:
    data = good.encode()
    return {
        "truncated.xml": data[: len(data) // 3].decode(),
        "billion_laughs.xml": with_doctype(
            good, BILLION_LAUGHS, "feed", "<title>Green Button Usage Feed</title>", "lol9"
        ),
        "xxe_external_entity.xml": with_doctype(
            good, XXE, "feed", f"<title>{METERS[0].meter_id}</title>", "xxe"
        ),
    }


def iec_bad(good: str) -> dict[str, str]:
    source = f"<Source>{SENDER}</Source>"
    first_value = f"<value>{kwh(CANONICAL[0].intervals[0].wh or 0)}</value>"
    return {
        "xxe_external_entity.xml": with_doctype(good, XXE, "EventMessage", source, "xxe"),
        "billion_laughs.xml": with_doctype(good, BILLION_LAUGHS, "EventMessage", source, "lol9"),
        "non_numeric_value.xml": good.replace(first_value, "<value>n/a</value>", 1),
    }


def multispeak_bad(good: str) -> dict[str, str]:
    comment = good[good.index("<comment>") : good.index("</comment>") + len("</comment>")]
    start = f"      <intervalStart>{local_iso(CANONICAL[1].intervals[0].start)}</intervalStart>\n"
    second_block = good.index(f'meterName="{METERS[1].meter_id}"')
    at = good.index(start, second_block)

    def sixth_slot(line: str) -> str:
        head, slots = line.split("<ch>")
        values = slots.split(",")
        values[5] = "0.4x1"
        return head + "<ch>" + ",".join(values)

    ch_line = good[: good.index("<ch>")].count("\n") + 1
    return {
        "billion_laughs.xml": with_doctype(good, BILLION_LAUGHS, "intervalData", comment, "lol9"),
        "xxe_external_entity.xml": with_doctype(good, XXE, "intervalData", comment, "xxe"),
        "non_numeric_slot.xml": replace_line(good, ch_line, sixth_slot),
        "missing_interval_start.xml": good[:at] + good[at + len(start) :],
    }


def csv_bad(good: str) -> dict[str, str]:
    lines = good.split("\n")
    lines[10], lines[11] = lines[11], lines[10]
    return {
        "wrong_field_count.csv": replace_line(good, 6, lambda x: x + ",extra"),
        "non_numeric_kwh.csv": replace_line(good, 8, lambda x: set_field(x, 2, letter_o)),
        "out_of_order.csv": "\n".join(lines),
    }


# --- the set ------------------------------------------------------------------------------------

INTERFACES: dict[str, tuple[str, Callable[[tuple[MeterReads, ...]], str]]] = {
    "cmep": ("cmep_MEPMD01_20260307_20260308.txt", cmep),
    "mv90_hhf": ("mv90_hhf_20260307_20260308.txt", mv90),
    "green_button": ("green_button_20260307_20260308.xml", green_button),
    "iec61968_9": ("meterreadings_20260307_20260308.xml", iec61968_9),
    "multispeak": ("intervaldata_20260307_20260308.xml", multispeak),
    "csv": ("intervals_20260307_20260308.csv", csv),
}
BAD: dict[str, Callable[[str], dict[str, str]]] = {
    "cmep": cmep_bad,
    "mv90_hhf": mv90_bad,
    "green_button": green_button_bad,
    "iec61968_9": iec_bad,
    "multispeak": multispeak_bad,
    "csv": csv_bad,
}


def build(data: tuple[MeterReads, ...] = CANONICAL) -> dict[str, bytes]:
    """Every file of the set by its path under ``samples/`` (``/``-separated)."""
    files = {
        "expected.csv": expected(data),
        "expected_registers.csv": expected_registers(data),
        "registry.csv": registry(data),
    }
    for interface, (name, write) in INTERFACES.items():
        good = write(data)
        files[f"{interface}/{name}"] = good
        for bad_name, text in BAD[interface](good).items():
            files[f"bad/{interface}/{bad_name}"] = text
    return {path: text.encode("utf-8") for path, text in sorted(files.items())}


def on_disk(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.relative_to(root).as_posix()


def differences(root: Path, files: dict[str, bytes]) -> list[str]:
    """One line per file that differs from what this module writes, is missing, or is extra."""
    problems = []
    for path, content in files.items():
        target = root / path
        if not target.is_file():
            problems.append(f"missing: {target}")
        elif target.read_bytes() != content:
            problems.append(f"differs: {target}")
    problems += [f"unexpected: {root / p}" for p in on_disk(root) if p not in files]
    return problems


def write(root: Path, files: dict[str, bytes]) -> None:
    for path in on_disk(root) if root.exists() else ():
        if path not in files:
            (root / path).unlink()
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.data.generate", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="compare, write nothing; 1 if any differ"
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"the folder (default {OUT})")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        problems = differences(args.out, files)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("run `python -m tests.data.generate` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} files in {args.out} are what tests/data/generate.py writes")
        return 0
    write(args.out, files)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
