"""Read success: one count per LDC and local day, the same on the LDC's dashboard and the SME's
pages, local days cut at local midnight (DST days of 23 and 25 hours), kept until reads change."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from ldc.dashboard import ldc_dashboard
from ldc.sme import rollout
from meters import read_success
from meters.data_quality import weekly_quality
from meters.models import IntervalDay
from meters.read_success import ldc_read_success
from meters.reads import ingest
from portal.calendar.localtime import day_number
from tests import factories
from tests.ldc.test_dashboard import deliver_day
from tests.meters.conftest import sample_file
from tests.meters.test_pages_and_api import token
from tests.portal.test_rollout import hours, put_reads

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("zone", "day", "minutes", "cut"),
    [
        ("America/Toronto", "2026-01-15", 60, (5, -1)),  # EST: 00:00-04:00 UTC are the day before
        ("America/Toronto", "2026-07-15", 60, (4, -1)),  # EDT
        ("America/Toronto", "2026-07-15", 15, (16, -1)),
        ("America/Toronto", "2026-03-08", 60, (5, -1)),  # DST begins at 07:00 UTC: cut at 05:00
        ("America/Toronto", "2026-03-09", 60, (4, -1)),
        ("Europe/Paris", "2026-01-15", 60, (23, 0)),  # east: 23:00 UTC begins the next day
        ("UTC", "2026-01-15", 60, (0, -1)),  # nothing belongs to the day before
    ],
)
def test_a_stored_utc_day_is_cut_at_local_midnight(
    zone: str, day: str, minutes: int, cut: tuple[int, int]
) -> None:
    number = day_number(dt.date.fromisoformat(day))
    at, left = read_success._split(ZoneInfo(zone), number, minutes)
    assert (at, left - number) == cut


@pytest.mark.parametrize("day", ["2026-03-08", "2026-11-01", "2026-06-10"])
def test_a_whole_local_day_is_delivered_in_full_also_on_dst_days(world: Any, day: str) -> None:
    local = dt.date.fromisoformat(day)
    around = [local - dt.timedelta(days=1), local, local + dt.timedelta(days=1)]
    put_reads(world.objects["north_meter"], [local])
    counts = read_success.read_success(around, ldc=world.north)[world.north.pk]
    assert counts[local].delivered == counts[local].expected == hours([local]) in (23, 24, 25)
    assert counts[local].pct == 100.0 and counts[local].meets_obligation
    assert counts[local].meters == 1
    # The neighbours expect their hours of the installed meter and got none.
    for other in (around[0], around[2]):
        assert (counts[other].delivered, counts[other].expected) == (0, hours([other]))


def test_dashboard_and_sme_pages_show_the_same_read_success(world: Any) -> None:
    extra_sdp = factories.SdpFactory(ldc=world.north, sdp_id="NORTH-SDP-2")
    factories.install(extra_sdp, factories.MeterFactory(ldc=world.north, serial="NORTH-MTR-2"))
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    deliver_day(world.north, ["NORTH-MTR-1", "NORTH-MTR-2"], yesterday, gap_rate=0.05)
    dashboard = ldc_dashboard(world.north)["read_success"]
    week = weekly_quality(world.north)["daily"][-1]
    assert week["day"] == dashboard["day"] == yesterday
    assert 0 < dashboard["pct"] < 100.0
    assert (week["delivered"], week["expected"], week["pct"]) == (
        dashboard["delivered"],
        dashboard["expected"],
        dashboard["pct"],
    )


def test_counts_are_kept_until_that_ldcs_reads_change(world: Any) -> None:
    days = rollout.window()
    first = read_success.read_success(days, ldc=world.north)
    assert first[world.north.pk][days[-1]].delivered == 0
    put_reads(world.objects["north_meter"], days[-1:])  # forgets north's days, as a load does
    again = read_success.read_success(days, ldc=world.north)
    assert again[world.north.pk][days[-1]].delivered == hours(days[-1:])


@pytest.mark.parametrize("vee_after_ingest", [True, False])
def test_a_delivery_through_the_pipeline_forgets_the_counts(
    world: Any, django_capture_on_commit_callbacks: Any, settings: Any, vee_after_ingest: bool
) -> None:
    settings.OPENMDMR_VEE_AFTER_INGEST = vee_after_ingest
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    before = read_success.read_success([yesterday], ldc=world.north)[world.north.pk][yesterday]
    assert before.delivered == 0 and before.expected > 0
    with django_capture_on_commit_callbacks(execute=True):
        deliver_day(world.north, ["NORTH-MTR-1"], yesterday)
    after = read_success.read_success([yesterday], ldc=world.north)[world.north.pk][yesterday]
    assert after.delivered == after.expected == before.expected


def test_an_ldc_with_neither_meters_nor_reads_is_left_out(world: Any) -> None:
    empty = factories.LdcFactory(slug="empty")
    counted = read_success.read_success(rollout.window())
    assert empty.pk not in counted and world.north.pk in counted


def test_a_change_forgets_only_the_local_days_of_its_utc_days(world: Any) -> None:
    days = rollout.window()
    read_success.read_success(days, ldc=world.north)
    changed = day_number(days[3])  # one UTC day: its first hours are the local day before
    read_success.forget(world.north, changed, changed)
    cached = [cache.get(read_success._key(world.north.pk, day)) is not None for day in days]
    assert cached == [True, True, False, False, True, True, True]


def test_only_the_forgotten_days_are_counted_again(world: Any) -> None:
    days = rollout.window()
    put_reads(world.objects["north_meter"], days)
    first = read_success.read_success(days, ldc=world.north)[world.north.pk]
    assert all(first[day].pct == 100.0 for day in days)
    IntervalDay.objects.filter(ldc=world.north).update(flags=bytes(24))  # nothing received
    read_success.forget(world.north, day_number(days[-1]), day_number(days[-1]))
    again = read_success.read_success(days, ldc=world.north)[world.north.pk]
    assert [again[day].pct for day in days] == [100.0] * 5 + [0.0, 0.0]  # days 6-7 recounted
    read_success.forget(world.north)  # no days given: the last 45
    assert all(
        v.delivered == 0
        for v in read_success.read_success(days, ldc=world.north)[world.north.pk].values()
    )


def test_the_api_gives_the_ldcs_own_read_success_per_day(client: Any, world: Any) -> None:
    days = rollout.window()
    put_reads(world.objects["north_meter"], days[:-1])  # the last day not delivered
    put_reads(world.objects["south_meter"], days)
    url = reverse("api:read-success")
    body = client.get(url, HTTP_AUTHORIZATION=token(world, "ami_operator")).json()
    assert (body["ldc"], body["start"], body["end"]) == ("north", str(days[0]), str(days[-1]))
    assert body["obligation_pct"] == 98.0
    assert body["read_success_pct"] == round(100.0 * hours(days[:-1]) / hours(days), 2)
    assert [d["day"] for d in body["days"]] == [str(day) for day in days]
    last = body["days"][-1]
    assert (last["delivered"], last["expected"], last["meters"]) == (0, hours(days[-1:]), 1)
    assert (last["pct"], last["meets_obligation"]) == (0.0, False)
    assert body["days"][0]["pct"] == 100.0 and body["days"][0]["meets_obligation"]
    # The same figures as the dashboard shows.
    client.force_login(world.user("north", "billing_agent"))
    one = client.get(url, {"start": str(days[-2]), "end": str(days[-2])}).json()
    assert one["days"] == [body["days"][-2]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-02-30"}, "start"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end"),
        ({"start": "2026-01-01", "end": "2026-03-31"}, "end"),
    ],
)
def test_the_api_names_a_bad_date(client: Any, world: Any, query: dict, field: str) -> None:
    response = client.get(
        reverse("api:read-success"), query, HTTP_AUTHORIZATION=token(world, "back_office")
    )
    assert response.status_code == 400
    assert field in str(response.json())


def test_coordinators_and_customers_get_no_ldc_read_success_from_the_api(
    client: Any, world: Any
) -> None:
    for user in (world.coordinator, world.customer):
        client.force_login(user)
        assert client.get(reverse("api:read-success")).status_code == 403


def test_a_files_read_success_counts_only_what_was_stored_the_issues_figures(
    tmp_path: Any, settings: Any
) -> None:
    """Issue 20: a file whose two meters are not this LDC's (their reads rejected) showed 98.58 %
    "meets obligation" while its LDC's day was 31.88 %. Rejected records are not delivered."""
    from tests.conftest import registry_ldc
    from tests.meters.samples import SAMPLES

    settings.OPENMDMR_VEE_AFTER_INGEST = False
    registry = (SAMPLES / "registry.csv").read_text()
    registry = registry.replace("MTR-1001", "MTR-9001").replace("MTR-1002", "MTR-9002")
    (tmp_path / "registry.csv").write_text(registry)
    ldc = registry_ldc(tmp_path / "registry.csv")
    read_file, _ = ingest.read_file_receive(
        ldc=ldc,
        interface="csv",
        upload=io.BytesIO(sample_file("csv").read_bytes()),
        name="reads.csv",
        actor=None,
        via="test",
        queue=False,
    )
    report = ingest.read_file_ingest(read_file=read_file).report
    day = ldc_read_success(ldc, [dt.date(2026, 3, 8)])[dt.date(2026, 3, 8)]
    assert day.pct == round(100 * 22 / 69, 2) == 31.88  # 3 meters installed, one delivered
    assert report["intervals_expected"] == 141 and report["intervals_rejected"] == 94
    # Before: (139 with a value) / 141 = 98.58 %, "meets obligation". Now: MTR-1003's 46 actuals.
    assert report["read_success_pct"] == round(100 * 46 / 141, 2) == 32.62
    assert report["meets_obligation"] is False
