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
- Days are the LDC's local days: a stored UTC day's intervals are split at local midnight, with
  numpy (one cumulative sum per stored day), reading only the flags column.

Counted once per LDC and day and kept in the cache until that LDC's reads change (``forget``, on
every committed delivery, VEE run and edit): at province scale a coordinator's page recounts only
the LDCs that received reads. One key per LDC and day, dropped by date, so nothing remembers keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from ldc.models import LDC
from meters.ingest import OBLIGATION_PCT
from meters.localtime import day_number, local_day_bounds
from meters.models import IntervalDay, MeterInstallation
from meters.runs import sorted_unique
from meters.storage import IntervalFlag, slots_per_day

CACHE_S = 24 * 3600  # per LDC and day; dropped when that LDC's reads change
FORGET_DAYS = 45  # days back a change of reads can touch (late files, edits)
CHUNK_ROWS = 5000  # stored days per numpy step while streaming
NOT_ACTUAL = int(IntervalFlag.MISSING | IntervalFlag.ESTIMATED)
DAY_S = 86400
EPOCH = dt.date(1970, 1, 1).toordinal()


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


def _key(ldc_id: int, day: dt.date) -> str:
    return f"read-success:{ldc_id}:{day.isoformat()}"


def read_success(days: Sequence[dt.date], ldc: LDC | None = None) -> dict[int, PerDay]:
    """Per LDC (only ``ldc``, or every LDC) and each of the consecutive local ``days``. LDCs with
    neither meters installed nor reads in the days are left out."""
    ldcs = [ldc] if ldc is not None else list(LDC.objects.only("pk", "time_zone"))
    keys = {(x.pk, day): _key(x.pk, day) for x in ldcs for day in days}
    known = cache.get_many(list(keys.values()))
    todo = {x_pk for (x_pk, _), key in keys.items() if key not in known}
    if todo:
        counted = _count(list(days), [x for x in ldcs if x.pk in todo])
        fresh = {
            key: astuple(counted[x_pk][day]) if x_pk in counted else None
            for (x_pk, day), key in keys.items()
            if x_pk in todo
        }
        cache.set_many(fresh, CACHE_S)
        known.update(fresh)
    out: dict[int, PerDay] = {}
    for x in ldcs:
        per_day = {day: known.get(keys[(x.pk, day)]) for day in days}
        if any(v is not None for v in per_day.values()):
            out[x.pk] = {day: DayReads(*v) if v else NOTHING for day, v in per_day.items()}
    return out


def forget(ldc_id: int, today: dt.date | None = None) -> None:
    """That LDC's reads changed: its days are counted again on the next look."""
    today = today or timezone.localdate()
    cache.delete_many([_key(ldc_id, today - dt.timedelta(days=n)) for n in range(FORGET_DAYS)])


def installed_counts(
    days: Sequence[dt.date], ldc_ids: Iterable[int] | None = None
) -> dict[int, list[int]]:
    """Meters installed at an SDP per LDC (every LDC, or those of ``ldc_ids``) on each of
    ``days``: one query, a conditional count per day."""
    counts = {
        f"d{i}": Count("meter_id", filter=_installed_on(day), distinct=True)
        for i, day in enumerate(days)
    }
    rows = MeterInstallation.objects.all()
    if ldc_ids is not None:
        rows = rows.filter(ldc_id__in=list(ldc_ids))
    rows = rows.order_by().values("ldc_id").annotate(**counts)
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
        self.ids = np.array(sorted(x.pk for x in ldcs), np.int64)
        self.tz = {x.pk: ZoneInfo(x.time_zone) for x in ldcs}
        self.first, self.n_days = first, n_days
        self.counts = np.zeros((len(self.ids), n_days, 2), np.int64)  # delivered, received
        self.lengths: dict[tuple[int, int], int] = {}  # (ldc, minutes) -> stored days

    def add(self, chunk: list[tuple[int, dt.date, int, bytes]]) -> None:
        size = len(chunk)
        ldc = np.fromiter((r[0] for r in chunk), np.int64, size)
        day = np.fromiter((r[1].toordinal() for r in chunk), np.int64, size) - EPOCH
        minutes = np.fromiter((r[2] for r in chunk), np.int64, size)
        group = (ldc << 16) | minutes
        for key in sorted_unique(group).tolist():
            ldc_id, length = key >> 16, key & 0xFFFF
            n = slots_per_day(length)
            mine = [i for i in np.flatnonzero(group == key).tolist() if len(chunk[i][3]) == n]
            self.lengths[(ldc_id, length)] = self.lengths.get((ldc_id, length), 0) + len(mine)
            if mine:
                flags = b"".join(bytes(chunk[i][3]) for i in mine)
                self._add_rows(np.frombuffer(flags, np.uint8).reshape(-1, n), day[mine], ldc_id)

    def _add_rows(self, flags: np.ndarray, day: np.ndarray, ldc_id: int) -> None:
        """Stored days of one LDC and interval length: ``flags`` (rows, slots), UTC ``day``."""
        rows, n = flags.shape
        days = sorted_unique(day)
        length = 1440 // n
        cuts = np.array([_split(self.tz[ldc_id], d, length) for d in days.tolist()], np.int64)
        cut = cuts[np.searchsorted(days, day)]  # one split per stored UTC day, not per row
        at, left_day = cut[:, 0], cut[:, 1] - self.first
        received = (flags & IntervalFlag.RECEIVED) != 0
        delivered = received & ((flags & NOT_ACTUAL) == 0)
        where = self.counts[int(np.searchsorted(self.ids, ldc_id))]
        for column, mask in enumerate((delivered, received)):
            running = np.zeros((rows, n + 1), np.int32)
            np.cumsum(mask, axis=1, out=running[:, 1:])
            before = running[np.arange(rows), at]
            for local, count in ((left_day, before), (left_day + 1, running[:, n] - before)):
                inside = (local >= 0) & (local < self.n_days)
                where[:, column] += np.bincount(
                    local[inside], count[inside], minlength=self.n_days
                ).astype(np.int64)

    def usual_length(self, ldc_id: int) -> int:
        mine = {length: n for (x, length), n in self.lengths.items() if x == ldc_id}
        return max(mine, key=lambda length: (mine[length], -length)) if mine else 60


def _count(days: list[dt.date], ldcs: list[LDC]) -> dict[int, PerDay]:
    """Count the days from the stored reads: two queries, the flags of every stored day of the
    days (and the UTC days around them) streamed once."""
    first = day_number(days[0])
    tally = _Tally(ldcs, first, len(days))
    ids = [int(i) for i in tally.ids]
    stored = IntervalDay.objects.for_ldc(ldcs[0]) if len(ldcs) == 1 else IntervalDay.objects
    stored = stored.filter(
        ldc_id__in=ids,
        channel=1,
        day__gte=days[0] - dt.timedelta(days=1),
        day__lte=days[-1] + dt.timedelta(days=1),
    )
    chunk: list[tuple[int, dt.date, int, bytes]] = []
    for row in stored.values_list("ldc_id", "day", "interval_minutes", "flags").iterator(
        CHUNK_ROWS
    ):
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            tally.add(chunk)
            chunk = []
    if chunk:
        tally.add(chunk)
    installed = installed_counts(days, ids)
    out: dict[int, PerDay] = {}
    for index, ldc_id in enumerate(ids):
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
