"""How a file is cut into load batches (every read of a meter in one batch, the same cut on a
retry), the exact-key read of stored days, and the guard that replaced the interval table's
foreign keys on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import DataError, IntegrityError, connection, transaction

from meters.models import IntervalDay, Meter, ReadFile
from meters.reads import day_store, ingest
from meters.reads.day_arrays import day_key
from meters.reads.spool import Serials, parse_to_spool
from tests.integration.harness import cmep, deliver, registered_ldc

TZ = ZoneInfo("America/Toronto")


def _spool(path: Path, batch_reads: int) -> Any:
    spool = parse_to_spool(
        path, interface="cmep", filename=path.name, tz=TZ, batch_reads=batch_reads
    )
    return spool


@pytest.fixture
def media(tmp_path: Path, settings: Any) -> Path:
    """Files stored under tmp_path; VEE after ingestion off (its own tests cover it)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPENMDMR_VEE_AFTER_INGEST = False
    return tmp_path


def _ingested(ldc: Any, folder: Path, name: str, meters: int, days: int, **kw: Any) -> ReadFile:
    """A generated CMEP file of ``meters`` x ``days``, delivered and ingested."""
    read_file, _ = deliver(ldc, cmep(ldc, folder, name, range(meters), days, **kw), queue=False)
    return ingest.read_file_ingest(read_file=read_file)


@pytest.mark.django_db
def test_each_meter_is_in_one_batch_and_the_cut_repeats(tmp_path: Path) -> None:
    ldc = registered_ldc("cut", 40)
    path = cmep(ldc, tmp_path, "days.txt", range(40), 5, unknown=3)  # ordered by day, then meter
    first, again = _spool(path, 500), _spool(path, 500)
    try:
        assert first.batches == again.batches > 5
        seen: dict[str, int] = {}
        total = 0
        for number in range(first.batches):
            batch, same = first.load(number), again.load(number)
            assert np.array_equal(batch.intervals.start, same.intervals.start)
            assert list(batch.intervals.meter) == list(same.intervals.meter)
            for serial in set(batch.intervals.meter.tolist()):
                assert seen.setdefault(serial, number) == number, f"{serial} split over batches"
            total += len(batch.intervals)
            # A meter's reads keep the file's order (a later mention of an interval wins).
            for serial in set(batch.intervals.meter.tolist()):
                starts = batch.intervals.start[batch.intervals.meter == serial]
                assert (np.diff(starts) > 0).all()
        assert total == first.intervals == 43 * 5 * 24
        assert len(seen) == 43
        sizes = [len(first.load(n).intervals) for n in range(first.batches)]
        assert max(sizes) <= 500 + 5 * 24, "a batch is about batch_reads (plus one meter's reads)"
    finally:
        first.close()
        again.close()


def test_serials_are_coded_in_order_of_first_appearance_with_their_crc32() -> None:
    serials = Serials()
    codes = serials.codes_of(["M-2", "M-1", "M-2", "Zähler-9"])
    assert codes.tolist() == [0, 1, 0, 2]
    assert serials.codes_of(["M-1", "M-3"]).tolist() == [1, 3]
    assert serials.names == ["M-2", "M-1", "Zähler-9", "M-3"]
    expected = [zlib.crc32(name.encode("utf-8")) for name in serials.names]
    assert serials.hash.dtype == np.uint32
    assert serials.hash.tolist() == expected  # the batch cut of a retried file stays the same
    reads = np.array(["M-3", "M-3", "New", "M-2"], dtype=object)
    assert serials.encode(reads).tolist() == [3, 3, 4, 0]


@pytest.mark.django_db
def test_batches_are_ranges_of_the_serials_crc32(tmp_path: Path) -> None:
    ldc = registered_ldc("crc", 30)
    spool = _spool(cmep(ldc, tmp_path, "days.txt", range(30), 2), 200)
    try:
        ranges = []
        for number in range(spool.batches):
            names = set(spool.load(number).intervals.meter.tolist())
            hashes = sorted(zlib.crc32(name.encode("utf-8")) for name in names)
            ranges.append((hashes[0], hashes[-1]))
        assert spool.batches > 3
        assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    finally:
        spool.close()


