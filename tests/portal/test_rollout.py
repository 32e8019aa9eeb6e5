"""Rollout selectors with numbers, the weekly snapshot, targets, the CSV, and query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ldc.sme import rollout
from meters import read_success
from meters.data_quality import weekly_quality
from meters.models import IntervalDay, Meter, ServiceDeliveryPoint, VeeException
from meters.reads.day_arrays import IntervalFlag
from meters.reads.day_store import ensure_partitions
from meters.reads.runs import sorted_unique
from portal.access import actor_for_user
from portal.calendar.localtime import date_of, day_number, local_day_bounds
from portal.models import AuditEvent, RolloutSnapshot, RolloutTarget
from portal.tenancy import LDC, Stage
from tests import factories

pytestmark = pytest.mark.django_db

READ_WH = 123_457  # a reads value no aggregate page may ever show (test_coordinator_privacy)


TZ = ZoneInfo("America/Toronto")  # the LDCs' time zone (ldc.models.LDC.time_zone)


def hours(days: list[dt.date]) -> int:
    """Hours of those local days (23 or 25 on DST days)."""
    bounds = [local_day_bounds(TZ, day_number(day)) for day in days]
    return sum((end - start) // 3600 for start, end in bounds)


def rate(part: list[dt.date], whole: list[dt.date], meters: int = 1) -> float:
    """Read success when one of ``meters`` delivered the local days ``part`` of ``whole``."""
    return round(100.0 * hours(part) / (meters * hours(whole)), 2)


def put_reads(meter: Meter, days: list[dt.date], missing_on: set[dt.date] = frozenset()) -> None:
    """Hourly channel-1 rows of ``meter`` covering its local ``days`` whole (a local day spans
    two stored UTC days); every hour of a day in ``missing_on`` was reported missing. Once per
    meter: the UTC days' rows are created, not merged."""
    starts, missing = [], []
    for day in days:
        start, end = local_day_bounds(TZ, day_number(day))
        starts.append(np.arange(start, end, 3600, dtype=np.int64))
        missing.append(np.full(len(starts[-1]), day in missing_on))
    start_s, missed = np.concatenate(starts), np.concatenate(missing)
    utc_days = start_s // 86400
    ensure_partitions(sorted_unique(utc_days))  # PostgreSQL
    for utc_day in sorted_unique(utc_days).tolist():
        mine = utc_days == utc_day
        slots = (start_s[mine] - utc_day * 86400) // 3600
        flags = np.full(24, IntervalFlag.MISSING, np.uint8)  # never mentioned
        flags[slots] = np.where(
            missed[mine],
            IntervalFlag.RECEIVED | IntervalFlag.MISSING,
            IntervalFlag.RECEIVED | IntervalFlag.VALIDATED,
        )
        wh = np.where((flags & IntervalFlag.MISSING) != 0, 0, READ_WH).astype("<i4")
        IntervalDay.objects.create(
            ldc_id=meter.ldc_id,
            meter=meter,
            channel=1,
            day=date_of(utc_day),
            interval_minutes=60,
            wh=wh.tobytes(),
            flags=flags.tobytes(),
            raw_wh=wh.tobytes(),
            raw_quality=np.zeros(24, np.uint8).tobytes(),
        )
    # as a committed delivery does (meters/apps.py)
    read_success.forget(meter.ldc, int(utc_days.min()), int(utc_days.max()))


def test_read_success_is_counted_once_until_reads_change(rollout_world: Any) -> None:
    days = rollout.window()
    north = rollout_world.north
    first = read_success.read_success(days)
    assert _queries(lambda: read_success.read_success(days)) == 1  # the LDCs; counts cached
    assert read_success.read_success(days) == first
    put_reads(rollout_world.objects["south_meter"], days[-1:])  # forgets south's days
    again = read_success.read_success(days)
    assert again[north.pk] == first[north.pk]
    assert again[rollout_world.south.pk][days[-1]].delivered == hours(days[-1:])


