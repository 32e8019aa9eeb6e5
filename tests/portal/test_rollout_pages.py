"""Rollout pages: coordinators see them, LDC staff do not; each LDC sees its own weekly DQ."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.urls import reverse

from ldc.models import LdcStage
from ldc.sme.rollout import CSV_COLUMNS, rollout_snapshot_take
from portal.models import AuditEvent, RolloutTarget
from portal.tenancy import LDC, Stage
from tests.portal.test_rollout import build_rollout_world, north_rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def rollout_world(world: Any) -> Any:
    return build_rollout_world(world)


SME_PAGES = [
    ("home", []),
    ("rollout:home", []),
    ("rollout:ldc-table", []),
    ("rollout:ldc-csv", []),
    ("rollout:targets", []),
    ("rollout:quality-index", []),
    ("rollout:ldc-quality", ["north"]),
    ("sme:ldc-detail", ["north"]),
]


@pytest.mark.parametrize(("name", "args"), SME_PAGES)
def test_coordinator_sees_the_rollout_pages(
    client: Any, rollout_world: Any, name: str, args: list[str]
) -> None:
    rollout_snapshot_take()
    client.force_login(rollout_world.coordinator)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200


def test_rollout_home_shows_figures_targets_and_charts(client: Any, rollout_world: Any) -> None:
    rollout_snapshot_take()
    RolloutTarget.objects.create(metric="tou_billed", value=4, due_date=dt.date(2027, 5, 1))
    client.force_login(rollout_world.coordinator)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="fig-tou_billed">1<' in body
    assert "25.0 % of the target 4 by 2027-05-01" in body
    for chart in ("trend-tou_billed", "stage-funnel", "size-classes", "top-share"):
        assert f'data-figure="{chart}"' in body
    # Served from here, never a CDN (a random CSP nonce may spell "cdn": look at the sources).
    sources = re.findall(r'<script[^>]* src="([^"]+)"', body)
    assert "/static/vendor/plotly/plotly.min.js" in sources
    assert all(src.startswith("/static/") for src in sources), sources


@pytest.mark.parametrize(("name", "args"), SME_PAGES[1:])
@pytest.mark.parametrize("role", ["ldc_admin", "ami_operator"])
def test_ldc_staff_may_not_open_sme_pages(
    client: Any, world: Any, name: str, args: list[str], role: str
) -> None:
    client.force_login(world.user("north", role))
    assert client.get(reverse(name, args=args)).status_code == 403


def test_table_filters_sorts_and_exports(client: Any, rollout_world: Any) -> None:
    client.force_login(rollout_world.coordinator)
    url = reverse("rollout:ldc-table")
    body = client.get(url, {"stage": "sit"}).content.decode()
    assert 'data-ldc="north"' in body and 'data-ldc="south"' not in body
    body = client.get(url, {"sort": "-customers"}).content.decode()
    assert body.index('data-ldc="south"') < body.index('data-ldc="north"')
    assert 'aria-sort="descending"' in body
    response = client.get(reverse("rollout:ldc-csv"), {"wave": "none"})
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(table[0]) == CSV_COLUMNS and [r[0] for r in table[1:]] == ["south"]


def test_coordinator_sets_a_target(client: Any, world: Any) -> None:
    client.force_login(world.coordinator)
    data = {"metric": "tou_billed", "value": "3600000", "due_date": "2027-05-01", "note": "x"}
    response = client.post(reverse("rollout:targets"), data)
    assert response.status_code == 302
    target = RolloutTarget.objects.get()
    assert (target.value, target.set_by) == (3_600_000, world.coordinator)
    assert AuditEvent.objects.filter(action="rollout.target_set", actor=world.coordinator).exists()
    assert client.post(reverse("rollout:targets"), {**data, "value": "0"}).status_code == 400


def test_staff_may_not_set_targets_or_waves(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    data = {"metric": "tou_billed", "value": "1", "due_date": "2027-05-01"}
    assert client.post(reverse("rollout:targets"), data).status_code == 403
    assert client.post(reverse("rollout:ldc-wave", args=["north"]), {"wave": 2}).status_code == 403
    assert not RolloutTarget.objects.exists()
    assert LDC.objects.get(slug="north").enrollment_wave is None


def test_coordinator_assigns_a_wave(client: Any, world: Any) -> None:
    client.force_login(world.coordinator)
    table = reverse("rollout:ldc-table")
    response = client.post(
        reverse("rollout:ldc-wave", args=["north"]), {"wave": "2", "next": f"{table}?sort=wave"}
    )
    assert response.status_code == 302 and response["Location"] == f"{table}?sort=wave"
    assert LDC.objects.get(slug="north").enrollment_wave == 2
    assert AuditEvent.objects.filter(action="ldc.wave_assigned", ldc=world.north).exists()
    response = client.post(
        reverse("rollout:ldc-wave", args=["north"]), {"wave": "", "next": "https://evil.example/"}
    )
    assert response["Location"] == table
    assert LDC.objects.get(slug="north").enrollment_wave is None
    assert client.post(reverse("rollout:ldc-wave", args=["nowhere"])).status_code == 404


def _submitted(ldc: LDC) -> LdcStage:
    from ldc.stages import stages_ensure

    stages_ensure(ldc=ldc)
    ldc.refresh_from_db()
    LdcStage.objects.for_ldc(ldc).filter(stage=ldc.stage).update(status=LdcStage.Status.SUBMITTED)
    return LdcStage.objects.for_ldc(ldc).get(stage=ldc.stage)


def test_coordinator_signs_off_a_submitted_stage(client: Any, world: Any) -> None:
    stage = _submitted(world.north)
    client.force_login(world.coordinator)
    body = client.get(reverse("rollout:ldc-table")).content.decode()
    assert 'data-action="sign-off"' in body
    data = {"stage": stage.stage, "decision": "sign_off"}
    client.post(reverse("rollout:ldc-stage-decision", args=["north"]), data)
    stage.refresh_from_db()
    assert stage.status == LdcStage.Status.SIGNED_OFF
    assert AuditEvent.objects.filter(action="ldc_stage.signed_off", ldc=world.north).exists()
    assert LDC.objects.get(slug="north").stage != stage.stage


def test_coordinator_returns_a_stage_with_a_reason(client: Any, world: Any) -> None:
    stage = _submitted(world.north)
    client.force_login(world.coordinator)
    url = reverse("rollout:ldc-stage-decision", args=["north"])
    response = client.post(url, {"stage": stage.stage, "decision": "return"}, follow=True)
    assert "Say why" in response.content.decode()
    stage.refresh_from_db()
    assert stage.status == LdcStage.Status.SUBMITTED
    client.post(url, {"stage": stage.stage, "decision": "return", "reason": "Evidence missing"})
    stage.refresh_from_db()
    assert (stage.status, stage.return_reason) == (LdcStage.Status.RETURNED, "Evidence missing")


def test_staff_may_not_decide_stages(client: Any, world: Any) -> None:
    stage = _submitted(world.north)
    client.force_login(world.user("north", "ldc_admin"))
    url = reverse("rollout:ldc-stage-decision", args=["north"])
    assert client.post(url, {"stage": stage.stage, "decision": "sign_off"}).status_code == 403
    stage.refresh_from_db()
    assert stage.status == LdcStage.Status.SUBMITTED


def test_ldc_detail_shows_stages_and_actions(client: Any, world: Any) -> None:
    _submitted(world.north)
    rollout_snapshot_take()
    client.force_login(world.coordinator)
    body = client.get(reverse("sme:ldc-detail", args=["north"])).content.decode()
    assert 'data-testid="stage-timeline"' in body and Stage.PREPARATION.label in body
    assert 'data-action="return"' in body and 'data-figure="ldc-trend"' in body
    assert reverse("sme_onboarding:ldc-stages", args=["north"]) in body


@pytest.mark.parametrize("role", ["ldc_admin", "back_office", "billing_agent", "ami_operator"])
def test_staff_see_their_own_weekly_quality(client: Any, rollout_world: Any, role: str) -> None:
    client.force_login(rollout_world.user("north", role))
    response = client.get(reverse("rollout:quality"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Weekly data quality — Northwind Test Hydro" in body and "Southshore" not in body
    assert f"{north_rate()} %" in body
    assert 'href="/rollout/quality/"' in body  # the staff nav entry


def test_staff_asking_for_another_ldcs_quality_get_404(client: Any, world: Any) -> None:
    client.force_login(world.user("south", "ldc_admin"))
    assert client.get(reverse("rollout:quality"), {"ldc": "north"}).status_code == 404
    assert client.get(reverse("rollout:quality"), {"ldc": "south"}).status_code == 200
    assert client.get(reverse("rollout:ldc-quality", args=["north"])).status_code == 403


def test_customers_and_coordinators_have_no_staff_quality_page(client: Any, world: Any) -> None:
    client.force_login(world.customer)
    assert client.get(reverse("rollout:quality")).status_code == 403
    client.force_login(world.coordinator)
    assert client.get(reverse("rollout:quality")).status_code == 403


def test_quality_page_pages_through_weeks(client: Any, rollout_world: Any) -> None:
    client.force_login(rollout_world.coordinator)
    url = reverse("rollout:ldc-quality", args=["north"])
    body = client.get(url, {"end": "2026-03-08"}).content.decode()
    assert "2026-03-02 to" in body and "?end=2026-03-01" in body and "?end=2026-03-15" in body


def test_the_sme_nav_lists_the_rollout_pages(client: Any, world: Any) -> None:
    client.force_login(world.coordinator)
    body = client.get(reverse("rollout:targets")).content.decode()
    for label in ("LDC table", "Targets", "Data quality"):
        assert f"</i> {label}</a>" in body


def test_rollout_api_gives_aggregates_to_coordinators_only(client: Any, rollout_world: Any) -> None:
    url = reverse("api:rollout-ldcs")
    client.force_login(rollout_world.coordinator)
    data = client.get(url).json()
    assert data["count"] == 2
    north = next(r for r in data["results"] if r["ldc"] == "north")
    assert set(north) == set(CSV_COLUMNS) and north["read_success_7d_pct"] == north_rate()
    assert north["meets_98_pct"] is False and north["enrollment_wave"] == 1
    client.force_login(rollout_world.user("north", "ldc_admin"))
    assert client.get(url).status_code == 403
