"""Reading intervals back out: stored days -> flat arrays of intervals (vectorised)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from meters.models import IntervalDay, Meter
from meters.reads.day_arrays import NEVER, IntervalFlag, slots_per_day, unpack_rows
from meters.reads.interfaces.base import Quality
from portal.calendar.localtime import day_number
from portal.tenancy import LDC

DAY_S = 86_400
CURRENT_FLAG_NAMES = np.array(["ACTUAL", "ESTIMATED", "EDITED", "MISSING"])
QUALITY_NAMES = np.array([q.name for q in Quality])


@dataclass
class Intervals:
    """Flat interval columns for one or more meters, sorted by meter, channel, start."""

    meter: np.ndarray  # str serial
    channel: np.ndarray
    start: np.ndarray  # UTC epoch s
    minutes: np.ndarray
    wh: np.ndarray
    flags: np.ndarray  # current IntervalFlag bits
    raw_wh: np.ndarray
    raw_quality: np.ndarray
    methods: np.ndarray  # uint8 VEE estimation method (0 none)
    rules: np.ndarray  # uint32 bits of the validation rules that fired

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def select(self, mask: np.ndarray) -> Intervals:
        return Intervals(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def local_range_utc(start: dt.date, end: dt.date, tz: ZoneInfo) -> tuple[int, int]:
    """UTC epoch seconds [from, to) of local dates start..end inclusive."""
    first = dt.datetime.combine(start, dt.time(), tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    return int(first.timestamp()), int(after.timestamp())


_DAY_FIELDS = (
    "meter_id",
    "channel",
    "day",
    "interval_minutes",
    "wh",
    "flags",
    "raw_wh",
    "raw_quality",
    "methods",
    "rules",
)


def _day_rows(ldc: LDC, first: int, after: int, meters: list[int] | None) -> Iterator[tuple]:
    rows = IntervalDay.objects.for_ldc(ldc).filter(
        day__gte=dt.date(1970, 1, 1) + dt.timedelta(days=first // DAY_S),
        day__lte=dt.date(1970, 1, 1) + dt.timedelta(days=(after - 1) // DAY_S),
    )
    if meters is not None:
        rows = rows.filter(meter_id__in=meters)
    ordered = rows.order_by("meter_id", "channel", "day").values_list(*_DAY_FIELDS)
    return ordered.iterator(chunk_size=2000)


def intervals_between(
    ldc: LDC, first: int, after: int, *, meters: list[int] | None = None
) -> Intervals:
    """Every stored interval starting in [first, after) UTC, for all or some meters."""
    rows = list(_day_rows(ldc, first, after, meters))
    serials = dict(
        Meter.objects.for_ldc(ldc).filter(pk__in={r[0] for r in rows}).values_list("pk", "serial")
    )
    merged = _concat([_expand(group) for group in _by_minutes(rows)])
    merged = merged.select((merged.start >= first) & (merged.start < after))
    # Serials replace meter pks once per distinct meter, not per interval.
    pks, inverse = np.unique(merged.meter.astype(np.int64), return_inverse=True)
    names = np.array([serials[int(p)] for p in pks.tolist()], dtype=str)
    merged.meter = names[inverse] if len(pks) else np.empty(0, str)
    order = np.lexsort((merged.start, merged.channel, merged.meter))
    return merged.select(order)


def _by_minutes(rows: list[tuple]) -> Iterator[list[tuple]]:
    for minutes in sorted({r[3] for r in rows}):
        yield [r for r in rows if r[3] == minutes]


def _expand(rows: list[tuple]) -> Intervals:
    minutes = int(rows[0][3])
    n = slots_per_day(minutes)
    day = np.array([day_number(r[2]) for r in rows], dtype=np.int64)
    start = (day[:, None] * DAY_S + np.arange(n, dtype=np.int64)[None, :] * minutes * 60).ravel()
    return Intervals(
        meter=np.repeat(np.array([r[0] for r in rows], dtype=np.int64), n),
        channel=np.repeat(np.array([r[1] for r in rows], dtype=np.uint8), n),
        start=start,
        minutes=np.full(start.shape, minutes, np.int32),
        wh=unpack_rows([r[4] for r in rows], "<i4", n).ravel(),
        flags=unpack_rows([r[5] for r in rows], "u1", n).ravel(),
        raw_wh=unpack_rows([r[6] for r in rows], "<i4", n).ravel(),
        raw_quality=unpack_rows([r[7] for r in rows], "u1", n).ravel(),
        methods=_blobs_or_zeros([r[8] for r in rows], "u1", n),
        rules=_blobs_or_zeros([r[9] for r in rows], "<u4", n),
    )


def _blobs_or_zeros(blobs: list, dtype: str, n: int) -> np.ndarray:
    """Per-row blobs, zeros where VEE has not written one yet."""
    out = np.zeros((len(blobs), n), dtype=dtype)
    full = [i for i, b in enumerate(blobs) if len(b)]
    if full:
        out[full] = unpack_rows([blobs[i] for i in full], dtype, n)
    return out.ravel()


def _concat(parts: list[Intervals]) -> Intervals:
    if not parts:
        empty = np.empty(0, np.int64)
        return Intervals(
            empty,
            empty.astype(np.uint8),
            empty,
            empty.astype(np.int32),
            empty,
            empty.astype(np.uint8),
            empty,
            empty.astype(np.uint8),
            empty.astype(np.uint8),
            empty.astype(np.uint32),
        )
    return Intervals(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Intervals.__dataclass_fields__)
    )


def current_flag_names(flags: np.ndarray) -> np.ndarray:
    """ACTUAL / ESTIMATED / EDITED / MISSING of current flag bits."""
    code = np.zeros(flags.shape, np.int8)
    code[(flags & IntervalFlag.ESTIMATED) != 0] = 1
    code[(flags & IntervalFlag.EDITED) != 0] = 2
    code[(flags & IntervalFlag.MISSING) != 0] = 3
    return CURRENT_FLAG_NAMES[code]


def kwh_text(wh: np.ndarray) -> np.ndarray:
    """'1.234' strings of watt-hours, three decimals, vectorised."""
    wh = np.asarray(wh, np.int64)
    if not wh.size:  # np.strings.zfill of nothing raises (an empty range exports a header)
        return np.empty(wh.shape, dtype=str)
    sign = np.where(wh < 0, "-", "")
    whole = (np.abs(wh) // 1000).astype(str)
    frac = np.strings.zfill((np.abs(wh) % 1000).astype(str), 3)
    return np.strings.add(np.strings.add(np.strings.add(sign, whole), "."), frac)


def iso_utc(epoch: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(np.asarray(epoch, np.int64).astype("datetime64[s]"), unit="s")
    return np.strings.add(text, "Z")


def as_received_columns(iv: Intervals) -> list[np.ndarray]:
    """expected.csv columns: values and head-end flags as received; intervals no file mentioned
    are left out."""
    iv = iv.select(iv.raw_quality != NEVER)
    missing = iv.raw_quality == Quality.MISSING
    kwh = np.where(missing, "", kwh_text(iv.raw_wh))
    end = iv.start + iv.minutes.astype(np.int64) * 60
    return [iv.meter, iso_utc(iv.start), iso_utc(end), kwh, QUALITY_NAMES[iv.raw_quality]]


def current_columns(iv: Intervals) -> list[np.ndarray]:
    """Current values (after VEE and edits) with ACTUAL/ESTIMATED/EDITED/MISSING, then the raw."""
    names = current_flag_names(iv.flags)
    kwh = np.where(names == "MISSING", "", kwh_text(iv.wh))
    end = iv.start + iv.minutes.astype(np.int64) * 60
    received = iv.raw_quality != NEVER
    raw_flag = np.where(received, QUALITY_NAMES[np.minimum(iv.raw_quality, 3)], "")
    raw_kwh = np.where(received & (iv.raw_quality != Quality.MISSING), kwh_text(iv.raw_wh), "")
    method = np.where(iv.methods > 0, np.strings.add("E", iv.methods.astype(str)), "")
    return [
        iv.meter,
        iso_utc(iv.start),
        iso_utc(end),
        kwh,
        names,
        iv.channel.astype(str),
        raw_kwh,
        raw_flag,
        method,
        rule_names(iv.rules),
    ]


AS_RECEIVED_HEADER = ["meter_id", "interval_start_utc", "interval_end_utc", "kwh", "flag"]
CURRENT_HEADER = [
    *AS_RECEIVED_HEADER,
    "channel",
    "received_kwh",
    "received_flag",
    "estimation_method",
    "rules_failed",
]


def rule_names(bits: np.ndarray) -> np.ndarray:
    """'V05;V07' per interval from rule bits (one vectorised pass per rule)."""
    from meters.vee import RULE_IDS, rule_bit

    out = np.full(bits.shape, "", dtype=object)
    for rule in RULE_IDS:
        fired = (bits & np.uint32(rule_bit(rule))) != 0
        out[fired] = np.where(out[fired] == "", rule, out[fired] + ";" + rule)
    return out.astype(str)


def csv_lines(columns: list[np.ndarray]) -> np.ndarray:
    """Join columns into CSV lines (values here never need quoting)."""
    if not len(columns[0]):
        return np.empty(0, dtype=str)
    line = columns[0].astype(str)
    for column in columns[1:]:
        line = np.strings.add(np.strings.add(line, ","), column.astype(str))
    return line