def build_rollout_world(world: Any) -> Any:
    """north: 2 SDPs (one enrolled and TOU-billed, one with DQ issues), reads 6 of 7 days whole,
    one open VEE exception, SIT stage in wave 1; south: no reads."""
    today = timezone.localdate()
    north_sdp = world.objects["north_sdp"]
    ServiceDeliveryPoint.objects.filter(pk=north_sdp.pk).update(
        enrolled_on=today - dt.timedelta(days=30), tou_billing_from=today - dt.timedelta(days=1)
    )
    factories.SdpFactory(ldc=world.north, sdp_id="NORTH-SDP-2", rate_class="", postal_code="99")
    days = rollout.window()
    put_reads(world.objects["north_meter"], days, missing_on={days[2]})
    VeeException.objects.create(
        ldc=world.north, meter=world.objects["north_meter"], day=days[2], rule="V01"
    )
    LDC.objects.filter(pk=world.north.pk).update(
        stage=Stage.SIT,
        stage_entered_at=timezone.now() - dt.timedelta(days=12),
        enrollment_wave=1,
        residential_customers=9_000,
        gs_customers=1_000,
    )
    return world


def north_rate() -> float:
    """north's read success in the rollout world: 6 of the 7 days delivered."""
    days = rollout.window()
    return rate(days[:2] + days[3:], days)


@pytest.fixture
def rollout_world(world: Any) -> Any:
    return build_rollout_world(world)


def row_of(rows: list[rollout.LdcRow], slug: str) -> rollout.LdcRow:
    return next(r for r in rows if r.slug == slug)


def test_ldc_rows_count_each_ldcs_rollout(rollout_world: Any) -> None:
    north = row_of(rollout.ldc_rows(), "north")
    assert (north.customers, north.meters_installed, north.meters_pct) == (10_000, 1, 0.0)
    assert (north.sdps_registered, north.sdps_enrolled, north.tou_billed) == (2, 1, 1)
    assert (north.stage, north.days_in_stage, north.wave) == ("sit", 12, 1)
    assert north.read_success_pct == north_rate()  # 6 of 7 days delivered
    assert north.meets_obligation is False
    assert (north.open_exceptions, north.no_rate_class, north.invalid_postal_code) == (1, 1, 1)
    assert north.dq_issues == 2 and north.size_class.key == "10k_100k"


def test_a_meter_without_reads_counts_as_not_read(rollout_world: Any) -> None:
    south = row_of(rollout.ldc_rows(), "south")
    assert south.meters_installed == 1 and south.read_success_pct == 0.0
    factories.LdcFactory(slug="empty", name="Empty Hydro")
    assert row_of(rollout.ldc_rows(), "empty").read_success_pct is None


def test_an_ldc_before_production_counts_from_its_first_delivery(rollout_world: Any) -> None:
    LDC.objects.filter(slug="south").update(status=LDC.Status.TESTING, stage=Stage.SIT)
    assert row_of(rollout.ldc_rows(), "south").read_success_pct is None
    put_reads(rollout_world.objects["south_meter"], rollout.window()[-1:])
    assert row_of(rollout.ldc_rows(), "south").read_success_pct == rate(
        rollout.window()[-1:], rollout.window()
    )


def test_an_estimate_is_not_a_delivered_read(world: Any) -> None:
    days = rollout.window()
    put_reads(world.objects["north_meter"], days)
    stored = IntervalDay.objects.filter(meter=world.objects["north_meter"], day=days[0])
    flags = np.frombuffer(stored.get().flags, np.uint8).copy()
    flags[12] |= IntervalFlag.ESTIMATED  # 12:00 UTC, in the morning of local days[0]
    stored.update(flags=flags.tobytes())
    read_success.forget(world.north)
    expected = hours(days)
    assert row_of(rollout.ldc_rows(), "north").read_success_pct == round(
        100.0 * (expected - 1) / expected, 2
    )
    counts = read_success.read_success(days, ldc=world.north)[world.north.pk]
    assert counts[days[0]].delivered == hours(days[:1]) - 1 == counts[days[0]].expected - 1
    assert [counts[day].pct for day in days[1:]] == [100.0] * 6


def test_province_totals_against_targets(rollout_world: Any) -> None:
    rollout.rollout_target_set(
        metric="tou_billed", value=4, due_date=dt.date(2027, 5, 1), actor=None
    )
    rows = rollout.ldc_rows()
    totals = rollout.province_totals(rows, rollout.current_targets())
    figures = {f["key"]: f for f in totals["figures"]}
    assert totals["customers"] == 10_000 + 11_000
    assert figures["tou_billed"]["value"] == 1 and figures["tou_billed"]["pct"] == 25.0
    assert figures["meters_installed"]["value"] == 2 and figures["meters_installed"]["pct"] is None
    assert totals["below_obligation"] == 2  # north ~85.71 %, south 0 %
    days = rollout.window()
    assert totals["read_success_pct"] == rate(days[:2] + days[3:], days, meters=2)