@pytest.mark.django_db
def test_batches_cut_by_meter_store_the_same_as_one_batch(media: Path, settings: Any) -> None:
    stored, reports = {}, {}
    for slug, batch_reads in (("small", 300), ("whole", 10**9)):
        ldc = registered_ldc(slug, 12)
        settings.OPENMDMR_INGEST_BATCH_READS = batch_reads
        read_file = _ingested(ldc, media, f"{slug}.txt", 12, 4)
        assert read_file.status == ReadFile.Status.LOADED
        assert read_file.intervals_accepted == 12 * 4 * 24
        reports[slug] = read_file.report
        stored[slug] = sorted(
            (serial.split("-MTR-")[1], day, bytes(wh), bytes(raw_quality), version)
            for serial, day, wh, raw_quality, version in IntervalDay.objects.for_ldc(
                ldc
            ).values_list("meter__serial", "day", "wh", "raw_quality", "version")
        )
    assert stored["small"] == stored["whole"]
    # The data-collection figures add up over batches to those of the file in one batch.
    assert reports["small"] == reports["whole"]
    assert reports["small"]["meters"] == 12 and reports["small"]["intervals_expected"] > 0
    assert {row[4] for row in stored["small"]} == {1}, "a day-ordered file makes no versions"


@pytest.mark.django_db
def test_fetch_days_returns_exactly_the_stored_days_asked_for(media: Path) -> None:
    ldc = registered_ldc("fetch", 6)
    _ingested(ldc, media, "f.txt", 4, 2)
    rows = list(IntervalDay.objects.for_ldc(ldc).values_list("meter_id", "channel", "day"))
    stored = day_key(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows], "datetime64[D]").astype(np.int64),
    )
    unstored_meters = list(
        Meter.objects.for_ldc(ldc).exclude(pk__in=[r[0] for r in rows]).values_list("pk", flat=True)
    )
    day = int(stored.min() & ((1 << 20) - 1))
    asked = np.sort(
        np.r_[
            stored[::2], day_key(np.array(unstored_meters), np.ones(2, np.int64), np.full(2, day))
        ]
    )
    found = day_store.fetch_days(ldc, asked)
    assert list(found) == [60]
    assert np.array_equal(found[60].block.key, np.sort(stored[::2]))
    assert found[60].exists.all()
    assert day_store.fetch_days(ldc, np.sort(asked[~np.isin(asked, stored)])) == {}


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_meter_or_ldc_with_interval_days_cannot_be_deleted(media: Path) -> None:
    """The interval table has no foreign keys on PostgreSQL; a trigger keeps the references."""
    ldc = registered_ldc("guard", 2)
    _ingested(ldc, media, "g.txt", 1, 1)
    meter_id = IntervalDay.objects.for_ldc(ldc).values_list("meter_id", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'meters_intervalday'::regclass "
            "AND contype = 'f'"
        )
        assert cursor.fetchone()[0] == 0
        for table, pk in (("meters_meter", meter_id), ("ldc_ldc", ldc.pk)):
            with (
                pytest.raises(IntegrityError, match="still has interval days"),
                transaction.atomic(),
            ):
                cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608
    assert Meter.objects.filter(pk=meter_id).exists()
    spare = Meter.objects.for_ldc(ldc).exclude(pk=meter_id).get()
    with connection.cursor() as cursor:  # a meter without days goes
        cursor.execute("DELETE FROM meters_meterinstallation WHERE meter_id = %s", [spare.pk])
        cursor.execute("DELETE FROM meters_meter WHERE id = %s", [spare.pk])
    assert not Meter.objects.filter(pk=spare.pk).exists()


