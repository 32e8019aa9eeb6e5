"""The fast paths of billing batches give what the plain ones give.

A batch computes many meters at once (period codes per distinct day, sums per item), reads and
writes a chunk in one statement each (COPY on PostgreSQL) and, on PostgreSQL outside a
transaction, reads the next chunk and stores the last one on two more connections. Each must
store exactly what one request at a time computes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection, transaction

from billing import rows as copied
from billing import selectors, services
from billing.models import BillingQuantity, BillingQuantityRequest, Status
from billing.periods import PERIOD_NAMES, period_codes
from billing.quantities import DayRows, Items, figures_compute
from meters.models import BillingCycle, IntervalDay, SdpTerms, ServiceDeliveryPoint
from meters.reads import day_store
from meters.reads.day_arrays import DAY_S, IntervalFlag
from tests.factories import MeterFactory

START, END = dt.date(2026, 3, 7), dt.date(2026, 3, 8)
TZ = ZoneInfo("America/Toronto")


def cycle_of_every_sdp(ldc: Any) -> BillingCycle:
    """A cycle with the sample's three SDPs: TOU, ULO and (made so here) tiered."""
    cycle = BillingCycle.objects.create(ldc=ldc, code="C08", read_day=8)
    # The SDPs' terms (#19: quantities follow them, not the SDP's own columns).
    for rows in (ServiceDeliveryPoint.objects, SdpTerms.objects):
        rows.filter(ldc=ldc).update(billing_cycle=cycle)
    SdpTerms.objects.filter(ldc=ldc, sdp__sdp_id="SDP-1003").update(commodity_rate_class="tiered")
    return cycle


def stored(ldc: Any) -> dict[str, dict[str, Any]]:
    rows = BillingQuantity.objects.for_ldc(ldc).select_related("request__sdp")
    return {
        q.request.sdp.sdp_id: {
            **{name: getattr(q, name) for name in services._FIGURE_FIELDS},
            "version": q.version,
            "request_status": q.request.status,
        }
        for q in rows
    }


def one_at_a_time(ldc: Any) -> dict[str, dict[str, Any]]:
    """Each request computed on its own (one meter per computation)."""
    out = {}
    for request in BillingQuantityRequest.objects.for_ldc(ldc).select_related("sdp"):
        [target] = services._targets(ldc, [request])
        [figures] = services.quantities_compute(ldc=ldc, targets=[target])
        status = figures["status"]
        out[request.sdp.sdp_id] = {**figures, "version": 1, "request_status": status}
    return out


@pytest.mark.django_db
def test_a_batch_in_chunks_stores_what_one_request_at_a_time_computes(
    validated: Any, monkeypatch: Any
) -> None:
    cycle = cycle_of_every_sdp(validated)
    monkeypatch.setattr(services, "CHUNK_METERS", 2)  # two chunks
    services.billing_batch_request(ldc=validated, cycle=cycle, start=START, end=END, actor=None)
    batch = stored(validated)
    assert sorted(batch) == ["SDP-1001", "SDP-1002", "SDP-1003"]
    assert set(batch["SDP-1003"]["periods_kwh"]) == {"tier1", "tier2"}
    assert batch == one_at_a_time(validated)
    # Asking again for the same period refreshes in place: nothing new, nothing changed.
    again = services.billing_batch_request(
        ldc=validated, cycle=cycle, start=START, end=END, actor=None
    )
    assert BillingQuantity.objects.for_ldc(validated).count() == 3
    assert stored(validated) == batch
    assert BillingQuantityRequest.objects.for_ldc(validated).filter(batch=again).count() == 3


@pytest.mark.django_db
def test_a_batch_takes_the_requests_another_batch_made_meanwhile(
    validated: Any, monkeypatch: Any
) -> None:
    cycle = cycle_of_every_sdp(validated)
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1001")
    theirs = services.billing_quantity_request(
        ldc=validated, sdp=sdp, start=START, end=END, actor=None
    )
    calls = []
    existing = services._requests_existing

    def blind_once(*args: Any) -> Any:  # the batch does not see theirs before it inserts
        calls.append(args)
        return {} if len(calls) == 1 else existing(*args)

    monkeypatch.setattr(services, "_requests_existing", blind_once)
    services.billing_batch_request(ldc=validated, cycle=cycle, start=START, end=END, actor=None)
    assert len(calls) == 2, "the insert collided and the batch took theirs"
    requests = BillingQuantityRequest.objects.for_ldc(validated)
    assert requests.count() == 3 and requests.get(sdp=sdp).pk == theirs.pk
    assert stored(validated) == one_at_a_time(validated)


