"""Reading and writing interval days in bulk (one query per batch, never one per interval)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ldc.models import LDC
from meters.localtime import date_of
from meters.models import IntervalDay, IntervalDayVersion, ReadFile
from meters.storage import DayBlock, MergeResult, day_key, pack_rows, slots_per_day, unpack_rows

LOCK_BUCKETS = 1024
# Room on each page for VEE's rewrite of a day next to the row as ingested: the update is then
# "heap-only" (no index entry changes: the columns VEE writes are not indexed).
FILLFACTOR = 60  # advisory locks per transaction stay well under PostgreSQL's lock table
IN_CHUNK = 2000


def ensure_partitions(days: np.ndarray) -> None:
    """Create the monthly partitions of IntervalDay that the given UTC days need (PostgreSQL).

    One query finds the missing months; each is created in its own savepoint, and a concurrent
    creation of the same month by another worker is harmless (IF NOT EXISTS, error ignored).
    """
    if connection.vendor != "postgresql" or not len(days):
        return
    months = sorted({date_of(d).replace(day=1) for d in np.unique(days).tolist()})
    names = [f"meters_intervalday_{m:%Y%m}" for m in months]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL", [names]
        )
        missing = {row[0] for row in cursor.fetchall()}
    for first, name in zip(months, names, strict=True):
        if name not in missing:
            continue
        after = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF meters_intervalday "
                    f"FOR VALUES FROM ('{first}') TO ('{after}') WITH (fillfactor = {FILLFACTOR})"
                )
        except DatabaseError:
            pass  # another worker created it between our check and our CREATE


def lock_meters(ldc: LDC, meter_ids: Iterable[int]) -> None:
    """Serialise concurrent merges of the same meters (PostgreSQL; SQLite writes one at a time).

    Locks are taken on hash buckets, in order, so two workers cannot deadlock.
    """
    if connection.vendor != "postgresql":
        return
    buckets = sorted({(ldc.pk * 1_000_003 + int(m)) % LOCK_BUCKETS for m in meter_ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(4242, b)) FROM unnest(%s::int[]) AS b",
            [buckets],
        )


_FIELDS = (
    "id",
    "meter_id",
    "channel",
    "day",
    "interval_minutes",
    "wh",
    "flags",
    "raw_wh",
    "raw_quality",
    "version",
)


def fetch_days(ldc: LDC, keys: np.ndarray) -> list[tuple[Any, ...]]:
    """Stored rows for the given day keys (a box query per chunk of meters, then filtered)."""
    meters = np.unique(keys >> 23)
    days = keys & ((1 << 20) - 1)
    first, last = date_of(int(days.min())), date_of(int(days.max()))
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(meters), IN_CHUNK):
        chunk = meters[i : i + IN_CHUNK].tolist()
        found = list(
            IntervalDay.objects.for_ldc(ldc)
            .filter(meter_id__in=chunk, day__gte=first, day__lte=last)
            .values_list(*_FIELDS)
        )
        if found:
            keep = np.isin(_row_keys(found), keys)
            rows += [row for row, wanted in zip(found, keep.tolist(), strict=True) if wanted]
    return rows


def stored_minutes(rows: list[tuple[Any, ...]]) -> dict[int, int]:
    """day key -> interval length of the stored day."""
    if not rows:
        return {}
    return dict(zip(_row_keys(rows).tolist(), (int(r[4]) for r in rows), strict=True))


def _row_keys(rows: list[tuple[Any, ...]]) -> np.ndarray:
    """day_key of stored rows (meter_id, channel, day at positions 1-3), vectorised."""
    days = np.array([r[3] for r in rows], dtype="datetime64[D]").astype(np.int64)
    return day_key(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), days)


def existing_block(
    keys: np.ndarray, minutes: int, rows: list[tuple[Any, ...]]
) -> tuple[DayBlock, np.ndarray]:
    """The stored state of ``keys`` (never-received days where nothing is stored) and a mask of
    which keys exist."""
    block = DayBlock.empty(keys, minutes)
    rows = [r for r in rows if int(r[4]) == minutes]
    if not rows:
        return block, np.zeros(len(keys), bool)
    at = np.searchsorted(keys, _row_keys(rows))
    n = slots_per_day(minutes)
    block.wh[at] = unpack_rows([r[5] for r in rows], "<i4", n)
    block.flags[at] = unpack_rows([r[6] for r in rows], "u1", n)
    block.raw_wh[at] = unpack_rows([r[7] for r in rows], "<i4", n)
    block.raw_quality[at] = unpack_rows([r[8] for r in rows], "u1", n)
    block.version[at] = np.array([r[9] for r in rows], dtype=np.int64)
    exists = np.zeros(len(keys), bool)
    exists[at] = True
    return block, exists


_DAY_COLUMNS = (
    "ldc_id",
    "meter_id",
    "channel",
    "day",
    "interval_minutes",
    "wh",
    "flags",
    "raw_wh",
    "raw_quality",
    "version",
    "updated_at",
)
_DAY_TYPES = (
    "bigint",
    "bigint",
    "smallint",
    "date",
    "smallint",
    "bytea",
    "bytea",
    "bytea",
    "bytea",
    "integer",
    "timestamptz",
)
_VERSION_COLUMNS = (
    "ldc_id",
    "meter_id",
    "channel",
    "day",
    "version",
    "interval_minutes",
    "wh",
    "flags",
    "raw_wh",
    "raw_quality",
    "superseded_at",
    "superseded_by_file_id",
)
_VERSION_TYPES = (
    "bigint",
    "bigint",
    "smallint",
    "date",
    "integer",
    "smallint",
    "bytea",
    "bytea",
    "bytea",
    "bytea",
    "timestamptz",
    "bigint",
)


def _day_rows(ldc: LDC, block: DayBlock) -> list[tuple[Any, ...]]:
    """Database rows of a block, built from arrays (one tuple per day, not per interval)."""
    now = timezone.now()
    return list(
        zip(
            [ldc.pk] * len(block),
            block.meter.tolist(),
            block.channel.tolist(),
            [date_of(d) for d in block.day.tolist()],
            [block.minutes] * len(block),
            pack_rows(block.wh, "<i4"),
            pack_rows(block.flags, "u1"),
            pack_rows(block.raw_wh, "<i4"),
            pack_rows(block.raw_quality, "u1"),
            block.version.tolist(),
            [now] * len(block),
            strict=True,
        )
    )


def _upsert(
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """INSERT ... ON CONFLICT for many rows: COPY into a temporary table on PostgreSQL,
    executemany elsewhere. Runs inside the caller's transaction."""
    if not rows:
        return
    names = ", ".join(columns)
    action = (
        ("DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in update))
        if update
        else "DO NOTHING"
    )
    on_conflict = f"ON CONFLICT ({', '.join(conflict)}) {action}"
    # Table and column names come from model metadata and constants here, never from input.
    tmp = f"tmp_{table}"
    marks = ", ".join(["%s"] * len(columns))
    create = f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA"  # noqa: S608, E501
    insert = f"INSERT INTO {table} ({names}) SELECT {names} FROM {tmp} {on_conflict}"  # noqa: S608
    values = f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}"  # noqa: S608
    # The temporary table lives until the end of the transaction: keep all of it in one.
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(create)
            with cursor.cursor.copy(f"COPY {tmp} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(list(types))
                for row in rows:
                    copy.write_row(row)
            cursor.execute(insert)
            cursor.execute(f"DROP TABLE {tmp}")
        else:
            cursor.executemany(values, rows)


def archive_versions(ldc: LDC, before: DayBlock, read_file: ReadFile) -> int:
    """Keep the superseded versions of days whose actuals changed."""
    if not len(before):
        return 0
    rows = [(*r[:4], r[9], r[4], *r[5:9], r[10], read_file.pk) for r in _day_rows(ldc, before)]
    _upsert(
        IntervalDayVersion._meta.db_table,
        _VERSION_COLUMNS,
        _VERSION_TYPES,
        ("ldc_id", "meter_id", "channel", "day", "version"),
        (),
        rows,
    )
    return len(rows)


def save_days(ldc: LDC, block: DayBlock, exists: np.ndarray | None = None) -> int:
    """Insert or update the given days in bulk.

    With ``exists`` (which days are stored) on PostgreSQL, new days are copied straight into the
    table and stored ones updated by one joined UPDATE: no speculative insert per row. The
    caller holds the meters' advisory locks, so no other worker inserts the same days meanwhile.
    """
    table, key = IntervalDay._meta.db_table, ("ldc_id", "meter_id", "channel", "day")
    update = ("wh", "flags", "raw_wh", "raw_quality", "version", "updated_at")
    rows = _day_rows(ldc, block)
    if exists is None or connection.vendor != "postgresql":
        _upsert(table, _DAY_COLUMNS, _DAY_TYPES, key, update, rows)
        return len(block)
    known = exists.tolist()
    new = [row for row, stored in zip(rows, known, strict=True) if not stored]
    old = [row for row, stored in zip(rows, known, strict=True) if stored]
    if new:
        _copy_into(table, _DAY_COLUMNS, _DAY_TYPES, new)
    if old:
        _update_from_copy(table, _DAY_COLUMNS, _DAY_TYPES, key, update, old)
    return len(block)


def _copy_into(
    table: str, columns: tuple[str, ...], types: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """COPY rows straight into a (partitioned) table."""
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def write_merge(
    ldc: LDC, before: DayBlock, result: MergeResult, read_file: ReadFile, exists: np.ndarray
) -> tuple[int, int]:
    """Persist a merge: archive superseded versions, upsert changed days.

    Returns (days written, versions archived)."""
    archived = archive_versions(
        ldc, before.take(np.flatnonzero(result.new_version & exists)), read_file
    )
    changed = np.flatnonzero(result.changed)
    written = save_days(ldc, result.merged.take(changed), exists[changed])
    return written, archived


_VEE_FIELDS = (*_FIELDS, "methods", "rules")
_VEE_COLUMNS = (*_DAY_COLUMNS, "methods", "rules")
_VEE_TYPES = (*_DAY_TYPES, "bytea", "bytea")


@dataclass
class VeeBlock:
    """Stored days with VEE's per-interval outcome beside them."""

    block: DayBlock
    methods: np.ndarray  # uint8 (K, n)
    rules: np.ndarray  # uint32 (K, n)
    exists: np.ndarray  # bool (K,): a row is stored


def box_rows(ldc: LDC, meters: list[int], first_day: int, last_day: int) -> list[tuple[Any, ...]]:
    """Every stored day of the given meters in [first_day, last_day] (UTC day numbers)."""
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(meters), IN_CHUNK):
        rows += list(
            IntervalDay.objects.for_ldc(ldc)
            .filter(
                meter_id__in=meters[i : i + IN_CHUNK],
                day__gte=date_of(first_day),
                day__lte=date_of(last_day),
            )
            .values_list(*_VEE_FIELDS)
        )
    return rows


def _blob_rows(blobs: list[Any], dtype: str, n: int) -> np.ndarray:
    """Unpack per-row blobs where an empty blob (VEE never ran) means zeros."""
    out = np.zeros((len(blobs), n), dtype=dtype)
    full = [i for i, b in enumerate(blobs) if len(b)]
    if full:
        out[full] = unpack_rows([blobs[i] for i in full], dtype, n)
    return out


def vee_block(rows: list[tuple[Any, ...]], keys: np.ndarray, minutes: int) -> VeeBlock:
    """The days ``keys`` (sorted, unique) of one interval length: stored rows or empty days."""
    block, exists = existing_block(keys, minutes, rows)
    n = slots_per_day(minutes)
    methods, rules = np.zeros((len(keys), n), np.uint8), np.zeros((len(keys), n), np.uint32)
    mine = [r for r in rows if int(r[4]) == minutes]
    if mine:
        at = np.searchsorted(keys, _row_keys(mine))
        methods[at] = _blob_rows([r[10] for r in mine], "u1", n)
        rules[at] = _blob_rows([r[11] for r in mine], "<u4", n)
    return VeeBlock(block, methods, rules, exists)


def save_vee(ldc: LDC, vee: VeeBlock) -> int:
    """Write VEE's current values, flags, methods and rule bits (never the raw values).

    Stored days are updated in place (an UPDATE joined to the copied rows: cheaper than a
    speculative insert per row); days VEE created (estimates where nothing arrived) are inserted.
    """
    if not len(vee.block):
        return 0
    rows = [
        (*r, m, b)
        for r, m, b in zip(
            _day_rows(ldc, vee.block),
            pack_rows(vee.methods, "u1"),
            pack_rows(vee.rules, "<u4"),
            strict=True,
        )
    ]
    table, key = IntervalDay._meta.db_table, ("ldc_id", "meter_id", "channel", "day")
    update = ("wh", "flags", "methods", "rules", "updated_at")
    stored = [row for row, known in zip(rows, vee.exists.tolist(), strict=True) if known]
    created = [row for row, known in zip(rows, vee.exists.tolist(), strict=True) if not known]
    if connection.vendor == "postgresql" and stored:
        _update_from_copy(table, _VEE_COLUMNS, _VEE_TYPES, key, update, stored)
    else:
        created += stored
    _upsert(table, _VEE_COLUMNS, _VEE_TYPES, key, update, created)
    return len(rows)


def _update_from_copy(
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    key: tuple[str, ...],
    update: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """UPDATE many existing rows: COPY them into a temporary table, then one joined UPDATE."""
    names = ", ".join(columns)
    tmp = f"tmpu_{table}"
    sets = ", ".join(f"{c} = s.{c}" for c in update)
    match = " AND ".join(f"t.{c} = s.{c}" for c in key)
    days = (min(r[3] for r in rows), max(r[3] for r in rows))  # lets PostgreSQL prune partitions
    with transaction.atomic(), connection.cursor() as cursor:
        create = f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {names} FROM {table}"  # noqa: S608
        cursor.execute(f"{create} WITH NO DATA")
        with cursor.cursor.copy(f"COPY {tmp} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)
        # Freshly loaded partitions may have no statistics yet: insist on the unique index
        # (a nested loop over the copied rows), never a scan of a partition per copied row.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"UPDATE {table} t SET {sets} FROM {tmp} s WHERE {match} "  # noqa: S608
            "AND t.day BETWEEN %s AND %s",
            list(days),
        )
        cursor.execute(f"DROP TABLE {tmp}")
