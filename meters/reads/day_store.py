"""Reading and writing interval days in bulk (one query per batch, never one per interval)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from meters.models import IntervalDay, IntervalDayVersion, ReadFile
from meters.reads import runs
from meters.reads.day_arrays import (
    DayBlock,
    MergeResult,
    day_key,
    pack_rows,
    slots_per_day,
    unpack_rows,
)
from portal.calendar.localtime import date_of
from portal.tenancy import LDC

# Room on each page for VEE's rewrite of a day next to the row as ingested: the update is then
# "heap-only" (no index entry changes: the columns VEE writes are not indexed). The rewrite adds
# the methods and rule bits, so it is ~1.4x the row as ingested (hourly: 446 bytes against 326):
# at 40 % every row of a page has room for its rewrite; at 60 % half the updates were not HOT
# and also wrote an entry into each of the four indexes.
FILLFACTOR = 40
IN_CHUNK = 2000


def partition_of(day: dt.date) -> str:
    """The name of the partition of IntervalDay that holds ``day`` (one per month)."""
    return f"meters_intervalday_{day:%Y%m}"


def ensure_partitions(days: np.ndarray) -> None:
    """Create the monthly partitions of IntervalDay that the given UTC days need (PostgreSQL).

    One query finds the missing months; each is created in its own savepoint, and a concurrent
    creation of the same month by another worker is harmless (IF NOT EXISTS, error ignored).
    """
    if connection.vendor != "postgresql" or not len(days):
        return
    months = sorted({date_of(d).replace(day=1) for d in runs.unique(days).tolist()})
    names = [partition_of(m) for m in months]
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


# Statistics target of the ANALYZEs during a load: 300 x 10 rows sampled (default 100: 30,000).
ANALYZE_TARGET = 10


class Statistics:
    """Keeps the planner's statistics of the interval partitions a long load writes to fresh.

    While an LDC's rows are loaded into a partition whose statistics predate them, every plan
    that reads "this LDC's rows" looks free (the statistics say there are none) and turns into a
    scan of everything loaded so far, per key; so do days newer than the statistics know
    (estimated at nearly no rows). So a load ANALYZEs the partitions it writes when it has added
    half as many rows as they held when last analysed, or days after the last one they had
    then (about once per daily file; a few times for a large first load). One per process
    (``STATISTICS``), shared by its loader threads and by successive files.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._added: dict[str, int] = {}
        self._known: dict[str, float] = {}
        self._last_day: dict[str, int] = {}  # the newest day written when last analysed

    def added(self, days: np.ndarray) -> None:
        """Days were committed new on these UTC days (one per row); each partition counts its
        own."""
        if connection.vendor != "postgresql" or not len(days):
            return
        newest: dict[str, int] = {}
        rows: dict[str, int] = {}
        values, counts = np.unique(days, return_counts=True)
        for d, count in zip(values.tolist(), counts.tolist(), strict=True):
            name = partition_of(date_of(d))
            newest[name] = max(newest.get(name, d), d)
            rows[name] = rows.get(name, 0) + count
        names = sorted(newest)
        unknown = [n for n in names if n not in self._known]
        if unknown:  # as the statistics stand now (-1: never analysed)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)", [unknown]
                )
                now = {name: max(float(tuples), 0.0) for name, tuples in cursor.fetchall()}
            with self._lock:
                for name in unknown:
                    self._known.setdefault(name, now.get(name, 0.0))
        with self._lock:
            for name in names:
                self._added[name] = self._added.get(name, 0) + rows[name]
            stale = [
                n
                for n in names
                if self._added[n] > 1000 + self._known.get(n, 0.0) / 2
                or newest[n] > self._last_day.get(n, -1)
            ]
            for name in stale:
                self._added[name] = 0
                self._last_day[name] = max(self._last_day.get(name, -1), newest[name])
        for name in stale:
            with transaction.atomic(), connection.cursor() as cursor:
                # The planner needs only the key columns (a name built from a date above), and
                # only to know which LDCs and days there are: a small sample will do until
                # autovacuum analyses the partition after the load (10% changed).
                cursor.execute(f"SET LOCAL default_statistics_target = {ANALYZE_TARGET}")
                cursor.execute(f"ANALYZE {name} (ldc_id, meter_id, channel, day)")
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [name])
                tuples = float(cursor.fetchone()[0])
            with self._lock:
                self._known[name] = max(tuples, 0.0)


