"""The exception queue, the SDP-day page with its edit form, the VEE settings page."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from meters.models import VeeException, VeeSettings
from portal.models import AuditEvent
from portal.tenancy import Membership
from tests.meters.test_vee_service import current, frozen_day, load, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(world: Any, sample_ldc: Any) -> dict[str, Any]:
    """north's staff moved to the sample LDC, which holds the sample reads."""
    Membership.objects.filter(ldc=world.north).update(ldc=sample_ldc)
    load(sample_ldc, frozen_day())
    run(sample_ldc)
    return {
        role: world.user("north", role) for role in ("ldc_admin", "back_office", "billing_agent")
    }


def test_queue_lists_and_accepts_exceptions(client: Any, staff: Any, sample_ldc: Any) -> None:
    client.force_login(staff["back_office"])
    page = client.get(reverse("vee:queue")).content.decode()
    exception = VeeException.objects.for_ldc(sample_ldc).get(rule="V08")
    assert "V08" in page and "SDP-1001" in page
    response = client.post(
        reverse("vee:queue"), {"exception": [exception.public_id], "action": "accept"}
    )
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.status == "accepted" and exception.resolved_by == staff["back_office"]
    assert AuditEvent.objects.filter(ldc=sample_ldc, action="vee.exception_accepted").exists()


def test_billing_agent_sees_the_queue_but_cannot_resolve(
    client: Any, staff: Any, sample_ldc: Any
) -> None:
    client.force_login(staff["billing_agent"])
    assert client.get(reverse("vee:queue")).status_code == 200
    exception = VeeException.objects.for_ldc(sample_ldc).get(rule="V08")
    response = client.post(
        reverse("vee:queue"), {"exception": [exception.public_id], "action": "accept"}
    )
    assert response.status_code == 403
    exception.refresh_from_db()
    assert exception.status == "open"


def test_day_page_shows_raw_and_current_and_edits_with_a_reason(
    client: Any, staff: Any, sample_ldc: Any
) -> None:
    client.force_login(staff["back_office"])
    url = reverse("vee:sdp-day", args=["SDP-1002", "2026-03-07"])
    page = client.get(url).content.decode()
    assert "not received" in page or "missing" in page
    assert 'data-figure="vee-day"' in page
    refused = client.post(
        url, {"first_hour": 14, "last_hour": 15, "kwh": "0.444", "reason": "other", "note": ""}
    )
    assert refused.status_code == 400 and "say why" in refused.content.decode()
    done = client.post(
        url,
        {
            "first_hour": 14,
            "last_hour": 15,
            "kwh": "0.444",
            "reason": "customer_read",
            "note": "read on site",
        },
    )
    assert done.status_code == 302
    assert current(sample_ldc, "MTR-1002")["2026-03-07T19:00:00Z"] == ("0.444", "EDITED")


def test_settings_are_validated_and_audited(client: Any, staff: Any, sample_ldc: Any) -> None:
    from meters.vee.forms import VeeSettingsForm

    client.force_login(staff["ldc_admin"])
    page = client.get(reverse("vee:settings")).content.decode()
    assert "V08 frozen run (intervals)" in page and "From 2 to 24 intervals" in page
    form = VeeSettingsForm()
    posted = {name: value for name, value in form.initial.items() if value is not False}
    bad = client.post(reverse("vee:settings"), {**posted, "v08_frozen_run": 30})
    text = bad.content.decode()
    assert bad.status_code == 400 and "30 is out of range: from 2 to 24 intervals" in text
    assert not VeeSettings.objects.filter(ldc=sample_ldc).exists()
    ok = client.post(reverse("vee:settings"), {**posted, "e2_max_gap_minutes": 120})
    assert ok.status_code == 302
    assert VeeSettings.objects.get(ldc=sample_ldc).params == {"e2_max_gap_minutes": 120}
    assert AuditEvent.objects.filter(action="vee.settings_changed").count() == 1
    client.force_login(staff["back_office"])
    assert client.post(reverse("vee:settings"), posted).status_code == 403
