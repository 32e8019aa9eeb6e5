"""Read success: per LDC and local day, the actual reads delivered against the reads expected of
its installed meters. Each LDC must deliver at least 98.0 % of its reads daily (DESIGN.md); this
is the one count behind the LDC's dashboard, the SME's rollout table, its weekly data-quality
page and the weekly snapshots, so the same LDC and day show the same figure everywhere (a file's
data-collection report and VEE's V16 count the same way over their own reads).

- A read is delivered when an interval holds an actual value: some file mentioned it, and it is
  neither missing nor an estimate (channel 1, delivered energy).
- Expected are the intervals of the local day (23 or 25 hours on DST days) of every meter
  installed at an SDP that day, at the LDC's usual interval length (hourly when nothing is
  stored); never fewer than the intervals received, so a rate cannot pass 100 %.
- Days are the LDC's local days: the stored days of one UTC day are split at local midnight
  (one split per LDC, UTC day and interval length, counted with numpy), reading only the flags
  column.

Counted once per LDC and day and kept in the cache until that LDC's reads change (``forget``, on
every committed delivery, VEE run and edit): at province scale a coordinator's page recounts only
the LDCs that received reads. One key per LDC and day, dropped by date, so nothing remembers keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from meters.models import IntervalDay, MeterInstallation
from meters.reads.day_arrays import IntervalFlag, slots_per_day
from meters.reads.spool import OBLIGATION_PCT
from portal.calendar.localtime import date_of, day_number, local_day_bounds, local_days
from portal.tenancy import LDC

WINDOW_DAYS = 7  # the obligation is watched over a week
CACHE_S = 24 * 3600  # per LDC and day; dropped when that LDC's reads change
FORGET_DAYS = 45  # days back a change of reads can touch (late files, edits)
CHUNK_ROWS = 5000  # stored days fetched at a time (SQLite)
GROUPS_FETCHED = 4  # (LDC, day, length) groups fetched at a time (PostgreSQL)
NOT_ACTUAL = int(IntervalFlag.MISSING | IntervalFlag.ESTIMATED)
DAY_S = 86400


@dataclass(frozen=True)
class DayReads:
    """One LDC's local day."""

    delivered: int  # intervals holding an actual read
    expected: int  # intervals expected of the meters installed that day (>= received)
    received: int  # intervals some file mentioned (actual, estimate or reported missing)
    meters: int  # meters installed at an SDP that day

    @property
    def pct(self) -> float | None:
        """Read success in %, or None when no read was expected."""
        return round(100.0 * self.delivered / self.expected, 2) if self.expected else None

    @property
    def meets_obligation(self) -> bool | None:
        pct = self.pct
        return None if pct is None else pct >= OBLIGATION_PCT


NOTHING = DayReads(0, 0, 0, 0)
PerDay = dict[dt.date, DayReads]


def success_pct(per_day: PerDay | None) -> float | None:
    """Read success over the days, in % (delivered over expected, summed), or None."""
    if not per_day:
        return None
    delivered = sum(v.delivered for v in per_day.values())
    expected = sum(v.expected for v in per_day.values())
    return round(100.0 * delivered / expected, 2) if expected else None


def window(end: dt.date | None = None, days: int = WINDOW_DAYS) -> list[dt.date]:
    """The ``days`` local days up to ``end`` (default: yesterday, the last whole day)."""
    end = end or timezone.localdate() - dt.timedelta(days=1)
    return [end - dt.timedelta(days=days - 1 - i) for i in range(days)]


def ldc_read_success(ldc: LDC, days: Sequence[dt.date]) -> PerDay:
    """One LDC's consecutive local ``days``, each one there (NOTHING where nothing counted)."""
    per_day = read_success(days, ldc=ldc).get(ldc.pk, {})
    return {day: per_day.get(day, NOTHING) for day in days}


def _key(ldc_id: int, day: dt.date) -> str:
    return f"read-success:{ldc_id}:{day.isoformat()}"