STATISTICS = Statistics()


def lock_meters(ldc: LDC, meter_ids: Iterable[int]) -> None:
    """Serialise concurrent merges of the same meters (PostgreSQL; SQLite writes one at a time).

    The meters' own rows are locked (FOR NO KEY UPDATE: foreign-key checks of other rows
    referencing a meter are not blocked), in id order so that two workers cannot deadlock.
    Exactly the meters touched: deliveries of different meters never wait for each other, and
    row locks live in the rows, not in PostgreSQL's shared lock table, so a batch of any size
    can hold them.
    """
    if connection.vendor != "postgresql":
        return
    ids = sorted({int(m) for m in meter_ids})
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT id FROM meters_meter WHERE ldc_id = %s"
            " AND id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE) AS locked",
            [ldc.pk, int_array(ids)],
        )


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers, for a ``%s::bigint[]`` parameter: psycopg's
    list adapter quotes element by element (a regular expression each: ~0.7 ms per 345 meter
    ids, 0.1 s of a 10,000 x 30 load, with the GIL held)."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


_FIELDS = (
    "ldc_id",  # (position 0 is not read)
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


def fetch_days(ldc: LDC, keys: np.ndarray) -> dict[int, VeeBlock]:
    """The stored days among ``keys`` (day keys), one VeeBlock (sorted by key) per interval
    length; read as the box of their meters and days (binary on PostgreSQL), then filtered."""
    if not len(keys):
        return {}
    days = keys & ((1 << 20) - 1)
    if connection.vendor == "postgresql":
        # One interval length's keys come sorted and unique already.
        ordered = bool((keys[1:] > keys[:-1]).all())
        return _fetch_keys_pg(ldc, keys if ordered else runs.sorted_unique(keys))
    meters = runs.sorted_unique(keys >> 23).tolist()
    out: dict[int, VeeBlock] = {}
    for minutes, vee in vee_stored(ldc, meters, int(days.min()), int(days.max())).items():
        wanted = np.isin(vee.block.key, keys)
        if wanted.all():
            out[minutes] = vee
        elif wanted.any():
            out[minutes] = vee_take(vee, np.flatnonzero(wanted))
    return out


def vee_take(vee: VeeBlock, rows: np.ndarray) -> VeeBlock:
    return VeeBlock(vee.block.take(rows), vee.methods[rows], vee.rules[rows], vee.exists[rows])


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


def archive_versions(ldc: LDC, before: DayBlock, read_file: ReadFile | None) -> int:
    """Keep the superseded versions of days whose actuals changed (``read_file``: the file
    that changed them; None: a person's edit or a re-estimation, #19)."""
    if not len(before):
        return 0
    file_pk = read_file.pk if read_file is not None else None
    rows = [(*r[:4], r[9], r[4], *r[5:9], r[10], file_pk) for r in _day_rows(ldc, before)]
    _upsert(
        IntervalDayVersion._meta.db_table,
        _VERSION_COLUMNS,
        _VERSION_TYPES,
        ("ldc_id", "meter_id", "channel", "day", "version"),
        (),
        rows,
    )
    return len(rows)


def bump_versions(ldc: LDC, block: DayBlock) -> None:
    """The stored days of ``block`` become their next version (the one before archived by
    archive_versions): one UPDATE per meter channel."""
    days: dict[tuple[int, int], list[dt.date]] = {}
    for m, c, d in zip(
        block.meter.tolist(), block.channel.tolist(), block.day.tolist(), strict=True
    ):
        days.setdefault((m, c), []).append(date_of(d))
    for (meter, channel), dates in days.items():
        IntervalDay.objects.filter(
            ldc_id=ldc.pk, meter_id=meter, channel=channel, day__in=dates
        ).update(version=F("version") + 1)


def save_days(ldc: LDC, block: DayBlock, exists: np.ndarray | None = None) -> int:
    """Insert or update the given days in bulk.

    With ``exists`` (which days are stored) on PostgreSQL, new days are copied straight into the
    table and stored ones updated by one joined UPDATE (both streams built by numpy): no
    speculative insert per row. The caller holds the meters' locks, so no other worker inserts
    the same days meanwhile (VEE outside them is caught by the unique key: see services._load).
    """
    if exists is None or connection.vendor != "postgresql":
        table, key = IntervalDay._meta.db_table, ("ldc_id", "meter_id", "channel", "day")
        update = ("wh", "flags", "raw_wh", "raw_quality", "version", "updated_at")
        _upsert(table, _DAY_COLUMNS, _DAY_TYPES, key, update, _day_rows(ldc, block))
        return len(block)
    new, old = np.flatnonzero(~exists), np.flatnonzero(exists)
    if len(new):
        _insert_days(ldc, _some(block, new))
    if len(old):
        _update_days(ldc, _some(block, old))
    return len(block)


def _pg_timestamp(moment: dt.datetime) -> np.ndarray:
    """A timestamptz as PostgreSQL's binary form: microseconds since 2000-01-01 UTC."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return np.array([(moment - epoch) // dt.timedelta(microseconds=1)], ">i8")


def _copy_stream(cursor: Any, sql: str, rows: np.ndarray) -> None:
    """Send a numpy-built binary COPY body (see _copy_rows)."""
    with cursor.cursor.copy(sql) as copy:
        copy.write(_COPY_SIGNATURE)
        copy.write(memoryview(rows).cast("B"))  # type: ignore[arg-type]  # ndarray is a buffer
        copy.write(_COPY_TRAILER)


def _insert_days(ldc: LDC, block: DayBlock) -> None:
    """COPY new days straight into the (partitioned) table: one binary stream built by numpy."""
    k = len(block)
    rows = _copy_rows(
        [
            np.full(k, ldc.pk, ">i8"),
            block.meter.astype(">i8"),
            block.channel.astype(">i2"),
            (block.day - _PG_EPOCH_DAY).astype(">i4"),
            np.full(k, block.minutes, ">i2"),
            _as_bytes(block.wh, "<i4"),
            _as_bytes(block.flags, "u1"),
            _as_bytes(block.raw_wh, "<i4"),
            _as_bytes(block.raw_quality, "u1"),
            block.version.astype(">i4"),
            np.repeat(_pg_timestamp(timezone.now()), k),
        ]
    )
    # Straight into each month's partition (ensure_partitions made them): routing every row
    # through the partitioned table cost PostgreSQL a fifth more.
    month = block.day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    columns = ", ".join(_DAY_COLUMNS)
    with connection.cursor() as cursor:
        months = runs.sorted_unique(month).tolist()  # months since 1970-01
        for value in months:
            table = partition_of(dt.date(1970 + value // 12, value % 12 + 1, 1))
            mine = rows if len(months) == 1 else rows[month == value]
            _copy_stream(cursor, f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)", mine)


def _update_days(ldc: LDC, block: DayBlock) -> None:
    """UPDATE stored days with merged values: one binary COPY of the new arrays into a temporary
    table (built by numpy), then one UPDATE joined on the unique key."""
    table = IntervalDay._meta.db_table
    tmp = f"tmpm_{table}"
    rows = _copy_rows(
        [
            np.full(len(block), ldc.pk, ">i8"),
            block.meter.astype(">i8"),
            block.channel.astype(">i2"),
            (block.day - _PG_EPOCH_DAY).astype(">i4"),
            _as_bytes(block.wh, "<i4"),
            _as_bytes(block.flags, "u1"),
            _as_bytes(block.raw_wh, "<i4"),
            _as_bytes(block.raw_quality, "u1"),
            block.version.astype(">i4"),
        ]
    )
    days = (date_of(int(block.day.min())), date_of(int(block.day.max())))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {tmp} (ldc_id bigint, meter_id bigint, channel smallint, "
            "day date, wh bytea, flags bytea, raw_wh bytea, raw_quality bytea, version integer) "
            "ON COMMIT DROP"
        )
        _copy_stream(cursor, f"COPY {tmp} FROM STDIN (FORMAT BINARY)", rows)
        # One probe of the primary key per copied day, whatever the statistics (the LDC comes
        # from the copied rows: see NESTED_LOOP_ONLY); the day range prunes partitions.
        with planner(cursor, NESTED_LOOP_ONLY):
            cursor.execute(
                f"UPDATE {table} t SET wh = s.wh, flags = s.flags, raw_wh = s.raw_wh, "  # noqa: S608
                "raw_quality = s.raw_quality, version = s.version, updated_at = %s FROM "
                f"{tmp} s WHERE t.ldc_id = s.ldc_id AND t.meter_id = s.meter_id "
                "AND t.channel = s.channel AND t.day = s.day AND t.day BETWEEN %s AND %s",
                [timezone.now(), *days],
            )
        cursor.execute(f"DROP TABLE {tmp}")


def write_merge(
    ldc: LDC, before: DayBlock, result: MergeResult, read_file: ReadFile, exists: np.ndarray
) -> tuple[int, int]:
    """Persist a merge: archive superseded versions, upsert changed days.

    Returns (days written, versions archived)."""
    archived = archive_versions(
        ldc, before.take(np.flatnonzero(result.new_version & exists)), read_file
    )
    changed = np.flatnonzero(result.changed)
    written = save_days(ldc, _some(result.merged, changed), exists[changed])
    return written, archived


def _some(block: DayBlock, rows: np.ndarray) -> DayBlock:
    """``block.take(rows)`` for ascending ``rows`` (from flatnonzero), without the copy when they
    are all of its days (a new file's batch: every day changed, every day new). For readers only:
    the result may be ``block`` itself."""
    return block if len(rows) == len(block) else block.take(rows)


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


def vee_stored(ldc: LDC, meters: list[int], first_day: int, last_day: int) -> dict[int, VeeBlock]:
    """Every stored day of the given meters in [first_day, last_day] (UTC day numbers), as one
    VeeBlock of stored rows (sorted by day key) per interval length.

    On PostgreSQL the database concatenates each column of a chunk of meters into one bytea
    (binary results): no Python object per row or per value, one ``frombuffer`` per column.
    """
    if connection.vendor != "postgresql":
        rows = box_rows(ldc, meters, first_day, last_day)
        out: dict[int, VeeBlock] = {}
        for minutes in sorted({int(r[4]) for r in rows}):
            mine = [r for r in rows if int(r[4]) == minutes]
            out[minutes] = vee_block(mine, np.sort(_row_keys(mine)), minutes)
        return out
    parts: dict[int, list[VeeBlock]] = {}
    for i in range(0, len(meters), IN_CHUNK):
        for minutes, part in _vee_box_pg(ldc, meters[i : i + IN_CHUNK], first_day, last_day):
            parts.setdefault(minutes, []).append(part)
    return {m: _concat(parts[m]) for m in sorted(parts)}


# Each column of the box concatenated into one bytea (integers big-endian, as the *send
# functions give them; the arrays as stored, with their lengths). An aggregate without ORDER BY
# feeds every row to all its aggregates in turn, so the columns line up.
_VEE_BLOBS = ("wh", "flags", "raw_wh", "raw_quality", "methods", "rules")
_VEE_AGGS = ", ".join(
    [
        "string_agg(int8send(t.meter_id), ''::bytea)",
        "string_agg(int2send(t.channel), ''::bytea)",
        "string_agg(int4send(t.day - DATE '1970-01-01'), ''::bytea)",
        "string_agg(int4send(t.version), ''::bytea)",
        "string_agg(int2send(t.interval_minutes), ''::bytea)",
    ]
    + [
        f"string_agg(t.{c}, ''::bytea), string_agg(int4send(octet_length(t.{c})), ''::bytea)"
        for c in _VEE_BLOBS
    ]
)
# The meter range (redundant with the array) leads PostgreSQL to the primary key (ldc, meter,
# channel, day): without it, freshly loaded partitions (no statistics yet) are read through the
# (ldc, day) index, every meter of the LDC, and then filtered.
_VEE_WHERE = (
    "ldc_id = %s AND meter_id = ANY(%s::bigint[]) AND meter_id BETWEEN %s AND %s "
    "AND day BETWEEN %s AND %s"
)
# Column names are constants here, never input.
_VEE_BOX = f"SELECT count(*), {_VEE_AGGS} FROM meters_intervalday t WHERE {_VEE_WHERE}"  # noqa: S608
# (dtype, whether an empty blob is allowed: VEE never ran) of each blob column
_VEE_BLOB_TYPES = (
    ("<i4", False),
    ("u1", False),
    ("<i4", False),
    ("u1", False),
    ("u1", True),
    ("<u4", True),
)


# Exactly the given days (their keys as three arrays), one index probe each: the meters of an
# ingestion batch are scattered over the LDC's ids (a box would read every meter between them),
# and joins are kept to nested loops on the primary key whatever the (fresh) statistics say.
_KEYS_BOX = (
    "SELECT count(*), "  # noqa: S608
    f"{_VEE_AGGS} FROM unnest(%s::bigint[], %s::bigint[], %s::smallint[], %s::date[]) "
    "AS k(l, m, c, d) JOIN meters_intervalday t ON t.ldc_id = k.l AND t.meter_id = k.m "
    "AND t.channel = k.c AND t.day = k.d WHERE t.day BETWEEN %s AND %s"
)
KEYS_CHUNK = 50_000
# Plans that stale statistics cannot spoil. The interval partitions' statistics lag behind a
# load (an LDC's rows being loaded, or days newer than the last ANALYZE, are estimated at none),
# and a plan that looks free on them reads everything loaded so far, per key. Two ways out, for
# the statements inside `planner(cursor, ...)`:
# - NESTED_LOOP_ONLY, for joins of given keys to stored days (ingestion): reading "all the LDC's
#   rows of these days" (index on ldc and day) once, materialised, and filtering that for each
#   key looked free and cost 15 s for a batch of 10,000 keys. With the LDC coming with each key
#   (no constant to plan that read by) and only nested loops of index probes allowed, each key
#   is one probe of the primary key.
#   Nor may the stored side be made unique first (hash or sort): planned while a fresh partition
#   looked empty, "which meters have days" read the whole partition into a hash of (ldc, meter)
#   and compared every key with every entry (35-40 s for one batch once other loaders' rows had
#   landed). And no JIT: compiling a plan costs milliseconds, its index probes microseconds.
# - GENERIC_PLAN, for one statement with ranges of meters and days (billing): a generic plan does
#   not see the values, and takes the primary key over (ldc, day) whatever the statistics say;
#   partitions are pruned when it starts.
NESTED_LOOP_ONLY = {
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "enable_material": "off",
    "enable_seqscan": "off",
    "enable_bitmapscan": "off",
    "enable_hashagg": "off",
    "enable_sort": "off",
    "jit": "off",
}
GENERIC_PLAN = {"plan_cache_mode": "force_generic_plan"}
# For VEE's write-back: its meter and day ranges lead to the primary key; only a sequential scan
# of a whole fresh partition must be ruled out.
NO_SEQSCAN = {"enable_seqscan": "off"}


@contextmanager
def planner(cursor: Any, settings: dict[str, str]) -> Iterator[None]:
    """The planner ``settings`` for the statements inside, in the caller's transaction (one
    round trip to set them, one to put them back: SET LOCAL would outlive a savepoint). Use it
    inside a transaction or savepoint: on an error, its rollback undoes the settings too."""
    names = sorted(settings)
    cursor.execute(
        "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(names)),
        [value for name in names for value in (name, settings[name])],
    )
    yield
    # Names from the constants above, never input.
    cursor.execute("; ".join(f"SET LOCAL {name} TO DEFAULT" for name in names))


# Which of these meters have any day stored in the range: one probe of the primary key per
# meter (a new file's meters mostly have none: their keys need not be probed one by one). The
# first day in (channel, day) order: only the primary key gives that order without a sort
# (off in NESTED_LOOP_ONLY). As "EXISTS (... the meter's days in the range)", statistics that
# knew nothing of the LDC's rows yet made the (ldc, day) index look as good: each probe then
# read all the LDC's days of the range (30-40 s for a batch of 350 meters, 3 loaders).
_METERS_STORED = (
    "SELECT k.m FROM unnest(%s::bigint[], %s::bigint[]) AS k(l, m) CROSS JOIN LATERAL ("
    "SELECT 1 FROM meters_intervalday t WHERE t.ldc_id = k.l AND t.meter_id = k.m "
    "AND t.day BETWEEN %s AND %s ORDER BY t.channel, t.day LIMIT 1) AS first_day"
)


def _fetch_keys_pg(ldc: LDC, keys: np.ndarray) -> dict[int, VeeBlock]:
    """The stored days of the given sorted unique keys, one VeeBlock per interval length."""
    parts: dict[int, list[VeeBlock]] = {}
    meters = runs.sorted_unique(keys >> 23)
    day = keys & ((1 << 20) - 1)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        planner(cursor, NESTED_LOOP_ONLY),
    ):
        cursor.execute(
            _METERS_STORED,
            [
                int_array([ldc.pk] * len(meters)),
                int_array(meters.tolist()),
                date_of(int(day.min())),
                date_of(int(day.max())),
            ],
        )
        stored = np.array([row[0] for row in cursor.fetchall()], np.int64)
    if not len(stored):
        return {}
    keys = keys[np.isin(keys >> 23, stored)]
    for i in range(0, len(keys), KEYS_CHUNK):
        chunk = keys[i : i + KEYS_CHUNK]
        day = chunk & ((1 << 20) - 1)
        params = [
            [ldc.pk] * len(chunk),
            (chunk >> 23).tolist(),
            ((chunk >> 20) & 7).tolist(),
            (day.astype("datetime64[D]")).tolist(),
            date_of(int(day.min())),
            date_of(int(day.max())),
        ]
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            planner(cursor, NESTED_LOOP_ONLY),
        ):
            for minutes, part in _box_blocks(_KEYS_BOX, params):
                parts.setdefault(minutes, []).append(part)
    return {m: _concat(parts[m]) for m in sorted(parts)}


def _vee_box_pg(
    ldc: LDC, meters: list[int], first_day: int, last_day: int
) -> list[tuple[int, VeeBlock]]:
    ids = [int(m) for m in meters]
    params = [ldc.pk, ids, min(ids), max(ids), date_of(first_day), date_of(last_day)]
    return _box_blocks(_VEE_BOX, params)


def _box_blocks(sql: str, params: list[Any]) -> list[tuple[int, VeeBlock]]:
    """Run a query of _VEE_AGGS (binary results) and lay its rows out as VeeBlocks."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        count, *cols = cursor.fetchone() or (0,)
    if not count:
        return []
    meter = np.frombuffer(cols[0], ">i8").astype(np.int64)
    channel = np.frombuffer(cols[1], ">i2").astype(np.int64)
    day = np.frombuffer(cols[2], ">i4").astype(np.int64)
    version = np.frombuffer(cols[3], ">i4").astype(np.int64)
    minutes = np.frombuffer(cols[4], ">i2").astype(np.int64)
    if meter.shape[0] != count:
        raise ValueError("stored days came back misaligned")
    key = day_key(meter, channel, day)
    blobs = [
        (np.frombuffer(cols[5 + 2 * j], np.uint8), np.frombuffer(cols[6 + 2 * j], ">i4"))
        for j in range(len(_VEE_BLOBS))
    ]
    out = []
    for m in runs.sorted_unique(minutes).tolist():
        rows = np.flatnonzero(minutes == m)
        rows = rows[np.argsort(key[rows], kind="stable")]
        n = slots_per_day(m)
        arrays = [
            _blob_column(data, sizes, rows, dtype, n, empty)
            for (data, sizes), (dtype, empty) in zip(blobs, _VEE_BLOB_TYPES, strict=True)
        ]
        wh, flags, raw_wh, raw_quality, methods, rules = arrays
        block = DayBlock(key[rows], m, wh, flags, raw_wh, raw_quality, version[rows])
        out.append((m, VeeBlock(block, methods, rules, np.ones(rows.shape[0], bool))))
    return out


def _blob_column(
    data: np.ndarray, sizes: np.ndarray, rows: np.ndarray, dtype: str, n: int, allow_empty: bool
) -> np.ndarray:
    """(len(rows), n) values of the given rows from one column's concatenated blobs; an empty
    blob (VEE never ran) reads as zeros where ``allow_empty``."""
    width = n * np.dtype(dtype).itemsize
    size = sizes[rows]
    full = size != 0 if allow_empty else np.ones(rows.shape[0], bool)
    if (size[full] != width).any():
        raise ValueError(f"a stored day's array is not {n} values of {dtype}")
    if size.shape[0] == sizes.shape[0] and full.all():
        # Every row of the box, all full (the usual case): the blobs are the array, reordered.
        return np.frombuffer(data, dtype).reshape(-1, n)[rows]
    out = np.zeros((rows.shape[0], n), dtype)
    start = (np.cumsum(sizes, dtype=np.int64) - sizes)[rows[full]]
    at = start[:, None] + np.arange(width)
    out[full] = data[at].view(dtype).reshape(-1, n)
    return out


def _concat(parts: list[VeeBlock]) -> VeeBlock:
    if len(parts) == 1:
        return parts[0]
    b = [p.block for p in parts]
    block = DayBlock(
        np.concatenate([x.key for x in b]),
        b[0].minutes,
        np.concatenate([x.wh for x in b]),
        np.concatenate([x.flags for x in b]),
        np.concatenate([x.raw_wh for x in b]),
        np.concatenate([x.raw_quality for x in b]),
        np.concatenate([x.version for x in b]),
    )
    order = np.argsort(block.key, kind="stable")
    return VeeBlock(
        block.take(order),
        np.concatenate([p.methods for p in parts])[order],
        np.concatenate([p.rules for p in parts])[order],
        np.concatenate([p.exists for p in parts])[order],
    )


def vee_layout(stored: VeeBlock | None, keys: np.ndarray, minutes: int) -> VeeBlock:
    """The days ``keys`` (sorted, unique, a superset of the stored rows' keys) of one interval
    length: the stored rows where there are, empty days elsewhere."""
    if stored is not None and np.array_equal(stored.block.key, keys):
        return stored  # every day asked for is stored (the usual case)
    block = DayBlock.empty(keys, minutes)
    n = slots_per_day(minutes)
    methods, rules = np.zeros((len(keys), n), np.uint8), np.zeros((len(keys), n), np.uint32)
    exists = np.zeros(len(keys), bool)
    if stored is not None and len(stored.block):
        at = np.searchsorted(keys, stored.block.key)
        s = stored.block
        block.wh[at], block.flags[at] = s.wh, s.flags
        block.raw_wh[at], block.raw_quality[at] = s.raw_wh, s.raw_quality
        block.version[at] = s.version
        methods[at], rules[at], exists[at] = stored.methods, stored.rules, True
    return VeeBlock(block, methods, rules, exists)


def save_vee(ldc: LDC, vee: VeeBlock) -> int:
    """Write VEE's current values, flags, methods and rule bits (never the raw values).

    Stored days are updated in place (an UPDATE joined to the copied rows: cheaper than a
    speculative insert per row); days VEE created (estimates where nothing arrived) are inserted.
    """
    if not len(vee.block):
        return 0
    table, key = IntervalDay._meta.db_table, ("ldc_id", "meter_id", "channel", "day")
    update = ("wh", "flags", "methods", "rules", "updated_at")
    if connection.vendor == "postgresql":
        if vee.exists.all():
            _update_vee(ldc, vee.block, vee.methods, vee.rules)
            return len(vee.block)
        stored = np.flatnonzero(vee.exists)
        if len(stored):
            _update_vee(ldc, vee.block.take(stored), vee.methods[stored], vee.rules[stored])
        created = np.flatnonzero(~vee.exists)
        if len(created):
            _upsert(
                table,
                _VEE_COLUMNS,
                _VEE_TYPES,
                key,
                update,
                _vee_rows(ldc, vee.block.take(created), vee.methods[created], vee.rules[created]),
            )
        return len(vee.block)
    _upsert(
        table,
        _VEE_COLUMNS,
        _VEE_TYPES,
        key,
        update,
        _vee_rows(ldc, vee.block, vee.methods, vee.rules),
    )
    return len(vee.block)


def _vee_rows(
    ldc: LDC, block: DayBlock, methods: np.ndarray, rules: np.ndarray
) -> list[tuple[Any, ...]]:
    return [
        (*r, m, b)
        for r, m, b in zip(
            _day_rows(ldc, block), pack_rows(methods, "u1"), pack_rows(rules, "<u4"), strict=True
        )
    ]


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + b"\0" * 8
_COPY_TRAILER = b"\xff\xff"
_PG_EPOCH_DAY = 10957  # 2000-01-01, where PostgreSQL's binary dates count from


def _copy_rows(columns: list[np.ndarray]) -> np.ndarray:
    """The tuples of a binary COPY stream of fixed-width rows, built with numpy (no Python per
    row): a (K, row bytes) uint8 array to send between the signature and the trailer.

    Each column is a (K,) array of a big-endian integer dtype, or a (K, w) uint8 array sent as
    a bytea of w bytes."""
    k = columns[0].shape[0]
    parts = [(c.view(np.uint8).reshape(k, -1) if c.ndim == 1 else c) for c in columns]
    # The field count and each field's length are the same in every row: one template row,
    # copied into all rows at once, then the values column by column.
    template = [np.array(len(parts), ">i2").tobytes()]
    for p in parts:
        template += [np.array(p.shape[1], ">i4").tobytes(), bytes(p.shape[1])]
    row = np.frombuffer(b"".join(template), np.uint8)
    out = np.empty((k, row.shape[0]), np.uint8)
    out[:] = row
    at = 2
    for p in parts:
        out[:, at + 4 : at + 4 + p.shape[1]] = p
        at += 4 + p.shape[1]
    return out


def _as_bytes(values: np.ndarray, dtype: str) -> np.ndarray:
    """(K, n) values as (K, n * itemsize) uint8 in the stored byte layout."""
    data = np.ascontiguousarray(values, dtype=dtype)
    return data.view(np.uint8).reshape(data.shape[0], -1)


def _update_vee(ldc: LDC, block: DayBlock, methods: np.ndarray, rules: np.ndarray) -> None:
    """UPDATE VEE's columns of stored days: one binary COPY of the new arrays into a temporary
    table (a buffer numpy builds), then one joined UPDATE."""
    table = IntervalDay._meta.db_table
    tmp = f"tmpv_{table}"
    rows = _copy_rows(
        [
            block.meter.astype(">i8"),
            block.channel.astype(">i2"),
            (block.day - _PG_EPOCH_DAY).astype(">i4"),
            _as_bytes(block.wh, "<i4"),
            _as_bytes(block.flags, "u1"),
            _as_bytes(methods, "u1"),
            _as_bytes(rules, "<u4"),
        ]
    )
    # Both ranges let PostgreSQL prune partitions and read only these meters' rows (see
    # _VEE_WHERE).
    days = (date_of(int(block.day.min())), date_of(int(block.day.max())))
    meters = (int(block.meter.min()), int(block.meter.max()))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {tmp} (meter_id bigint, channel smallint, day date, "
            "wh bytea, flags bytea, methods bytea, rules bytea) ON COMMIT DROP"
        )
        _copy_stream(cursor, f"COPY {tmp} FROM STDIN (FORMAT BINARY)", rows)
        # Freshly loaded partitions may have no statistics yet: never a sequential scan of a
        # whole partition; the ranges keep the read to these meters' rows (primary key).
        with planner(cursor, NO_SEQSCAN):
            cursor.execute(
                f"UPDATE {table} t SET wh = s.wh, flags = s.flags, methods = s.methods, "  # noqa: S608
                "rules = s.rules, updated_at = %s FROM "
                f"{tmp} s WHERE t.ldc_id = %s AND t.meter_id = s.meter_id "
                "AND t.channel = s.channel AND t.day = s.day AND t.day BETWEEN %s AND %s "
                "AND t.meter_id BETWEEN %s AND %s",
                [timezone.now(), ldc.pk, *days, *meters],
            )
        cursor.execute(f"DROP TABLE {tmp}")
