"""Billing's reads: stored days as 2-D blocks, register reads, price tables, installations.

Why not meters.selectors.intervals_between: it flattens every interval with its meter serial
as a string and sorts them (~1.2 s per 1,000 meter-months on PostgreSQL, bench/billing.py),
five times too slow for the billing goal. Billing keeps the days packed as (meter-day x slot)
arrays, decoded with meters.storage.unpack_rows, and reads only the delivered channel's current
values and flags. On PostgreSQL the server concatenates the chunk's blobs (one row: keys with
their interval lengths, values, flags as three bytea), so the client decodes three buffers per
chunk rather than a Python tuple per meter-day (bench/billing.py, 10,000 meters: ~1.2 s instead
of ~3.1 s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import QuerySet

from billing.models import OebPriceSet
from billing.prices import PRICE_TABLE, PriceSet
from billing.quantities import DayRows
from meters.models import IntervalDay, MeterInstallation, RegisterRead, ServiceDeliveryPoint
from meters.reads.day_arrays import slots_per_day, unpack_rows
from meters.reads.day_store import GENERIC_PLAN, planner
from meters.reads.runs import sorted_unique
from portal.calendar.localtime import date_of
from portal.tenancy import LDC

IN_CHUNK = 5000  # meters per IN (...) list
# A chunk of meters is read by pk range (then filtered here) when the range is at most this many
# times the meters asked for: a range scan is ~3x cheaper on the server than `= ANY(array)`.
RANGE_SLACK = 2


def pg_array(ids: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers: one parameter, not a placeholder per id."""
    values = ids.tolist() if isinstance(ids, np.ndarray) else [int(i) for i in ids]
    return "{" + ",".join(map(str, values)) + "}"


def with_ids(queryset: QuerySet[Any], field: str, ids: Iterable[int]) -> QuerySet[Any]:
    """``queryset.filter(<field>__in=ids)``; on PostgreSQL one ``= ANY(array)`` parameter rather
    than a placeholder per id (10,000 ids: ~0.1 s less client-side query building)."""
    ids = list(ids)
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{field}__in": ids})
    model = queryset.model
    column = model._meta.get_field(field).column
    qn = connection.ops.quote_name
    where = f"{qn(model._meta.db_table)}.{qn(column)} = ANY(%s::bigint[])"
    return queryset.extra(where=[where], params=[pg_array(ids)])  # noqa: S610


def _day_numbers(dates: Sequence[dt.date]) -> np.ndarray:
    # Few distinct days, many rows: convert each distinct date once.
    number = {d: (d - dt.date(1970, 1, 1)).days for d in set(dates)}
    return np.array([number[d] for d in dates], np.int64)


def day_rows(
    *,
    ldc: LDC | int,
    meter_ids: Sequence[int],
    first_day: int,
    last_day: int,
    channel: int = 1,
) -> list[DayRows]:
    """One channel's stored days [first_day, last_day] (UTC) of the meters, by length (1:
    delivered; 2: received, the energy a net-metered SDP conveys into the system)."""
    if connection.vendor == "postgresql":
        return _day_rows_pg(ldc, meter_ids, first_day, last_day, channel)
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(meter_ids), IN_CHUNK):
        days = IntervalDay.objects.for_ldc(ldc).filter(
            meter_id__in=list(meter_ids[i : i + IN_CHUNK]),
            channel=channel,
            day__gte=date_of(first_day),
            day__lte=date_of(last_day),
        )
        rows += _one_per_day(days)
    if not rows:
        return []
    meter, day, minutes, wh, flags, version = (list(c) for c in zip(*rows, strict=True))
    return [
        _block(
            np.array(meter, np.int64),
            _day_numbers(day),
            np.array(minutes, np.int64),
            length,
            wh,
            flags,
            np.array(version, np.int64),
        )
        for length in sorted(set(minutes))
    ]