def read_success(days: Sequence[dt.date], ldc: LDC | None = None) -> dict[int, PerDay]:
    """Per LDC (only ``ldc``, or every LDC) and each of the consecutive local ``days``. LDCs with
    neither meters installed nor reads in the days are left out."""
    ldcs = [ldc] if ldc is not None else list(LDC.objects.only("pk", "time_zone"))
    keys = {(x.pk, day): _key(x.pk, day) for x in ldcs for day in days}
    known = cache.get_many(list(keys.values()))
    todo = {(x_pk, day) for (x_pk, day), key in keys.items() if key not in known}
    if todo:
        # Only the days not counted yet (a delivery forgets the days it touched), of the LDCs
        # that lack them.
        first, last = min(day for _, day in todo), max(day for _, day in todo)
        span = [day for day in days if first <= day <= last]
        again = {x_pk for x_pk, _ in todo}
        counted = _count(span, [x for x in ldcs if x.pk in again])
        fresh = {
            keys[(x_pk, day)]: astuple(counted[x_pk][day]) if x_pk in counted else None
            for x_pk in again
            for day in span
        }
        cache.set_many(fresh, CACHE_S)
        known.update(fresh)
    out: dict[int, PerDay] = {}
    for x in ldcs:
        per_day = {day: known.get(keys[(x.pk, day)]) for day in days}
        if any(v is not None for v in per_day.values()):
            out[x.pk] = {day: DayReads(*v) if v else NOTHING for day, v in per_day.items()}
    return out


def forget(ldc: LDC, first_day: int | None = None, last_day: int | None = None) -> None:
    """That LDC's reads of UTC days ``first_day`` to ``last_day`` (day numbers) changed: the local
    days they fall in are counted again on the next look. Without days: the last FORGET_DAYS."""
    if first_day is None or last_day is None:
        last_day = day_number(timezone.localdate()) + 1
        first_day = last_day - FORGET_DAYS
    utc = np.array([first_day * DAY_S, (last_day + 1) * DAY_S - 1], np.int64)
    first, last = local_days(utc, ZoneInfo(ldc.time_zone)).tolist()
    cache.delete_many([_key(ldc.pk, date_of(day)) for day in range(first, last + 1)])


def installed_counts(
    days: Sequence[dt.date], ldc_ids: Iterable[int] | None = None
) -> dict[int, list[int]]:
    """Meters installed at an SDP per LDC (every LDC, or those of ``ldc_ids``) on each of
    ``days``: one query, a conditional count per day."""
    counts = {
        f"d{i}": Count("meter_id", filter=_installed_on(day), distinct=True)
        for i, day in enumerate(days)
    }
    installed = MeterInstallation.objects.all()
    if ldc_ids is not None:
        installed = installed.filter(ldc_id__in=list(ldc_ids))
    rows = installed.order_by().values("ldc_id").annotate(**counts)
    return {row["ldc_id"]: [row[f"d{i}"] for i in range(len(days))] for row in rows}


def _installed_on(day: dt.date) -> Q:
    # [effective_from, effective_to], both inclusive (meters.models.EffectiveDated)
    return Q(effective_from__lte=day) & (Q(effective_to__isnull=True) | Q(effective_to__gte=day))


