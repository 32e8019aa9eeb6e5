"""Billing's reads: stored days as 2-D blocks, register reads, price tables, installations.

Why not meters.selectors.intervals_between: it flattens every interval with its meter serial
as a string and sorts them (~1.2 s per 1,000 meter-months on PostgreSQL, bench/billing.py),
five times too slow for the billing goal. Billing keeps the days packed as (meter-day x slot)
arrays, decoded with meters.storage.unpack_rows, and reads only the delivered channel's current
values and flags.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from billing.models import OebPriceSet
from billing.prices import PRICE_TABLE, PriceSet
from billing.quantities import DayRows
from ldc.models import LDC
from meters.localtime import date_of
from meters.models import IntervalDay, MeterInstallation, RegisterRead
from meters.storage import slots_per_day, unpack_rows

IN_CHUNK = 5000  # meters per IN (...) list


def _day_numbers(dates: Sequence[dt.date]) -> np.ndarray:
    # Few distinct days, many rows: convert each distinct date once.
    number = {d: (d - dt.date(1970, 1, 1)).days for d in set(dates)}
    return np.array([number[d] for d in dates], np.int64)


def day_rows(
    *, ldc: LDC | int, meter_ids: Sequence[int], first_day: int, last_day: int
) -> list[DayRows]:
    """The delivered channel's stored days [first_day, last_day] (UTC) of the meters, by length."""
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(meter_ids), IN_CHUNK):
        days = IntervalDay.objects.for_ldc(ldc).filter(
            meter_id__in=list(meter_ids[i : i + IN_CHUNK]),
            channel=1,
            day__gte=date_of(first_day),
            day__lte=date_of(last_day),
        )
        rows += _one_per_day(days)
    if not rows:
        return []
    meter, day, minutes, wh, flags = (list(c) for c in zip(*rows, strict=True))
    return [
        _block(
            np.array(meter, np.int64),
            _day_numbers(day),
            np.array(minutes, np.int64),
            length,
            wh,
            flags,
        )
        for length in sorted(set(minutes))
    ]


def _one_per_day(days: Any) -> list[tuple[Any, ...]]:
    return list(days.values_list("meter_id", "day", "interval_minutes", "wh", "flags"))


def _block(
    meter: np.ndarray,
    day: np.ndarray,
    minutes: np.ndarray,
    length: int,
    wh: list[Any],
    flags: list[Any],
) -> DayRows:
    picked = np.flatnonzero(minutes == length)
    picked = picked[np.lexsort((day[picked], meter[picked]))]
    n = slots_per_day(length)
    at = picked.tolist()
    return DayRows(
        meter=meter[picked],
        day=day[picked],
        minutes=length,
        wh=unpack_rows([wh[i] for i in at], "<i4", n),
        flags=unpack_rows([flags[i] for i in at], "u1", n),
    )


def register_reads(
    *, ldc: LDC | int, meter_ids: Sequence[int], first_s: int, after_s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(meter, read_at UTC s, Wh) of the delivered register reads within a window, sorted."""
    reads: list[tuple[Any, ...]] = []
    for i in range(0, len(meter_ids), IN_CHUNK):
        reads += (
            RegisterRead.objects.for_ldc(ldc)
            .filter(
                meter_id__in=list(meter_ids[i : i + IN_CHUNK]),
                channel=1,
                read_at__gte=dt.datetime.fromtimestamp(first_s, dt.UTC),
                read_at__lte=dt.datetime.fromtimestamp(after_s, dt.UTC),
            )
            .values_list("meter_id", "read_at", "wh")
        )
    meter = np.array([r[0] for r in reads], np.int64)
    at = np.array([int(r[1].timestamp()) for r in reads], np.int64)
    wh = np.array([r[2] for r in reads], np.int64)
    order = np.lexsort((at, meter))
    return meter[order], at[order], wh[order]


def price_table() -> tuple[PriceSet, ...]:
    """The OEB price sets in force (the database's, edited by coordinators; else the seed)."""
    rows = list(OebPriceSet.objects.order_by("effective"))
    return tuple(row.as_price_set() for row in rows) if rows else PRICE_TABLE


def installations(
    *, ldc: LDC | int, sdp_ids: Iterable[int], start: dt.date, end: dt.date
) -> dict[int, list[tuple[int, dt.date, dt.date]]]:
    """SDP pk -> [(meter pk, first day, last day)] of the meters installed within start..end."""
    rows = (
        MeterInstallation.objects.for_ldc(ldc)
        .filter(sdp_id__in=list(sdp_ids), effective_from__lte=end)
        .exclude(effective_to__lt=start)
        .order_by("sdp_id", "effective_from")
        .values_list("sdp_id", "meter_id", "effective_from", "effective_to")
    )
    out: dict[int, list[tuple[int, dt.date, dt.date]]] = {}
    for sdp, meter, first, last in rows:
        out.setdefault(sdp, []).append((meter, max(first, start), min(last or end, end)))
    return out
