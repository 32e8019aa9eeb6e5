"""GUI training: sessions, self-registration within capacity, attendance and completion, and
the write gate on production data (portal.access)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from ldc import training
from ldc.models import Course, TrainingRegistration, TrainingSession
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def staff(world: Any, role: str = "back_office", ldc: str = "north") -> Any:
    return actor_for_user(world.user(ldc, role))


def test_the_four_courses_are_seeded_and_one_is_required() -> None:
    codes = list(Course.objects.values_list("code", flat=True))
    assert codes == ["introduction", "gui-step-by-step", "vee-exceptions", "billing-quantities"]
    assert list(Course.objects.filter(required_for_write=True).values_list("code", flat=True)) == [
        "gui-step-by-step"
    ]


def test_coordinator_schedules_a_session(world: Any) -> None:
    session = training.session_create(
        course=Course.objects.get(code="introduction"),
        starts_at=timezone.now() + dt.timedelta(days=3),
        place="",
        online=True,
        capacity=12,
        actor=actor_for_user(world.coordinator),
    )
    assert session.place == "Online"
    assert AuditEvent.objects.filter(action="training_session.created").count() == 1
    with pytest.raises(PermissionDenied):
        training.session_create(
            course=session.course,
            starts_at=session.starts_at,
            place="x",
            online=False,
            capacity=1,
            actor=staff(world, "ldc_admin"),
        )


def test_registration_is_once_and_within_capacity(world: Any) -> None:
    session = factories.training_session(capacity=2)
    first = training.training_register(session=session, actor=staff(world))
    assert training.training_register(session=session, actor=staff(world)).pk == first.pk
    training.training_register(session=session, actor=staff(world, "ami_operator"))
    with pytest.raises(ValidationError, match="full"):
        training.training_register(session=session, actor=staff(world, "ldc_admin", "south"))
    assert first.ldc == world.north


def test_a_started_session_takes_no_registration(world: Any) -> None:
    session = factories.training_session(starts_at=timezone.now() - dt.timedelta(hours=1))
    with pytest.raises(ValidationError, match="already started"):
        training.training_register(session=session, actor=staff(world))


def test_attendance_and_completion_by_coordinator(world: Any) -> None:
    session = factories.training_session()
    seat = training.training_register(session=session, actor=staff(world))
    TrainingSession.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - dt.timedelta(hours=2)
    )
    seat.refresh_from_db()
    coordinator = actor_for_user(world.coordinator)
    with pytest.raises(ValidationError, match="attended"):
        training.training_attendance_record(
            registration=seat, attended=False, completed=True, actor=coordinator
        )
    with pytest.raises(PermissionDenied):
        training.training_attendance_record(
            registration=seat, attended=True, completed=True, actor=staff(world, "ldc_admin")
        )
    training.training_attendance_record(
        registration=seat, attended=True, completed=True, actor=coordinator
    )
    seat.refresh_from_db()
    assert seat.attended and seat.completed_at is not None


def test_attendance_and_completion_not_before_the_session_starts(world: Any) -> None:
    session = factories.training_session(starts_at=timezone.now() + dt.timedelta(days=9))
    seat = training.training_register(session=session, actor=staff(world))
    coordinator = actor_for_user(world.coordinator)
    for attended, completed in ((True, False), (True, True)):
        with pytest.raises(ValidationError, match="before it starts"):
            training.training_attendance_record(
                registration=seat, attended=attended, completed=completed, actor=coordinator
            )
    seat.refresh_from_db()
    assert not seat.attended and seat.completed_at is None
    # no write access was granted by the refused completion
    assert not training.completed_required_course(seat.user)
    TrainingSession.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - dt.timedelta(minutes=1)
    )
    seat.refresh_from_db()
    training.training_attendance_record(
        registration=seat, attended=True, completed=True, actor=coordinator
    )
    assert training.completed_required_course(seat.user)


def test_staff_missing_the_required_course(world: Any) -> None:
    factories.complete_required_course(world.user("north", "back_office"), world.north)
    missing = {m.user.email for m in training.staff_missing_required(world.north)}
    assert missing == {
        "ldc_admin@north.test.example",
        "billing_agent@north.test.example",
        "ami_operator@north.test.example",
    }
    assert training.training_summary(world.north) == {"staff": 4, "trained": 1}


# --- the write gate --------------------------------------------------------------------------


def test_untrained_staff_of_a_production_ldc_cannot_write(world: Any) -> None:
    factories.production_ldc(world.north)
    user = world.user("north", "back_office")
    actor = actor_for_user(user)
    assert actor.needs_training
    assert actor.can("registry.view") and actor.can("reads.view")
    for capability in ("registry.write", "reads.upload", "reads.edit", "billing.request"):
        assert not actor.can(capability)
    factories.complete_required_course(user, world.north)
    user._openmdmr_write_trained = None  # a new request
    trained = actor_for_user(user)
    assert not trained.needs_training and trained.can("registry.write")


def test_gate_applies_only_in_production(world: Any) -> None:
    actor = staff(world)
    assert not actor.needs_training and actor.can("reads.edit")


def test_gate_costs_one_query_per_request(world: Any, django_assert_num_queries: Any) -> None:
    factories.production_ldc(world.north)
    user = world.user("north", "back_office")
    actor = actor_for_user(user)
    with django_assert_num_queries(1):
        for capability in ("registry.write", "reads.upload", "reads.edit", "billing.request"):
            actor.can(capability)
        actor_for_user(user).can("registry.write")  # the navigation's actor shares the answer


def test_untrained_staff_get_403_on_write_pages_of_a_production_ldc(
    client: Any, world: Any
) -> None:
    factories.production_ldc(world.north)
    client.force_login(world.user("north", "back_office"))
    assert client.get(reverse("meters:registry-upload")).status_code == 403
    assert client.get(reverse("meters:sdp-list")).status_code == 200
    body = client.get(reverse("ldc:training")).content.decode()
    assert 'data-testid="needs-training"' in body


def test_trained_staff_reach_write_pages_of_a_production_ldc(client: Any, world: Any) -> None:
    factories.production_ldc(world.north)
    user = world.user("north", "back_office")
    factories.complete_required_course(user, world.north)
    client.force_login(user)
    assert client.get(reverse("meters:registry-upload")).status_code == 200


def test_api_tokens_are_not_gated(world: Any) -> None:
    from ldc.services import api_token_create
    from portal.access import Actor

    factories.production_ldc(world.north)
    token, _ = api_token_create(ldc=world.north, name="CIS", role="back_office", actor=None)
    assert Actor(ldc=world.north, role="back_office", token=token).can("registry.write")


# --- pages -----------------------------------------------------------------------------------


def test_staff_register_on_the_training_page(client: Any, world: Any) -> None:
    session = factories.training_session()
    client.force_login(world.user("north", "ami_operator"))
    page = client.get(reverse("ldc:training")).content.decode()
    assert "The MDM/R GUI step by step" in page
    response = client.post(reverse("ldc:training-register", args=[session.pk]))
    assert response.status_code == 302
    seat = TrainingRegistration.objects.get(user=world.user("north", "ami_operator"))
    page = client.get(reverse("ldc:training")).content.decode()
    assert 'data-testid="my-training"' in page and "missing-training" not in page
    client.post(reverse("ldc:training-unregister", args=[seat.pk]))
    assert not TrainingRegistration.objects.filter(pk=seat.pk).exists()


def test_admin_sees_who_is_missing_the_course(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    page = client.get(reverse("ldc:training")).content.decode()
    assert 'data-testid="missing-training"' in page
    assert "billing_agent@north.test.example" in page and "south.test" not in page


def test_other_staffs_seat_cannot_be_given_back(client: Any, world: Any) -> None:
    session = factories.training_session()
    seat = training.training_register(session=session, actor=staff(world))
    client.force_login(world.user("south", "back_office"))
    assert client.post(reverse("ldc:training-unregister", args=[seat.pk])).status_code == 404
    assert TrainingRegistration.objects.filter(pk=seat.pk).exists()


def test_coordinator_creates_sessions_and_records_completion(client: Any, world: Any) -> None:
    client.force_login(world.coordinator)
    course = Course.objects.get(code="gui-step-by-step")
    when = (timezone.localtime() + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("sme_onboarding:training"),
        {"course": course.pk, "starts_at": when, "place": "Room 4", "capacity": 8},
    )
    assert response.status_code == 302
    session = TrainingSession.objects.get()
    seat = training.training_register(session=session, actor=staff(world))
    page = client.get(reverse("sme_onboarding:session", args=[session.pk])).content.decode()
    assert "back_office@north.test.example" in page
    url = reverse("sme_onboarding:attendance", args=[seat.pk])
    # before the session starts: refused, with the reason on the page
    page = client.post(url, {"attended": "yes", "completed": "on"}, follow=True).content.decode()
    assert "cannot be recorded before it starts" in page
    seat.refresh_from_db()
    assert seat.completed_at is None
    TrainingSession.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert client.post(url, {"attended": "yes", "completed": "on"}).status_code == 302
    seat.refresh_from_db()
    assert seat.completed_at is not None


def test_ldc_staff_cannot_use_coordinator_training_pages(client: Any, world: Any) -> None:
    session = factories.training_session()
    seat = training.training_register(session=session, actor=staff(world))
    client.force_login(world.user("north", "ldc_admin"))
    assert client.get(reverse("sme_onboarding:training")).status_code == 403
    assert client.post(reverse("sme_onboarding:training"), {}).status_code == 403
    url = reverse("sme_onboarding:attendance", args=[seat.pk])
    assert client.post(url, {"attended": "yes", "completed": "on"}).status_code == 403
    seat.refresh_from_db()
    assert seat.completed_at is None