def _batches(spool: Any) -> list[tuple[list[str], list[int], list[int], list[int]]]:
    """Each batch's reads, grouped by meter (a stable sort: each meter's reads in file order;
    the meters of a batch may come in another order)."""
    out = []
    for b in spool:
        order = np.argsort(b.intervals.meter.astype(str), kind="stable")
        iv = b.intervals
        out.append(
            (
                iv.meter[order].tolist(),
                iv.start[order].tolist(),
                iv.wh[order].tolist(),
                iv.line[order].tolist(),
            )
        )
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("bom", [False, True])
def test_worker_processes_parse_to_the_same_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bom: bool
) -> None:
    from meters.reads import spool as spool_module

    ldc = registered_ldc("workers", 30)
    path = cmep(ldc, tmp_path, "w.txt", range(30), 3, unknown=2)
    if bom:  # the workers read their chunks by byte offset: past a UTF-8 BOM
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    alone = parse_to_spool(path, interface="cmep", filename=path.name, tz=TZ, batch_reads=400)
    monkeypatch.setattr(spool_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(spool_module, "CHUNK_BYTES", 8192)
    assert spool_module._workers(path, "cmep") == 2  # this machine: 2 cores
    together = parse_to_spool(path, interface="cmep", filename=path.name, tz=TZ, batch_reads=400)
    try:
        assert together.parts > alone.parts  # it did run in chunks
        assert (together.records, together.intervals) == (alone.records, alone.intervals)
        assert together.serials == alone.serials
        assert _batches(together) == _batches(alone)
    finally:
        alone.close()
        together.close()


@pytest.mark.django_db
def test_worker_processes_report_the_first_bad_line_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meters.reads import spool as spool_module
    from meters.reads.interfaces.base import ReadFileError

    ldc = registered_ldc("badw", 30)
    path = cmep(ldc, tmp_path, "b.txt", range(30), 3)
    lines = path.read_text().splitlines(keepends=True)
    for bad in (70, 20):  # two faulty lines in different chunks: line 21 is the first
        fields = lines[bad].split(",")
        fields[16] = "12x.5"
        lines[bad] = ",".join(fields)
    path.write_text("".join(lines))
    monkeypatch.setattr(spool_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(spool_module, "CHUNK_BYTES", 8192)
    with pytest.raises(ReadFileError) as error:
        parse_to_spool(path, interface="cmep", filename=path.name, tz=TZ, batch_reads=400)
    assert error.value.line == 21 and "b.txt" in str(error.value)
    assert not list(tmp_path.glob("openmdmr-spool-*"))


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_planner_settings_hold_inside_only() -> None:
    def current() -> list[str]:
        cursor.execute(
            "SELECT current_setting('enable_hashjoin'), current_setting('plan_cache_mode')"
        )
        return list(cursor.fetchone())

    with transaction.atomic(), connection.cursor() as cursor:
        before = current()
        with day_store.planner(cursor, {**day_store.NESTED_LOOP_ONLY, **day_store.GENERIC_PLAN}):
            assert current() == ["off", "force_generic_plan"]
        assert current() == before
        with (
            pytest.raises(DataError),
            transaction.atomic(),  # rolled back: the settings with it
            day_store.planner(cursor, day_store.NESTED_LOOP_ONLY),
        ):
            cursor.execute("SELECT 1 / 0")
        assert current() == before


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_new_days_go_straight_to_their_months_partitions(media: Path) -> None:
    ldc = registered_ldc("months", 3)
    read_file = _ingested(ldc, media, "turn.txt", 3, 4, first=dt.date(2026, 1, 30))
    assert read_file.status == ReadFile.Status.LOADED
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, min(day), max(day), count(*) "
            "FROM meters_intervalday WHERE ldc_id = %s GROUP BY 1 ORDER BY 1",
            [ldc.pk],
        )
        months = cursor.fetchall()
    assert [(m[0], m[1].month, m[2].month) for m in months] == [
        ("meters_intervalday_202601", 1, 1),
        ("meters_intervalday_202602", 2, 2),
    ]
    # Local days Jan 30 to Feb 2 in Toronto: UTC Jan 30 to Feb 3, every meter every day.
    assert sum(m[3] for m in months) == 3 * 5


def _plan_nodes(plan: dict[str, Any], key: str = "Node Type") -> list[str]:
    children = (n for child in plan.get("Plans", []) for n in _plan_nodes(child, key))
    return [*([plan[key]] if key in plan else []), *children]


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_files_meters_are_resolved_without_a_join_whatever_the_statistics() -> None:
    # An LDC registers its meters and delivers a file at once: the statistics still say it has
    # no meters. The lookups by the file's serials and meter ids must not become joins (a
    # nested loop over both lists took 3.5 s for 10,000 meters, growing with the square).
    from django.test.utils import CaptureQueriesContext

    from meters.reads.resolve import MeterResolver

    with connection.cursor() as cursor:  # statistics taken before the LDC had any meter
        cursor.execute("ANALYZE meters_meter")
        cursor.execute("ANALYZE meters_meterinstallation")
    ldc = registered_ldc("fresh", 300)
    serials = list(Meter.objects.for_ldc(ldc).values_list("serial", flat=True))
    with CaptureQueriesContext(connection) as queries:
        resolver = MeterResolver(ldc, [*serials, "NOT-A-METER"])
    assert (resolver.pk_of_code >= 0).sum() == 300 and resolver.pk_of_code[-1] == -1
    assert len(resolver.installs.key) == 300
    lookups = [q["sql"] for q in queries if "= ANY(" in q["sql"]]
    # By external_id (#18), by serial, the installations of the meters found: none a join.
    assert len(lookups) == 3, queries.captured_queries
    for sql in lookups:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            (plan,) = cursor.fetchone()[0]
        nodes = _plan_nodes(plan["Plan"])
        assert not [n for n in nodes if "Join" in n or n == "Nested Loop"], nodes


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_stored_meters_are_probed_one_by_one_even_in_an_empty_looking_partition() -> None:
    # Planned while a fresh partition looked empty, "which of these meters have days" became a
    # hash of every (ldc, meter) stored, each key compared with each entry: 35-40 s for a batch
    # once other loaders' rows had landed. It must stay one probe of the primary key per meter.
    # Nor may the (ldc, day) index serve a probe (it reads all the LDC's days of the range).
    days = [(dt.date(2031, month, 5) - dt.date(1970, 1, 1)).days for month in (3, 4)]
    day_store.ensure_partitions(np.array(days))
    with transaction.atomic(), connection.cursor() as cursor:
        for month in ("203103", "203104"):  # statistics of empty partitions
            cursor.execute(f"ANALYZE meters_intervalday_{month}")
        with day_store.planner(cursor, day_store.NESTED_LOOP_ONLY):
            cursor.execute(
                f"EXPLAIN (FORMAT JSON) {day_store._METERS_STORED}",
                [[1] * 2000, list(range(2000)), dt.date(2031, 3, 1), dt.date(2031, 4, 20)],
            )
            (plan,) = cursor.fetchone()[0]
            cursor.execute("SELECT current_setting('jit')")
            assert cursor.fetchone()[0] == "off"
    nodes = _plan_nodes(plan["Plan"])
    assert "Nested Loop" in nodes and "Function Scan" in nodes, nodes
    assert not {"Aggregate", "Sort", "Unique", "Hash", "Materialize"} & set(nodes), nodes
    indexes = _plan_nodes(plan["Plan"], "Index Name")
    assert len(indexes) == 2 and all(name.endswith("_pkey") for name in indexes), indexes
    # And the read of exact keys: one probe of the primary key per key.
    days = [dt.date(2031, 3, 5), dt.date(2031, 4, 2)] * 1000
    params = [[1] * 2000, list(range(2000)), [1] * 2000, days, days[0], days[1]]
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        day_store.planner(cursor, day_store.NESTED_LOOP_ONLY),
    ):
        cursor.execute(f"EXPLAIN (FORMAT JSON) {day_store._KEYS_BOX}", params)
        (plan,) = cursor.fetchone()[0]
    nodes = _plan_nodes(plan["Plan"])
    assert "Nested Loop" in nodes and not {"Sort", "Hash", "Materialize"} & set(nodes), nodes
    indexes = _plan_nodes(plan["Plan"], "Index Name")
    assert indexes and all(name.endswith("_pkey") for name in indexes), indexes
