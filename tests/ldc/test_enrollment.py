"""Enrollment groups: by filter or upload, the four steps, cancel, and their pages."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ldc import enrollment
from ldc.enrollment import SdpFilter
from ldc.models import EnrollmentGroup, EnrollmentGroupSdp
from meters.models import ServiceDeliveryPoint
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(world: Any) -> Any:
    """North in Production with 6 more SDPs; its admin and back office trained."""
    factories.production_ldc(world.north)
    for i in range(2, 8):
        factories.SdpFactory(
            ldc=world.north,
            sdp_id=f"NORTH-SDP-{i}",
            rate_class="gs_lt_50" if i % 2 else "residential",
            postal_code="K1A 0B1" if i < 5 else "M5V 2T6",
        )
    for role in ("ldc_admin", "back_office"):
        factories.complete_required_course(world.user("north", role), world.north)
    return world


def admin(world: Any) -> Any:
    return actor_for_user(world.user("north", "ldc_admin"))


def ids(group: EnrollmentGroup) -> list[str]:
    return sorted(
        EnrollmentGroupSdp.objects.filter(group=group).values_list("sdp__sdp_id", flat=True)
    )


def test_group_from_filter_takes_only_free_matching_sdps(live: Any) -> None:
    first = enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(postal_prefix="k1a"), actor=admin(live)
    )
    assert str(first) == "Customer group 1"
    assert ids(first) == ["NORTH-SDP-2", "NORTH-SDP-3", "NORTH-SDP-4"]
    second = enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(rate_class="gs_lt_50"), actor=admin(live)
    )
    assert second.number == 2 and ids(second) == ["NORTH-SDP-5", "NORTH-SDP-7"]
    with pytest.raises(ValidationError, match="No free SDP"):
        enrollment.group_create_from_filter(
            ldc=live.north, spec=SdpFilter(postal_prefix="K1A"), actor=admin(live)
        )


def test_group_from_filter_runs_a_fixed_number_of_queries(
    live: Any, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        group = enrollment.group_create_from_filter(
            ldc=live.north, spec=SdpFilter(), actor=admin(live)
        )
    assert len(ids(group)) == 7


def test_upload_with_a_bad_row_stores_nothing_and_names_each_row(live: Any) -> None:
    enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(postal_prefix="M5V"), actor=admin(live)
    )
    text = "sdp_id\nNORTH-SDP-2\nSOUTH-SDP-1\nNORTH-SDP-2\nNORTH-SDP-6\n"
    with pytest.raises(enrollment.UploadError) as caught:
        enrollment.group_create_from_upload(
            ldc=live.north, stream=io.BytesIO(text.encode()), actor=admin(live)
        )
    assert caught.value.rows == [
        (3, "SOUTH-SDP-1 is not an SDP of Northwind Test Hydro"),
        (4, "NORTH-SDP-2 is repeated (first on row 2)"),
        (5, "NORTH-SDP-6 is already in an active group"),
    ]
    assert EnrollmentGroup.objects.for_ldc(live.north).count() == 1


def test_upload_creates_a_group(live: Any) -> None:
    group = enrollment.group_create_from_upload(
        ldc=live.north,
        stream=io.BytesIO(b"NORTH-SDP-3\r\n\r\nNORTH-SDP-4\r\n"),
        name="Pilot",
        actor=admin(live),
    )
    assert str(group) == "Pilot" and ids(group) == ["NORTH-SDP-3", "NORTH-SDP-4"]


def test_enrollment_needs_production(world: Any) -> None:
    factories.complete_required_course(world.user("north", "ldc_admin"), world.north)
    with pytest.raises(ValidationError, match="only once the LDC is in Production"):
        enrollment.group_create_from_filter(ldc=world.north, spec=SdpFilter(), actor=admin(world))


def test_steps_set_enrolled_on_and_tou_billing_then_complete(live: Any) -> None:
    group = enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(postal_prefix="K1A"), actor=admin(live)
    )
    with pytest.raises(ValidationError, match="registered before"):
        enrollment.group_enroll(group=group, on=dt.date(2026, 12, 1), actor=admin(live))
    enrollment.group_mark_registered(group=group, actor=admin(live))
    enrollment.group_enroll(group=group, on=dt.date(2026, 12, 1), actor=admin(live))
    enrollment.group_educate(
        group=group, on=dt.date(2026, 12, 3), channel="Letter", actor=admin(live)
    )
    group = enrollment.group_set_tou_start(
        group=group, start=dt.date(2027, 1, 1), actor=admin(live)
    )
    assert group.status == "complete"
    sdps = ServiceDeliveryPoint.objects.for_ldc(live.north)
    assert sdps.filter(enrolled_on=dt.date(2026, 12, 1)).count() == 3
    assert sdps.filter(tou_billing_from=dt.date(2027, 1, 1)).count() == 3
    counted = enrollment.groups_with_counts(live.north).get()
    assert (counted.sdp_count, counted.enrolled_count, counted.tou_count) == (3, 3, 3)
    assert enrollment.group_progress(counted)["done"] == 4
    actions = set(AuditEvent.objects.for_ldc(live.north).values_list("action", flat=True))
    assert {"enrollment_group.enrolled", "enrollment_group.tou_billing"} <= actions


def test_tou_billing_cannot_start_before_the_groups_enrollment(live: Any) -> None:
    group = enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(postal_prefix="K1A"), actor=admin(live)
    )
    enrollment.group_mark_registered(group=group, actor=admin(live))
    enrollment.group_enroll(group=group, on=dt.date(2026, 12, 1), actor=admin(live))
    with pytest.raises(ValidationError, match="enrolled in the repository on 2026-12-01"):
        enrollment.group_set_tou_start(group=group, start=dt.date(2026, 11, 30), actor=admin(live))
    group.refresh_from_db()
    assert group.tou_billing_start is None
    sdps = ServiceDeliveryPoint.objects.for_ldc(live.north)
    assert not sdps.filter(tou_billing_from__isnull=False).exists()
    # the enrollment day itself is allowed
    group = enrollment.group_set_tou_start(
        group=group, start=dt.date(2026, 12, 1), actor=admin(live)
    )
    assert group.tou_billing_start == dt.date(2026, 12, 1)


def test_cancel_frees_the_sdps(live: Any) -> None:
    group = enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(postal_prefix="K1A"), actor=admin(live)
    )
    enrollment.group_cancel(group=group, actor=admin(live))
    again = enrollment.group_create_from_filter(
        ldc=live.north, spec=SdpFilter(postal_prefix="K1A"), actor=admin(live)
    )
    assert again.number == 2 and len(ids(again)) == 3


def test_an_enrolled_group_cannot_be_cancelled(live: Any) -> None:
    group = enrollment.group_create_from_filter(ldc=live.north, spec=SdpFilter(), actor=admin(live))
    enrollment.group_mark_registered(group=group, actor=admin(live))
    enrollment.group_enroll(group=group, on=dt.date(2026, 12, 1), actor=admin(live))
    with pytest.raises(ValidationError, match="already enrolled"):
        enrollment.group_cancel(group=group, actor=admin(live))


def test_other_ldcs_staff_and_lower_roles_cannot_enroll(live: Any) -> None:
    with pytest.raises(PermissionDenied):
        enrollment.group_create_from_filter(
            ldc=live.north,
            spec=SdpFilter(),
            actor=actor_for_user(live.user("south", "ldc_admin")),
        )
    with pytest.raises(PermissionDenied):
        enrollment.group_create_from_filter(
            ldc=live.north,
            spec=SdpFilter(),
            actor=actor_for_user(live.user("north", "billing_agent")),
        )


# --- pages -----------------------------------------------------------------------------------


def test_group_pages_create_by_filter_and_record_steps(client: Any, live: Any) -> None:
    client.force_login(live.user("north", "back_office"))
    assert client.get(reverse("ldc:group-create")).status_code == 200
    response = client.post(
        reverse("ldc:group-create"), {"mode": "filter", "postal_prefix": "K1A", "name": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("ldc:group-detail", args=[1])
    step = reverse("ldc:group-step", args=[1])
    client.post(step, {"step": "registered"})
    client.post(step, {"step": "enrolled", "on": "2026-12-01"})
    detail = client.get(reverse("ldc:group-detail", args=[1])).content.decode()
    assert "NORTH-SDP-2" in detail and "2026-12-01" in detail
    listing = client.get(reverse("ldc:groups")).content.decode()
    assert "Customer group 1" in listing and 'data-figure="group-progress"' in listing


def test_group_page_upload_shows_row_errors(client: Any, live: Any) -> None:
    client.force_login(live.user("north", "ldc_admin"))
    upload = SimpleUploadedFile("sdps.csv", b"NORTH-SDP-2\nNOPE\n")
    response = client.post(reverse("ldc:group-create"), {"mode": "upload", "file": upload})
    assert response.status_code == 400
    assert "row 2: NOPE is not an SDP" in response.content.decode()
    assert not EnrollmentGroup.objects.for_ldc(live.north).exists()


def test_group_create_before_production_explains(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    response = client.post(reverse("ldc:group-create"), {"mode": "filter"})
    assert response.status_code == 400
    assert "only once the LDC is in Production" in response.content.decode()


def test_other_ldcs_group_is_not_found(client: Any, live: Any) -> None:
    enrollment.group_create_from_filter(ldc=live.north, spec=SdpFilter(), actor=admin(live))
    client.force_login(live.user("south", "ldc_admin"))
    assert client.get(reverse("ldc:group-detail", args=[1])).status_code == 404
    assert client.post(reverse("ldc:group-cancel", args=[1])).status_code == 404
    assert EnrollmentGroup.objects.for_ldc(live.north).get().status == "active"


def test_lower_role_cannot_manage_groups(client: Any, live: Any) -> None:
    client.force_login(live.user("north", "ami_operator"))
    assert client.get(reverse("ldc:groups")).status_code == 200
    assert client.get(reverse("ldc:group-create")).status_code == 403


def test_group_list_query_count_does_not_grow_with_groups(
    client: Any, live: Any, django_assert_max_num_queries: Any
) -> None:
    for prefix in ("K1A", "M5V"):
        enrollment.group_create_from_filter(
            ldc=live.north, spec=SdpFilter(postal_prefix=prefix), actor=admin(live)
        )
    client.force_login(live.user("north", "ldc_admin"))
    with django_assert_max_num_queries(14):
        assert client.get(reverse("ldc:groups")).status_code == 200