def backends() -> set[int]:
    """The client connections to the test database (not autovacuum's workers, which come and go:
    counting them failed a run when one was busy at the start and gone at the end)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend'"
        )
        return {int(row[0]) for row in cursor.fetchall()}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_batch_on_three_connections_stores_what_one_request_at_a_time_computes(
    validated: Any, monkeypatch: Any
) -> None:
    cycle = cycle_of_every_sdp(validated)
    monkeypatch.setattr(services, "CHUNK_METERS", 1)  # three chunks, read and stored in threads
    used = []
    second = services._second_connection
    monkeypatch.setattr(
        services, "_second_connection", lambda n: used.append(second(n)) or used[-1]
    )
    before = backends()
    services.billing_batch_request(ldc=validated, cycle=cycle, start=START, end=END, actor=None)
    assert used and all(used)
    for _ in range(50):  # a closed connection's server process ends a moment later
        if not backends() - before:
            break
        time.sleep(0.1)
    assert not backends() - before, "the reader's and writers' connections are closed"
    batch = stored(validated)
    assert batch == one_at_a_time(validated)
    # A refresh of existing requests reads ahead on a second connection too.
    requests = list(BillingQuantityRequest.objects.for_ldc(validated))
    outcome = services.billing_quantities_refresh(ldc=validated, requests=requests)
    assert (outcome.requests, outcome.updated, outcome.created) == (3, 0, 0)
    assert stored(validated) == batch


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_batch_stopped_by_an_error_closes_its_readers_and_writers(
    validated: Any, monkeypatch: Any
) -> None:
    cycle = cycle_of_every_sdp(validated)
    monkeypatch.setattr(services, "CHUNK_METERS", 1)  # three parts: two read ahead at once
    store = services._store_fresh
    stored = []

    def fail_second(*args: Any, **kwargs: Any) -> None:
        stored.append(args[1])
        if len(stored) == 2:
            raise RuntimeError("disk full")
        store(*args, **kwargs)

    monkeypatch.setattr(services, "_store_fresh", fail_second)
    before = backends()
    with pytest.raises(RuntimeError, match="disk full"):
        services.billing_batch_request(ldc=validated, cycle=cycle, start=START, end=END, actor=None)
    for _ in range(50):
        if not backends() - before:
            break
        time.sleep(0.1)
    assert not backends() - before, "the readers' and writers' connections are closed"
    assert BillingQuantityRequest.objects.for_ldc(validated).count() in (1, 2)


@pytest.mark.django_db
def test_insert_rows_gives_pks_and_defaults_to_dicts_and_instances(world: Any) -> None:
    ldc = world.north
    sdp = ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id="NORTH-SDP-1")
    request = BillingQuantityRequest(ldc=ldc, sdp=sdp, start=START, end=END, plan="tou")
    [pk] = services.insert_rows(BillingQuantityRequest, [request])
    assert request.pk == pk and not request._state.adding
    meter = services.selectors.installations(ldc=ldc, sdp_ids=[sdp.pk], start=START, end=END)[
        sdp.pk
    ][0][0]
    row: dict[str, Any] = {"ldc_id": ldc.pk, "request_id": pk, "meter_id": meter}
    row.update(start=START, end=END, periods_kwh={"on_peak": 1.5}, pending_reasons=[])
    [quantity_pk] = services.insert_rows(BillingQuantity, [row])
    assert row["id"] == quantity_pk and len(row["public_id"]) == 16
    saved = BillingQuantity.objects.get(pk=quantity_pk)
    assert saved.public_id == row["public_id"] and saved.periods_kwh == {"on_peak": 1.5}
    assert saved.status == "pending" and saved.pending_reasons == [] and saved.version == 1


def reference(blocks: list[DayRows], items: Items) -> dict[str, np.ndarray]:
    """Figures interval by interval, each period code computed on its own."""
    n = len(items)
    out = {k: np.zeros(n, np.int64) for k in ("total", "estimated", "valid", "failed")}
    out["period"] = np.zeros((n, 4), np.int64)
    for i in range(n):
        for rows in blocks:
            step = rows.minutes * 60
            for k in np.flatnonzero(rows.meter == items.meter[i]).tolist():
                for slot in range(rows.wh.shape[1]):
                    start = int(rows.day[k]) * DAY_S + slot * step
                    if not items.first[i] <= start < items.after[i]:
                        continue
                    flags = int(rows.flags[k, slot])
                    out["failed"][i] += bool(flags & IntervalFlag.FAILED)
                    if flags & IntervalFlag.MISSING:
                        continue
                    wh = int(rows.wh[k, slot])
                    code = int(period_codes(np.array([start]), str(items.plan[i]), TZ)[0])
                    out["valid"][i] += 1
                    out["total"][i] += wh
                    out["estimated"][i] += wh if flags & IntervalFlag.ESTIMATED else 0
                    out["period"][i, code] += wh
    return out


def test_figures_of_many_meters_at_once_match_interval_by_interval() -> None:
    rng = np.random.default_rng(7)
    first_day = 20_517  # 2026-03-05 UTC: the spans below cross the DST change of March 8
    blocks = []
    for minutes, meters in ((60, [1, 2, 3, 5]), (15, [4, 6])):
        n = 1440 // minutes
        meter = np.repeat(np.array(meters, np.int64), 6)
        day = np.tile(np.arange(first_day, first_day + 6, dtype=np.int64), len(meters))
        flags = rng.choice(
            np.array(
                [IntervalFlag.VALIDATED, IntervalFlag.MISSING, IntervalFlag.ESTIMATED, 0],
                np.uint8,
            ),
            size=(len(meter), n),
            p=[0.85, 0.05, 0.05, 0.05],
        )
        flags[rng.random(flags.shape) < 0.02] |= np.uint8(IntervalFlag.FAILED)
        wh = rng.integers(0, 5000, size=(len(meter), n)).astype(np.int32)
        blocks.append(DayRows(meter, day, minutes, wh, flags))
    spans = [(dt.date(2026, 3, 6), dt.date(2026, 3, 8)), (dt.date(2026, 3, 7), dt.date(2026, 3, 9))]
    targets = [(m, spans[m % 2], ("tou", "ulo", "tiered")[m % 3]) for m in (1, 2, 3, 4, 5, 6, 3)]
    bounds = [
        [int(dt.datetime.combine(d, dt.time(), TZ).timestamp()) for d in (s, e + dt.timedelta(1))]
        for _, (s, e), _ in targets
    ]
    items = Items(
        meter=np.array([m for m, _, _ in targets], np.int64),
        first=np.array([b[0] for b in bounds], np.int64),
        after=np.array([b[1] for b in bounds], np.int64),
        plan=np.array([p for _, _, p in targets], dtype="U8"),
        tier1_kwh=np.zeros(len(targets)),
    )
    order = np.argsort(items.meter, kind="stable")  # as quantities_compute sorts them
    items = Items(*(getattr(items, f)[order] for f in Items.__dataclass_fields__))
    got = figures_compute(blocks, items, TZ)
    want = reference(blocks, items)
    assert (got.total_wh == want["total"]).all() and (got.valid == want["valid"]).all()
    assert (got.estimated_wh == want["estimated"]).all()
    assert (got.failed == want["failed"]).all()
    assert (got.period_wh == want["period"]).all()
    for i, plan in enumerate(items.plan.tolist()):
        assert not got.period_wh[i, len(PERIOD_NAMES[plan]) :].any()


@pytest.mark.parametrize(
    "value",
    [
        [],
        {},
        {"on_peak": 1.5, "mid_peak": 0.1 + 0.2, "off_peak": 1e-07, "tier2": 12, "x": None},
        {"start": None, "end": None},
        {"start": {"read_at": "2026-03-07T05:00:00Z", "kwh": 12.345}, "end": None},
        [{"code": "missing_intervals", "intervals": 2, "message": 'a "quoted" \\ é'}],
        {"not a name": 1.0, "é": 2.0},
        {"flag": True, "nan": float("nan"), "inf": float("inf")},
        {1: 2.0},
        {"tab": "a\tb", "del": "\x7f", "ok": "12 of 744 intervals: fine", "s": Status.PENDING},
        [1, 2.5, None, "x", [], {}, (1, 2), -0.0, 10**20],
    ],
)
def test_quantity_json_is_the_text_json_dumps_writes(value: Any) -> None:
    assert copied._json(value) == json.dumps(value)


@pytest.mark.django_db
def test_copied_rows_keep_awkward_text_and_json_exactly(world: Any) -> None:
    """The COPY text format escapes what it must (backslash, tab, line ends) in labels and JSON."""
    ldc = world.north
    sdp = ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id="NORTH-SDP-1")
    label = 'CIS \\ "batch"\tone\nline two\r é'
    request = {"ldc_id": ldc.pk, "sdp_id": sdp.pk, "start": START, "end": END, "plan": "tou"}
    [pk] = copied.insert_rows(BillingQuantityRequest, [{**request, "requested_by": label}])
    reasons = [{"code": "x", "intervals": 1, "message": label}]
    periods = {"on_peak": 0.1 + 0.2, "mid_peak": 1e-07, "off_peak": 123456789.125}
    meter = services.selectors.installations(ldc=ldc, sdp_ids=[sdp.pk], start=START, end=END)[
        sdp.pk
    ][0][0]
    row = {
        "ldc_id": ldc.pk,
        "request_id": pk,
        "meter_id": meter,
        "start": START,
        "end": END,
        "status": "pending",
        "pending_reasons": reasons,
        "periods_kwh": periods,
        "total_kwh": 0.1 + 0.2,
        "estimated_share": 1 / 3,
        "register_reads": {"start": None, "end": {"read_at": "2026-03-09T05:00:00Z", "kwh": 1.5}},
    }
    copied.insert_rows(BillingQuantity, [row])
    saved = BillingQuantity.objects.select_related("request").get(pk=row["id"])
    assert saved.request.requested_by == label and saved.request.status == "pending"
    assert saved.pending_reasons == reasons and saved.periods_kwh == periods
    assert saved.total_kwh == 0.1 + 0.2 and saved.estimated_share == 1 / 3
    assert saved.register_reads == row["register_reads"]
    assert saved.released_at is None and saved.superseded_by_id is None


def test_copy_text_of_values_is_what_postgresql_reads() -> None:
    when = dt.datetime(2026, 3, 7, 5, 0, 0, 123456, tzinfo=dt.UTC)
    column = copied._copy_column
    field = BillingQuantity._meta.get_field
    assert column(field("total_kwh"), [0.1 + 0.2, 1e-07]) == ["0.30000000000000004", "1e-07"]
    assert column(field("total_kwh"), [float("inf"), float("nan")]) == ["Infinity", "NaN"]
    assert column(field("version"), [1, 2]) == ["1", "2"]
    assert column(field("computed_at"), [when, when, None]) == [
        "2026-03-07T05:00:00.123456+00:00",
        "2026-03-07T05:00:00.123456+00:00",
        "\\N",
    ]
    assert column(field("status"), [Status.COMPLETE, "a\\b\tc"]) == ["complete", "a\\\\b\\tc"]
    assert column(field("periods_kwh"), [None, {"on_peak": 1.5}]) == ["\\N", '{"on_peak": 1.5}']


def store_day(ldc: Any, meter: Any, day: int, minutes: int, seed: int) -> tuple[Any, ...]:
    """One stored delivered day of random values and flags; returns what day_rows should give."""
    rng = np.random.default_rng(seed)
    n = 1440 // minutes
    wh = rng.integers(0, 5000, n).astype("<i4")
    flags = rng.choice(np.array([32, 2, 36, 0, 96], np.uint8), n)
    day_store.ensure_partitions(np.array([day]))
    IntervalDay.objects.create(
        ldc=ldc,
        meter=meter,
        day=dt.date(1970, 1, 1) + dt.timedelta(day),
        interval_minutes=minutes,
        wh=wh.tobytes(),
        flags=flags.tobytes(),
        raw_wh=wh.tobytes(),
        raw_quality=bytes(n),
    )
    return minutes, meter.pk, day, wh, flags


@pytest.mark.django_db
def test_stored_days_of_two_interval_lengths_are_read_apart(world: Any) -> None:
    """day_rows gives one block per interval length, each sorted by meter then day, also when
    the meters asked for are far apart (read by id list, not by range) or a meter changed its
    interval length; other channels, days and meters are left out."""
    ldc = world.north
    meters = [MeterFactory(ldc=ldc) for _ in range(12)]
    first = 20519
    days = [
        store_day(ldc, meters[0], first, 60, 1),
        store_day(ldc, meters[0], first + 1, 60, 2),
        store_day(ldc, meters[1], first, 15, 3),
        store_day(ldc, meters[1], first + 2, 15, 4),
        store_day(ldc, meters[11], first + 1, 60, 5),
        store_day(ldc, meters[11], first + 2, 15, 6),
    ]
    store_day(ldc, meters[0], first + 3, 60, 7)  # after the days asked for
    store_day(ldc, meters[5], first, 60, 8)  # a meter not asked for, between those asked for
    far = [meters[i].pk for i in (11, 1, 0)]  # read by id list
    near = [m.pk for m in meters[:8] if m != meters[5]]  # read by range, meters[5] left out
    for asked in (far, far[1:], near):
        got = selectors.day_rows(ldc=ldc, meter_ids=asked, first_day=first, last_day=first + 2)
        want = sorted((d for d in days if d[1] in asked), key=lambda d: d[:3])
        assert [rows.minutes for rows in got] == sorted({d[0] for d in want})
        for rows in got:
            mine = [d for d in want if d[0] == rows.minutes]
            assert rows.meter.tolist() == [d[1] for d in mine]
            assert rows.day.tolist() == [d[2] for d in mine]
            assert (rows.wh == np.array([d[3] for d in mine])).all()
            assert (rows.flags == np.array([d[4] for d in mine])).all()


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_reading_stored_days_leaves_a_transactions_planner_settings_alone(world: Any) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        selectors.day_rows(ldc=world.north, meter_ids=[1, 2], first_day=20519, last_day=20520)
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "auto"