# One row for the whole chunk: each aggregate gets the rows in the same order (no ORDER BY, no
# GROUP BY), so the columns line up. Keys are meter << 24 | day number, as billing.quantities
# keys them (one int8 per row: concatenating meter, day and length cost the server ~40 % more),
# with each row's interval length beside them. (A GROUP BY on the length sorted every row with
# its blobs first, spilling to disk: ~35 ms per 1,000 meters.)
_PG_DAYS = """
    SELECT count(*),
           string_agg(int8send((meter_id << 24) | (day - DATE '1970-01-01')), ''::bytea),
           string_agg(int2send(interval_minutes), ''::bytea),
           string_agg(wh, ''::bytea),
           string_agg(flags, ''::bytea),
           string_agg(int4send(version), ''::bytea)
      FROM {table}
     WHERE ldc_id = %s AND channel = %s AND day >= %s AND day <= %s AND {meters}
"""
_MAX_METER = 1 << 39  # keys are meter << 24 | day in an int64


def _day_rows_pg(
    ldc: LDC | int, meter_ids: Sequence[int], first_day: int, last_day: int, channel: int = 1
) -> list[DayRows]:
    """day_rows in one query per chunk: the server concatenates keys, values and flags."""
    ldc_id = ldc if isinstance(ldc, int) else ldc.pk
    wanted = sorted_unique(np.asarray(meter_ids, np.int64))
    parts: dict[int, list[tuple[np.ndarray, ...]]] = {}
    table = IntervalDay._meta.db_table
    for i in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[i : i + IN_CHUNK]
        low, high = int(chunk[0]), int(chunk[-1])
        if high >= _MAX_METER:
            raise ValueError(f"meter pk {high} is past what a day key holds")
        by_range = high - low + 1 <= RANGE_SLACK * len(chunk)
        meters = "meter_id BETWEEN %s AND %s"
        args: list[Any] = [low, high]
        if not by_range:
            meters += " AND meter_id = ANY(%s::bigint[])"
            args.append(pg_array(chunk))
        sql = _PG_DAYS.format(table=table, meters=meters)
        params = [ldc_id, channel, date_of(first_day), date_of(last_day), *args]
        count, keys, lengths, wh, flags, versions = _fetch_generic(sql, params)
        if not count:
            continue
        key = np.frombuffer(keys, ">i8").astype(np.int64)
        length = np.frombuffer(lengths, ">i2").astype(np.int64)
        if key.shape[0] != count or length.shape[0] != count:
            raise ValueError("stored days came back misaligned")
        meter, day = key >> 24, key & ((1 << 24) - 1)
        version = np.frombuffer(versions, ">i4").astype(np.int64)
        for minutes, values, bits, rows in _by_length(length, wh, flags):
            m, d, v = (
                (meter, day, version) if rows is None else (meter[rows], day[rows], version[rows])
            )
            if by_range and high - low + 1 > len(chunk):  # the range holds meters not asked for
                keep = np.isin(m, chunk)
                m, d, v, values, bits = m[keep], d[keep], v[keep], values[keep], bits[keep]
            parts.setdefault(minutes, []).append((m, d, values, bits, v))
    out = []
    for minutes in sorted(parts):
        meter, day, values, bits, v = (np.concatenate(c) for c in zip(*parts[minutes], strict=True))
        order = np.argsort((meter << 24) | day, kind="stable")  # by meter, then day
        out.append(DayRows(meter[order], day[order], minutes, values[order], bits[order], v[order]))
    return out


def _fetch_generic(sql: str, params: list[Any]) -> tuple[Any, ...]:
    """The one row of ``sql``, planned without looking at the parameters' values.

    A plan made for the values trusts the statistics, and those of a month's partition are
    stale while it fills (or absent after a bulk load, or older than the LDC): the planner then
    estimates one row for every index with ``ldc_id = X`` and picks the smallest, (ldc, day),
    reading every meter of the LDC for each chunk (~170 ms per 1,000 meters instead of ~35,
    bench/billing.py). A generic plan sees a meter range and a day range of unknown values on
    the primary key (ldc, meter, channel, day) against a day range on (ldc, day) and takes
    the primary key whatever the statistics say; partitions are pruned when it starts.
    """
    connection.ensure_connection()
    # A server-binding cursor with binary results: the blobs come as stored, not hex-encoded
    # by the server and decoded here (Django's cursors bind client-side, text results only).
    with (
        transaction.atomic(),
        connection.wrap_database_errors,
        psycopg.Cursor(connection.connection) as cursor,
        planner(cursor, GENERIC_PLAN),
    ):
        cursor.execute(sql, params, binary=True)
        row = cursor.fetchone()
    return tuple(row) if row is not None else (0, None, None, None, None, None)


