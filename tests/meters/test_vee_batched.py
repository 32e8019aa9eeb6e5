"""VEE's bulk paths: reading a box of stored days as arrays, writing VEE's columns from arrays,
and running chunks of meters in threads give what the row-by-row paths give."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.db import connection

from bench.common import register, store_days
from meters.models import IntervalDay, Meter, VeeException
from meters.reads import day_store
from meters.reads.day_arrays import DayBlock, IntervalFlag, day_key, pack_rows
from meters.vee.service import vee_run_chunks, vee_run_days
from tests.factories import LdcFactory, MeterFactory

FIRST = 20519  # UTC day 2026-03-07


def _block(meters: list[int], days: list[int], minutes: int, seed: int) -> DayBlock:
    rng = np.random.default_rng(seed)
    keys = np.sort(day_key(np.repeat(meters, len(days)), 1, np.tile(np.array(days), len(meters))))
    block = DayBlock.empty(keys, minutes)
    shape = block.wh.shape
    block.wh[:] = rng.integers(0, 5000, shape, dtype=np.int32)
    block.raw_wh[:] = block.wh
    block.raw_quality[:] = 0
    block.flags[:] = np.uint8(IntervalFlag.RECEIVED)
    block.version[:] = rng.integers(1, 4, len(keys))
    return block


def _assert_same(a: day_store.VeeBlock, b: day_store.VeeBlock) -> None:
    for name in ("key", "wh", "flags", "raw_wh", "raw_quality", "version"):
        x, y = getattr(a.block, name), getattr(b.block, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.block.minutes == b.block.minutes
    for name in ("methods", "rules", "exists"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.django_db
def test_the_bulk_read_of_stored_days_is_the_row_by_row_read(monkeypatch: Any) -> None:
    """Two interval lengths, days VEE has and has not run on, several chunks of meters."""
    ldc = LdcFactory(slug="bulk-read")
    hourly = [MeterFactory(ldc=ldc).pk for _ in range(5)]
    quarter = [MeterFactory(ldc=ldc).pk for _ in range(2)]
    days = [FIRST - 1, FIRST, FIRST + 1, FIRST + 3]
    day_store.ensure_partitions(np.array(days))
    day_store.save_days(ldc, _block(hourly, days, 60, seed=1))
    day_store.save_days(ldc, _block(quarter, days, 15, seed=2))
    # VEE's columns on some days only: the others keep their empty arrays.
    done = _block(hourly[:2], days[:2], 60, seed=3)
    n = done.wh.shape[1]
    rules = np.arange(len(done) * n, dtype=np.uint32).reshape(len(done), n) << 3
    methods = (np.arange(len(done) * n) % 7).astype(np.uint8).reshape(len(done), n)
    day_store.save_vee(ldc, day_store.VeeBlock(done, methods, rules, np.ones(len(done), bool)))
    monkeypatch.setattr(day_store, "IN_CHUNK", 3)  # three chunks of meters

    meters = sorted(hourly + quarter + [10**9])  # and a meter with nothing stored
    got = day_store.vee_stored(ldc, meters, FIRST - 1, FIRST + 1)
    rows = day_store.box_rows(ldc, meters, FIRST - 1, FIRST + 1)
    assert sorted(got) == [15, 60]
    for minutes, bulk in got.items():
        mine = [r for r in rows if r[4] == minutes]
        keys = np.sort(day_store._row_keys(mine))
        _assert_same(bulk, day_store.vee_block(mine, keys, minutes))
    assert got[60].rules.any() and got[60].methods.any()
    assert not got[15].rules.any() and len(got[15].block) == 2 * 3
    assert day_store.vee_stored(ldc, [10**9], FIRST, FIRST) == {}


@pytest.mark.django_db
def test_a_stored_day_that_is_not_whole_is_an_error() -> None:
    ldc = LdcFactory(slug="bulk-bad")
    meter = MeterFactory(ldc=ldc)
    day_store.ensure_partitions(np.array([FIRST]))
    day_store.save_days(ldc, _block([meter.pk], [FIRST], 60, seed=4))
    IntervalDay.objects.filter(meter=meter).update(wh=b"\0" * 12)
    with pytest.raises(ValueError):  # never a block of misread values
        day_store.vee_stored(ldc, [meter.pk], FIRST, FIRST)


@pytest.mark.django_db
def test_save_vee_writes_vee_columns_of_stored_and_new_days() -> None:
    ldc = LdcFactory(slug="bulk-write")
    meters = [MeterFactory(ldc=ldc).pk for _ in range(3)]
    days = [FIRST, FIRST + 1]
    day_store.ensure_partitions(np.array(days))
    stored = _block(meters[:2], days, 60, seed=5)
    day_store.save_days(ldc, stored)
    everything = _block(meters, days, 60, seed=6)  # 4 stored days and 2 new ones
    n = everything.wh.shape[1]
    methods = np.full((len(everything), n), 3, np.uint8)
    rules = np.full((len(everything), n), 1 << 7, np.uint32)
    exists = np.isin(everything.key, stored.key)
    for rows in (np.flatnonzero(exists), np.arange(len(everything))):  # all stored, then mixed
        block = everything.take(rows)
        methods[rows] += 1
        vee = day_store.VeeBlock(block, methods[rows], rules[rows], exists[rows])
        assert day_store.save_vee(ldc, vee) == len(rows)
    rows = day_store.box_rows(ldc, meters, FIRST, FIRST + 1)
    assert len(rows) == 6
    at = np.searchsorted(everything.key, day_store._row_keys(rows))
    for row, i in zip(rows, at.tolist(), strict=True):
        assert bytes(row[5]) == pack_rows(everything.wh[i : i + 1], "<i4")[0]
        assert bytes(row[6]) == pack_rows(everything.flags[i : i + 1], "u1")[0]
        assert bytes(row[10]) == bytes([5 if exists[i] else 4]) * n
        assert bytes(row[11]) == pack_rows(rules[i : i + 1], "<u4")[0]
        # The values as received are the ingested ones on stored days, never VEE's.
        source = stored if exists[i] else everything
        j = int(np.searchsorted(source.key, everything.key[i]))
        assert bytes(row[7]) == pack_rows(source.raw_wh[j : j + 1], "<i4")[0]


def _state(ldc: Any) -> tuple[list[Any], list[Any]]:
    serial = dict(Meter.objects.filter(ldc=ldc).values_list("pk", "serial"))
    days = sorted(
        (serial[m], c, d, bytes(wh), bytes(f), bytes(me), bytes(ru), v)
        for m, c, d, wh, f, me, ru, v in IntervalDay.objects.filter(ldc=ldc).values_list(
            "meter_id", "channel", "day", "wh", "flags", "methods", "rules", "version"
        )
    )
    exceptions = sorted(
        (serial[m], c, d, r, s, t)
        for m, c, d, r, s, t in VeeException.objects.filter(ldc=ldc).values_list(
            "meter_id", "channel", "day", "rule", "status", "detail"
        )
    )
    return days, exceptions


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_chunks_in_threads_give_what_one_after_the_other_gives() -> None:
    """The same stored days under two LDCs: VEE in two threads, and in one, agree."""
    states, outcomes = [], []
    for slug, workers in (("seq", 1), ("threads", 2)):
        ldc = register(f"vee-{slug}", 7)
        store_days(ldc, 7, 10, FIRST, seed=3)
        meters = list(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True))
        # Gaps that need estimation, a day nothing arrived for, a spike.
        first = IntervalDay.objects.filter(ldc=ldc).order_by("meter__serial", "day")
        gap = first[3]
        wh = bytearray(gap.wh)
        wh[40:52] = b"\0" * 12
        flags = bytearray(gap.flags)
        flags[10:13] = bytes([IntervalFlag.MISSING]) * 3
        IntervalDay.objects.filter(pk=gap.pk, day=gap.day).update(wh=bytes(wh), flags=bytes(flags))
        IntervalDay.objects.filter(meter=first[20].meter_id, day=first[20].day).delete()
        outcome = vee_run_chunks(
            ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=FIRST + 9, chunk=2, workers=workers
        )
        outcomes.append(outcome)
        states.append(_state(ldc))
        # The connections of the worker threads are closed; this one still works.
        assert connection.is_usable()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0].written >= 7 * 10 - 1 and outcomes[0].estimated > 0
    assert states[0] == states[1]
    again = vee_run_chunks(
        ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=FIRST + 9, chunk=2, workers=2
    )
    assert again.written == 0, "VEE again on the same data changes nothing"


@pytest.mark.django_db
def test_chunks_in_a_transaction_run_on_the_callers_connection() -> None:
    """Inside a transaction (this test's) the chunks run one after the other and see its data."""
    ldc = register("vee-atomic", 5)
    store_days(ldc, 5, 3, FIRST, seed=4)
    meters = list(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True))
    together = vee_run_chunks(ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=FIRST + 2)
    assert together.days == 5 * 3 and together.written == 5 * 3
    assert vee_run_days(ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=FIRST + 2).written == 0
