"""The LDC's dashboard: stage and deadline, registry, read success against 98.0 %, VEE and
billing work waiting, enrollment progress, data quality."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from ldc import enrollment, stages
from ldc.dashboard import ldc_dashboard, read_success_by_day
from ldc.enrollment import SdpFilter
from meters.models import VeeException
from meters.reads.ingest import read_file_ingest, read_file_receive
from meters.reads.synthetic import hourly_shape, write_cmep_day
from portal.access import actor_for_user
from tests import factories

pytestmark = pytest.mark.django_db


def deliver_day(ldc: Any, serials: list[str], day: dt.date, gap_rate: float = 0.0) -> None:
    """One CMEP file of ``day`` through the real pipeline."""
    out = io.StringIO()
    rng = np.random.default_rng(day.toordinal())
    write_cmep_day(out, serials, day, hourly_shape(rng, len(serials)), rng, gap_rate=gap_rate)
    read_file, _ = read_file_receive(
        ldc=ldc,
        interface="cmep",
        upload=io.BytesIO(out.getvalue().encode()),
        name=f"{day}.txt",
        actor=None,
        via="test",
        queue=False,
    )
    read_file_ingest(read_file=read_file)


def test_read_success_counts_delivered_against_installed_meters(world: Any) -> None:
    extra_sdp = factories.SdpFactory(ldc=world.north, sdp_id="NORTH-SDP-2")
    factories.install(extra_sdp, factories.MeterFactory(ldc=world.north, serial="NORTH-MTR-2"))
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    deliver_day(world.north, ["NORTH-MTR-1"], yesterday)  # NORTH-MTR-2 sends nothing
    success = read_success_by_day(world.north, yesterday - dt.timedelta(days=1), yesterday)
    hours = success["expected"][-1] // 2
    assert hours in (23, 24, 25)
    assert success["delivered"] == [0, hours]
    assert success["pct"] == [0.0, 50.0]


def test_dashboard_figures(world: Any) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    deliver_day(world.north, ["NORTH-MTR-1"], yesterday)
    VeeException.objects.create(
        ldc=world.north, meter=world.objects["north_meter"], day=yesterday, rule="V06"
    )
    dashboard = ldc_dashboard(world.north)
    assert dashboard["current"]["stage"] == "preparation"
    assert dashboard["next_deadline"] is not None
    assert dashboard["read_success"]["pct"] == 100.0 and dashboard["read_success"]["meets"]
    assert dashboard["open_vee"] == 1 and dashboard["pending_bq"] == 0
    assert dashboard["stage_figure"]["data"][0]["type"] == "bar"
    assert {q["key"] for q in dashboard["quality"]} >= {"no_rate_class", "sdps_without_meter"}


def test_dashboard_page_shows_stage_deadline_and_figures(
    client: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(world.user("north", "ami_operator"))
    before = client.get(reverse("home")).content.decode()
    assert "no reads received yet" in before
    # No empty chart before the first file: what will be measured, and where to send a file.
    assert 'data-testid="no-reads-yet"' in before and 'data-figure="dash-reads"' not in before
    assert reverse("meters:readfile-upload") in before
    # The figure was cached by that first view; the committed delivery drops it.
    with django_capture_on_commit_callbacks(execute=True):
        deliver_day(world.north, ["NORTH-MTR-1"], timezone.localdate() - dt.timedelta(days=1))
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="fig-read-success">100.0 %' in body
    assert 'data-testid="dash-stage"' in body and "Preparation" in body
    assert 'data-testid="dash-deadline"' in body
    assert "read success yesterday (target 98.0 %)" in body
    for figure in ("dash-stages", "dash-reads"):
        assert f'data-figure="{figure}"' in body
    assert "Northwind Test Hydro" in body and "Southshore" not in body


def test_dashboard_shows_enrollment_progress_in_production(client: Any, world: Any) -> None:
    factories.production_ldc(world.north)
    admin = world.user("north", "ldc_admin")
    factories.complete_required_course(admin, world.north)
    group = enrollment.group_create_from_filter(
        ldc=world.north, spec=SdpFilter(), actor=actor_for_user(admin)
    )
    enrollment.group_mark_registered(group=group, actor=actor_for_user(admin))
    client.force_login(admin)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="dash-groups"' in body and "Customer group 1" in body
    assert "1 of 4 steps" in body and 'data-figure="dash-groups-chart"' in body


def test_dashboard_follows_a_sign_off(client: Any, world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    admin = actor_for_user(world.user("north", "ldc_admin"))
    prep = world.north and stages.current_stage(world.north)
    for item in prep.items.all():
        stages.checklist_item_update(item=item, status="done", actor=admin)
    factories.onboarding_records(world.north)
    stages.stage_submit(ldc_stage=prep, actor=admin)
    stages.stage_sign_off(ldc_stage=prep, actor=actor_for_user(world.coordinator))
    client.force_login(world.user("north", "back_office"))
    body = client.get(reverse("home")).content.decode()
    assert "System and business-process development" in body


def test_dashboard_query_count_is_bounded(
    client: Any, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    client.get(reverse("home"))  # creates the stage rows once
    with django_assert_max_num_queries(32):
        assert client.get(reverse("home")).status_code == 200


def test_staff_who_cannot_upload_are_not_sent_to_the_upload_page(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "billing_agent"))
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="no-reads-yet"' in body
    assert reverse("meters:readfile-upload") not in body