def _by_length(
    minutes: np.ndarray, wh: bytes, flags: bytes
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(interval minutes, values, flags, rows of that length or None: all) of concatenated
    day blobs, one entry per interval length present."""
    lengths = sorted_unique(minutes).tolist()
    if len(lengths) == 1:  # the usual case: the blobs are the arrays
        n = slots_per_day(lengths[0])
        values = np.frombuffer(wh, "<i4").reshape(-1, n)
        bits = np.frombuffer(flags, "u1").reshape(-1, n)
        if values.shape[0] != minutes.shape[0] or bits.shape[0] != minutes.shape[0]:
            raise ValueError("stored days came back misaligned")
        return [(int(lengths[0]), values, bits, None)]
    slots = 1440 // minutes
    at = np.cumsum(slots) - slots  # each row's first slot in the concatenation
    if int(slots.sum()) * 4 != len(wh) or int(slots.sum()) != len(flags):
        raise ValueError("stored days came back misaligned")
    all_values, all_bits = np.frombuffer(wh, "<i4"), np.frombuffer(flags, "u1")
    out: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]] = []
    for length in lengths:
        rows = np.flatnonzero(minutes == length)
        index = at[rows][:, None] + np.arange(slots_per_day(length))
        out.append((int(length), all_values[index], all_bits[index], rows))
    return out


def _one_per_day(days: Any) -> list[tuple[Any, ...]]:
    return list(days.values_list("meter_id", "day", "interval_minutes", "wh", "flags", "version"))


def _block(
    meter: np.ndarray,
    day: np.ndarray,
    minutes: np.ndarray,
    length: int,
    wh: list[Any],
    flags: list[Any],
    version: np.ndarray | None = None,
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
        version=None if version is None else version[picked],
    )


def register_reads(
    *, ldc: LDC | int, meter_ids: Sequence[int], first_s: int, after_s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(meter, read_at UTC s, Wh) of the delivered register reads within a window, sorted."""
    reads: list[tuple[Any, ...]] = []
    for i in range(0, len(meter_ids), IN_CHUNK):
        reads += (
            with_ids(RegisterRead.objects.for_ldc(ldc), "meter", meter_ids[i : i + IN_CHUNK])
            .filter(
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
        with_ids(MeterInstallation.objects.for_ldc(ldc), "sdp", sdp_ids)
        .filter(effective_from__lte=end)
        .exclude(effective_to__lt=start)
        .order_by("sdp_id", "effective_from")
        .values_list("sdp_id", "meter_id", "effective_from", "effective_to")
    )
    out: dict[int, list[tuple[int, dt.date, dt.date]]] = {}
    for sdp, meter, first, last in rows:
        out.setdefault(sdp, []).append((meter, max(first, start), min(last or end, end)))
    return out


def enrollment_and_direction(
    *, ldc: LDC | int, sdp_ids: Iterable[int]
) -> tuple[dict[int, dt.date], set[int]]:
    """(SDP pk -> its TOU billing start, where it has one (meters.registry.enrollment); the
    SDPs that are bidirectional (net metering)), in one query."""
    starts: dict[int, dt.date] = {}
    both: set[int] = set()
    rows = with_ids(ServiceDeliveryPoint.objects.for_ldc(ldc), "id", sdp_ids)
    for pk, start, bidirectional in rows.values_list("pk", "tou_billing_from", "bidirectional"):
        if start is not None:
            starts[pk] = start
        if bidirectional:
            both.add(pk)
    return starts, both