def _ldcs_of_sizes(sizes: list[int]) -> None:
    for i, customers in enumerate(sizes):
        factories.LdcFactory(
            slug=f"size-{i}", residential_customers=customers, gs_customers=0, stage="sit"
        )


def test_size_classes_and_the_twelve_largest_share(world: Any) -> None:
    _ldcs_of_sizes([1_200_000, 1_000_000, 100_000, 99_999, 10_000, 9_999, 1_000, 999] + [500] * 6)
    rows = [r for r in rollout.ldc_rows() if r.slug.startswith("size-")]
    classes = {c["key"]: c for c in rollout.size_classes(rows)}
    keys = ("over_1m", "100k_1m", "10k_100k", "1k_10k", "under_1k")
    assert [classes[k]["ldcs"] for k in keys] == [1, 2, 2, 2, 7]
    base = 1_200_000 + 1_000_000 + 100_000 + 99_999 + 10_000 + 9_999 + 1_000 + 999 + 3_000
    assert classes["over_1m"]["share_pct"] == round(100 * 1_200_000 / base, 1)
    share = rollout.top_share(rows)
    assert len(share["ldcs"]) == 12 and share["rest"] == 1_000  # the two smallest 500s
    assert share["share_pct"] == round(100 * (base - 1_000) / base, 1)


def test_stage_funnel_counts_ldcs_at_and_past_each_stage(world: Any) -> None:
    LDC.objects.filter(slug="north").update(stage=Stage.QT)
    LDC.objects.filter(slug="south").update(stage=Stage.PRODUCTION)
    factories.LdcFactory(slug="new")  # preparation
    funnel = {s["stage"]: s for s in rollout.stage_funnel(rollout.ldc_rows())}
    assert funnel["preparation"] == {**funnel["preparation"], "at": 1, "reached": 3}
    assert (funnel["sit"]["at"], funnel["sit"]["reached"]) == (0, 2)
    assert (funnel["qt"]["at"], funnel["qt"]["reached"]) == (1, 2)
    assert (funnel["production"]["at"], funnel["production"]["reached"]) == (1, 1)


def test_filters_and_sorting(rollout_world: Any) -> None:
    rows = rollout.ldc_rows()
    assert [r.slug for r in rollout.filter_rows(rows, stage="sit")] == ["north"]
    assert [r.slug for r in rollout.filter_rows(rows, wave="1")] == ["north"]
    assert [r.slug for r in rollout.filter_rows(rows, wave="none")] == ["south"]
    assert [r.slug for r in rollout.filter_rows(rows, size="10k_100k")] == ["north", "south"]
    assert [r.slug for r in rollout.filter_rows(rows, q="SOUTHSHORE")] == ["south"]
    assert [r.slug for r in rollout.sort_rows(rows, "-reads")] == ["north", "south"]
    assert [r.slug for r in rollout.sort_rows(rows, "customers")] == ["north", "south"]
    assert [r.slug for r in rollout.sort_rows(rows, "-customers")] == ["south", "north"]


def test_csv_has_stable_columns(rollout_world: Any) -> None:
    text = rollout.rows_csv(rollout.ldc_rows())
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "ldc",
        "name",
        "mdmr_org_id",
        "status",
        "size_class",
        "customers",
        "meters_installed",
        "meters_installed_pct",
        "sdps_registered",
        "sdps_enrolled",
        "tou_billed",
        "stage",
        "days_in_stage",
        "enrollment_wave",
        "read_success_7d_pct",
        "meets_98_pct",
        "open_vee_exceptions",
        "sdps_without_rate_class",
        "invalid_postal_codes",
        "dq_issues",
    ]
    north = dict(zip(table[0], table[1], strict=True))
    assert north["ldc"] == "north" and north["read_success_7d_pct"] == str(north_rate())
    assert north["meets_98_pct"] == "no" and north["enrollment_wave"] == "1"
    assert north["dq_issues"] == "2" and north["stage"] == "sit"