@lru_cache(maxsize=8192)
def _split(tz: ZoneInfo, day: int, minutes: int) -> tuple[int, int]:
    """Where local midnight cuts stored UTC day ``day`` of ``minutes`` intervals: the first slot
    of the later local day, and the local day of the slots before it (the later one is +1)."""
    base, step = day * DAY_S, minutes * 60
    midnight, left = local_day_bounds(tz, day)[0], day - 1
    if midnight < base:  # east of UTC: the local day begun before this UTC day ends in it
        midnight, left = local_day_bounds(tz, day + 1)[0], day
    return min(slots_per_day(minutes), -(-(midnight - base) // step)), left


class _Tally:
    """Delivered and received intervals per (LDC, local day), and each LDC's interval lengths."""

    def __init__(self, ldcs: list[LDC], first: int, n_days: int) -> None:
        self.ids = sorted(x.pk for x in ldcs)
        self.index = {ldc_id: i for i, ldc_id in enumerate(self.ids)}
        self.tz = {x.pk: ZoneInfo(x.time_zone) for x in ldcs}
        self.first, self.n_days = first, n_days
        self.counts = np.zeros((len(self.ids), n_days, 2), np.int64)  # delivered, received
        self.lengths: dict[tuple[int, int], int] = {}  # (ldc, minutes) -> stored days

    def add(self, ldc_id: int, day: int, minutes: int, flags: bytes) -> None:
        """Stored days of one LDC, UTC ``day`` and interval length, their flags end to end."""
        n = slots_per_day(minutes)
        matrix = np.frombuffer(flags, np.uint8).reshape(-1, n)
        key = (ldc_id, minutes)
        self.lengths[key] = self.lengths.get(key, 0) + matrix.shape[0]
        received = (matrix & IntervalFlag.RECEIVED) != 0
        delivered = received & ((matrix & NOT_ACTUAL) == 0)
        at, left = _split(self.tz[ldc_id], day, minutes)
        where = self.counts[self.index[ldc_id]]
        for local, part in ((left, slice(0, at)), (left + 1, slice(at, n))):
            if 0 <= local - self.first < self.n_days:
                where[local - self.first, 0] += np.count_nonzero(delivered[:, part])
                where[local - self.first, 1] += np.count_nonzero(received[:, part])

    def usual_length(self, ldc_id: int) -> int:
        mine = {length: n for (x, length), n in self.lengths.items() if x == ldc_id}
        return max(mine, key=lambda length: (mine[length], -length)) if mine else 60


# Channel 1's stored days grouped by LDC, UTC day and interval length, their flags end to end:
# PostgreSQL does the grouping (sorted, streamed to a server-side cursor a few groups at a time),
# so no Python runs per stored day. Days whose flags do not fit their length are left out.
_GROUPS_PG = (
    "SELECT ldc_id, day, interval_minutes, string_agg(flags, ''::bytea) "
    "FROM meters_intervalday WHERE ldc_id = ANY(%s) AND channel = 1 AND day BETWEEN %s AND %s "
    "AND length(flags) * interval_minutes = 1440 GROUP BY ldc_id, day, interval_minutes"
)


def _stored_groups(
    ldcs: list[LDC], first: dt.date, last: dt.date
) -> Iterator[tuple[int, int, int, bytes]]:
    """(LDC, UTC day number, interval minutes, flags) of the stored days of UTC days first..last."""
    ids = [x.pk for x in ldcs]
    if connection.vendor == "postgresql":
        with connection.chunked_cursor() as cursor:
            cursor.execute(_GROUPS_PG, [ids, first, last])
            while rows := cursor.fetchmany(GROUPS_FETCHED):
                for ldc_id, day, minutes, flags in rows:
                    yield ldc_id, day_number(day), minutes, bytes(flags)
        return
    stored = IntervalDay.objects.for_ldc(ldcs[0]) if len(ldcs) == 1 else IntervalDay.objects
    rows = (
        stored.filter(ldc_id__in=ids, channel=1, day__gte=first, day__lte=last)
        .order_by("ldc_id", "day", "interval_minutes")
        .values_list("ldc_id", "day", "interval_minutes", "flags")
        .iterator(CHUNK_ROWS)
    )
    for (ldc_id, day, minutes), group in groupby(rows, key=itemgetter(0, 1, 2)):
        n = slots_per_day(minutes)
        flags = b"".join(bytes(row[3]) for row in group if len(row[3]) == n)
        yield ldc_id, day_number(day), minutes, flags


def _count(days: list[dt.date], ldcs: list[LDC]) -> dict[int, PerDay]:
    """Count the days from the stored reads: two queries, the flags of every stored day of the
    UTC days the local days span read once."""
    first = day_number(days[0])
    tally = _Tally(ldcs, first, len(days))
    # The UTC days the local days span, in every LDC's zone.
    zones = set(tally.tz.values())
    lo = min(local_day_bounds(tz, first)[0] for tz in zones) // DAY_S
    hi = max(local_day_bounds(tz, first + len(days) - 1)[1] - 1 for tz in zones) // DAY_S
    for group in _stored_groups(ldcs, date_of(lo), date_of(hi)):
        tally.add(*group)
    installed = installed_counts(days, tally.ids)
    out: dict[int, PerDay] = {}
    for index, ldc_id in enumerate(tally.ids):
        meters = installed.get(ldc_id, [0] * len(days))
        counts = tally.counts[index]
        if not any(meters) and not counts[:, 1].any():
            continue
        tz, length = tally.tz[ldc_id], tally.usual_length(ldc_id)
        per_day = {}
        for i, day in enumerate(days):
            start, end = local_day_bounds(tz, first + i)
            expected = meters[i] * ((end - start) // (length * 60))
            delivered, received = int(counts[i, 0]), int(counts[i, 1])
            per_day[day] = DayReads(delivered, max(expected, received), received, meters[i])
        out[ldc_id] = per_day
    return out
