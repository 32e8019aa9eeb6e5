"""The billing API as a billing system uses it: request, release, edits, notices, batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from billing.models import BillingQuantity, ReplacementNotice
from billing.services import billing_quantity_request
from ldc.services import api_token_create
from meters.models import BillingCycle, Meter, MeterInstallation, ServiceDeliveryPoint
from meters.vee.service import interval_edit
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests.billing.terms_helpers import change_terms

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-03-07", "end": "2026-03-08"}


def token_header(ldc: Any, role: str = "billing_agent") -> dict[str, str]:
    _, key = api_token_create(ldc=ldc, name=f"CIS {role}", role=role, actor=None)
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def ask(client: Any, headers: dict[str, str], sdp_id: str, **extra: Any) -> Any:
    return client.post(
        reverse("api:billing-request-list"),
        {"sdp_id": sdp_id, **PERIOD, **extra},
        content_type="application/json",
        **headers,
    )


def test_billing_agent_requests_releases_and_the_release_is_audited(
    client: Any, validated: Any
) -> None:
    headers = token_header(validated)
    response = ask(client, headers, "SDP-1001")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "complete" and len(body["quantities"]) == 1
    url = reverse("api:billing-request-release", args=[body["request_id"]])
    released = client.post(url, **headers)
    assert released.status_code == 200
    [quantity] = released.json()["quantities"]
    assert quantity["status"] == "released" and quantity["released_at"]
    event = AuditEvent.objects.get(action="billing_quantity.released")
    assert event.ldc == validated and event.via == "api token"
    assert event.after["periods_kwh"] == quantity["periods_kwh"]
    assert event.after["version"] == 1
    again = client.get(reverse("api:billing-request-detail", args=[body["request_id"]]), **headers)
    assert again.json()["status"] == "released"


def test_an_edit_makes_a_new_version_and_a_notice_and_leaves_the_release_alone(
    client: Any, validated: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    headers = token_header(validated)
    body = ask(client, headers, "SDP-1001").json()
    client.post(reverse("api:billing-request-release", args=[body["request_id"]]), **headers)
    released = BillingQuantity.objects.get(public_id=body["quantities"][0]["quantity_id"])
    before = (released.periods_kwh, released.total_kwh, released.version, released.status)
    meter = Meter.objects.for_ldc(validated).get(serial="MTR-1001")
    start = dt.datetime(2026, 3, 7, 15, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        interval_edit(
            ldc=validated,
            meter=meter,
            channel=1,
            start=start,
            end=start + dt.timedelta(hours=1),
            wh=9_999,
            reason="customer_read",
            note="",
            actor=actor_for_user(world.user("north", "back_office")),
        )
    released.refresh_from_db()
    assert (released.periods_kwh, released.total_kwh, released.version) == before[:3]
    assert released.status == "released" and released.superseded_by is not None
    notices = client.get(reverse("api:billing-notice-list"), {"open": "true"}, **headers).json()
    [notice] = notices["results"]
    assert notice["replaces_version"] == 1 and notice["version"] == 2
    assert notice["sdp_id"] == "SDP-1001" and notice["reason"] == "reads edited"
    current = client.get(
        reverse("api:billing-request-detail", args=[body["request_id"]]), **headers
    )
    [v2] = current.json()["quantities"]
    assert v2["version"] == 2 and v2["status"] == "complete" and v2["quality"] == "edited"
    assert v2["total_kwh"] > before[1] + 9.0
    url = reverse("api:billing-notice-acknowledge", args=[notice["notice_id"]])
    assert client.post(url, **headers).status_code == 200
    assert not client.get(reverse("api:billing-notice-list"), {"open": "1"}, **headers).json()[
        "results"
    ]


def test_a_meter_exchange_inside_the_period_gives_one_response_per_meter(
    client: Any, validated: Any
) -> None:
    sdp = ServiceDeliveryPoint.objects.for_ldc(validated).get(sdp_id="SDP-1001")
    MeterInstallation.objects.for_ldc(validated).filter(sdp=sdp).update(
        effective_to=dt.date(2026, 3, 7)
    )
    new = Meter.objects.create(ldc=validated, serial="MTR-9001")
    MeterInstallation.objects.create(
        ldc=validated, sdp=sdp, meter=new, effective_from=dt.date(2026, 3, 8)
    )
    body = ask(client, token_header(validated), "SDP-1001").json()
    old_meter, new_meter = body["quantities"]
    assert (old_meter["meter_id"], old_meter["start"], old_meter["end"]) == (
        "MTR-1001",
        "2026-03-07",
        "2026-03-07",
    )
    assert old_meter["status"] == "complete"
    assert (new_meter["meter_id"], new_meter["start"], new_meter["end"]) == (
        "MTR-9001",
        "2026-03-08",
        "2026-03-08",
    )
    assert new_meter["status"] == "pending" and body["status"] == "pending"
    assert new_meter["pending_reasons"][0]["intervals"] == 23, "DST day: 23 hours"


def test_another_ldcs_request_is_not_found(client: Any, world: Any) -> None:
    south_sdp = world.objects["south_sdp"]
    south_request = billing_quantity_request(
        ldc=world.south,
        sdp=south_sdp,
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 31),
        actor=None,
    )
    headers = token_header(world.north)
    url = reverse("api:billing-request-detail", args=[south_request.public_id])
    assert client.get(url, **headers).status_code == 404
    response = client.post(
        reverse("api:billing-request-release", args=[south_request.public_id]), **headers
    )
    assert response.status_code == 404
    assert ask(client, headers, "SOUTH-SDP-1").status_code == 404
    client.force_login(world.user("north", "back_office"))
    page = client.get(reverse("billing:detail", args=[south_request.public_id]))
    assert page.status_code == 404


def test_a_role_without_billing_request_is_forbidden(client: Any, world: Any) -> None:
    headers = token_header(world.north, role="ami_operator")
    assert ask(client, headers, "NORTH-SDP-1").status_code == 403
    assert client.get(reverse("api:billing-notice-list"), **headers).status_code == 403
    client.force_login(world.user("north", "ami_operator"))
    assert client.get(reverse("billing:list")).status_code == 403
    client.force_login(world.user("north", "back_office"))
    assert client.get(reverse("billing:list")).status_code == 200


def test_a_billing_cycle_batch_requests_every_sdp_of_the_cycle_with_csv(
    client: Any, validated: Any
) -> None:
    BillingCycle.objects.create(ldc=validated, code="C08", read_day=8)
    for sdp_id in ("SDP-1001", "SDP-1002"):  # #19: the cycle is one of the SDP's terms
        change_terms(validated, sdp_id, dt.date(2026, 3, 1), billing_cycle="C08")
    headers = token_header(validated)
    response = client.post(
        reverse("api:billing-batch-list"),
        {"cycle": "C08", **PERIOD},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [r["sdp_id"] for r in body["requests"]] == ["SDP-1001", "SDP-1002"]
    assert body["status_counts"]["complete"] == 2
    assert [r["plan"] for r in body["requests"]] == ["tou", "ulo"]
    csv = client.get(reverse("api:billing-batch-csv", args=[body["batch_id"]]), **headers)
    lines = csv.content.decode().splitlines()
    assert csv["Content-Type"] == "text/csv" and len(lines) == 3
    assert lines[0].startswith("request_id,quantity_id,sdp_id,meter_id,plan")
    assert ",MTR-1002,ulo,2026-03-07,2026-03-08,1,complete," in lines[2]


def test_a_cycle_period_ends_on_its_read_day() -> None:
    from billing.services import billing_cycle_period

    cycle = BillingCycle(code="C31", read_day=31)
    assert billing_cycle_period(cycle=cycle, month=dt.date(2026, 3, 1)) == (
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 31),
    )
    cycle.read_day = 8
    assert billing_cycle_period(cycle=cycle, month=dt.date(2026, 3, 20)) == (
        dt.date(2026, 2, 9),
        dt.date(2026, 3, 8),
    )


def test_release_of_a_pending_request_is_refused(client: Any, loaded: Any) -> None:
    headers = token_header(loaded)
    body = ask(client, headers, "SDP-1002").json()
    assert body["status"] == "pending"
    response = client.post(
        reverse("api:billing-request-release", args=[body["request_id"]]), **headers
    )
    assert response.status_code == 400
    assert "no reading yet" in response.json()["error"]["message"]
    assert not ReplacementNotice.objects.exists()