def test_snapshot_is_idempotent_within_a_week(rollout_world: Any) -> None:
    assert rollout.rollout_snapshot_take() == 3  # north, south, province
    ServiceDeliveryPoint.objects.filter(sdp_id="NORTH-SDP-2").update(
        tou_billing_from=timezone.localdate()
    )
    assert rollout.rollout_snapshot_take() == 3
    week = rollout.week_of(timezone.localdate())
    assert RolloutSnapshot.objects.filter(week=week).count() == 3
    province = RolloutSnapshot.objects.get(week=week, ldc__isnull=True)
    assert (province.ldcs, province.customers, province.tou_billed) == (2, 21_000, 2)
    days = rollout.window()
    # weighted: north 6 of 7 days, south none of 7
    assert province.read_success_pct == rate(days[:2] + days[3:], days, meters=2)
    north = RolloutSnapshot.objects.get(week=week, ldc=rollout_world.north)
    assert (north.stage, north.dq_issues) == ("sit", 2)
    assert north.read_success_pct == north_rate()
    next_week = timezone.localdate() + dt.timedelta(days=7)
    rollout.rollout_snapshot_take(today=next_week)
    assert RolloutSnapshot.objects.filter(ldc__isnull=True).count() == 2
    assert [s.week for s in rollout.province_trend()] == [week, rollout.week_of(next_week)]


def test_snapshot_command_and_task(rollout_world: Any) -> None:
    from ldc.sme.tasks import rollout_snapshot_weekly
    from portal.celery import app

    out = io.StringIO()
    call_command("rollout_snapshot", stdout=out)
    assert "3 rows" in out.getvalue()
    assert rollout_snapshot_weekly.delay().get() == 3
    assert RolloutSnapshot.objects.count() == 3
    entry = app.conf.beat_schedule["rollout-snapshot-weekly"]
    assert entry["task"] == "portal.tasks.rollout_snapshot_weekly"
    assert AuditEvent.objects.filter(action="rollout.snapshot_taken", via="task").exists()


def test_targets_keep_history_and_are_audited(world: Any) -> None:
    actor = actor_for_user(world.coordinator)
    first = rollout.rollout_target_set(
        metric="tou_billed", value=3_600_000, due_date=dt.date(2011, 5, 1), actor=actor
    )
    second = rollout.rollout_target_set(
        metric="tou_billed", value=3_700_000, due_date=dt.date(2011, 6, 1), note="OEB", actor=actor
    )
    first.refresh_from_db()
    assert first.superseded_at is not None and second.superseded_at is None
    assert rollout.current_targets()["tou_billed"] == second
    assert RolloutTarget.objects.count() == 2
    events = list(AuditEvent.objects.filter(action="rollout.target_set").order_by("id"))
    assert [e.actor for e in events] == [world.coordinator, world.coordinator]
    before = {"metric": "tou_billed", "value": 3_600_000, "due_date": "2011-05-01"}
    assert events[1].before == before
    assert events[1].after["value"] == 3_700_000


def test_weekly_quality_of_one_ldc(rollout_world: Any) -> None:
    week = weekly_quality(rollout_world.north)
    assert [d["pct"] for d in week["daily"]].count(0.0) == 1
    days = rollout.window()
    assert week["success_pct"] == north_rate() and week["days_below"] == 1
    assert [d["delivered"] for d in week["daily"]] == [
        hours([d]) if d != days[2] else 0 for d in days
    ]
    v01 = {"rule": "V01", "total": 1, "open": 1, "title": "missing intervals"}
    assert week["exceptions"] == [v01]
    assert dict(week["dq"])["SDPs without a rate class"] == 1


def _queries(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_the_number_of_ldcs(
    rollout_world: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(8):
        rows = rollout.ldc_rows()
    assert len(rows) == 2
    for i in range(10):
        ldc = factories.LdcFactory(slug=f"more-{i}")
        sdp = factories.SdpFactory(ldc=ldc, sdp_id=f"M{i}-SDP")
        meter = factories.MeterFactory(ldc=ldc, serial=f"M{i}-MTR")
        factories.install(sdp, meter)
        put_reads(meter, rollout.window())
    with django_assert_num_queries(8):
        rows = rollout.ldc_rows()
    assert len(rows) == 12 and row_of(rows, "more-3").read_success_pct == 100.0
    assert _queries(rollout.rollout_snapshot_take) == _queries(rollout.rollout_snapshot_take)


def test_demo_seed_adds_a_quarter_of_history_and_a_target_once(rollout_world: Any) -> None:
    assert "11 past weeks of snapshots added; TOU billing target set" in rollout.seed_rollout_demo()
    assert "0 past weeks of snapshots added; TOU billing target kept" in rollout.seed_rollout_demo()
    assert RolloutSnapshot.objects.count() == 12 * 3 and RolloutTarget.objects.count() == 1
    trend = rollout.province_trend()
    assert len(trend) == 12 and trend[0].meters_installed <= trend[-1].meters_installed == 2
    assert RolloutTarget.objects.get().value == int(21_000 * 0.8)
