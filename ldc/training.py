"""GUI training: the SME's courses and sessions, staff self-registration (capacity enforced),
attendance and completion recorded by coordinators. Completing the course marked
``required_for_write`` is what gives an LDC's staff write access to production data
(portal.access.Actor.can)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from ldc.models import Course, TrainingRegistration, TrainingSession
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC, Membership


def _require(actor: Actor, capability: str) -> None:
    if not actor.can(capability):
        raise PermissionDenied("Your role does not allow this.")


@transaction.atomic
def session_create(
    *,
    course: Course,
    starts_at: dt.datetime,
    place: str,
    online: bool,
    capacity: int,
    actor: Actor,
) -> TrainingSession:
    """A coordinator schedules a session of a course (a room, or online) with a capacity."""
    _require(actor, "training.manage")
    if capacity < 1:
        raise ValidationError("A session has at least one seat.")
    place = place.strip() or ("Online" if online else "")
    if not place:
        raise ValidationError("Say where the session is held (or that it is online).")
    session = TrainingSession.objects.create(
        course=course, starts_at=starts_at, place=place, online=online, capacity=capacity
    )
    audit(
        action="training_session.created",
        actor=actor,
        obj=session,
        after={"course": course.code, "starts_at": starts_at.isoformat(), "capacity": capacity},
    )
    return session


@transaction.atomic
def training_register(*, session: TrainingSession, actor: Actor) -> TrainingRegistration:
    """A staff member takes a seat in a session (once; never past its capacity)."""
    _require(actor, "training.register")
    # Lock the session so that two people cannot take the last seat together.
    session = TrainingSession.objects.select_for_update().get(pk=session.pk)
    existing = TrainingRegistration.objects.filter(session=session, user=actor.user).first()
    if existing is not None:
        return existing
    if session.starts_at < timezone.now():
        raise ValidationError("This session has already started.")
    if session.registrations.count() >= session.capacity:
        raise ValidationError(f"The session is full ({session.capacity} seats).")
    assert actor.ldc is not None  # training.register is a capability of LDC staff only
    registration = TrainingRegistration.objects.create(
        ldc=actor.ldc, session=session, user=actor.user
    )
    audit(
        action="training.registered",
        actor=actor,
        ldc=actor.ldc,
        obj=registration,
        after={"session": str(session)},
    )
    return registration


@transaction.atomic
def training_unregister(*, registration: TrainingRegistration, actor: Actor) -> None:
    """A staff member gives their seat back before the session."""
    if registration.user_id != getattr(actor.user, "pk", None):
        raise PermissionDenied("Not your registration.")
    if registration.attended is not None or registration.completed_at is not None:
        raise ValidationError("Attendance is recorded: the registration stays.")
    audit(
        action="training.unregistered",
        actor=actor,
        ldc=registration.ldc,
        obj=registration,
        before={"session": str(registration.session)},
    )
    registration.delete()


@transaction.atomic
def training_attendance_record(
    *, registration: TrainingRegistration, attended: bool, completed: bool, actor: Actor
) -> TrainingRegistration:
    """A coordinator records whether the person attended and completed the course."""
    _require(actor, "training.manage")
    if completed and not attended:
        raise ValidationError("Only someone who attended can complete the course.")
    starts_at = registration.session.starts_at
    if (attended or completed) and timezone.now() < starts_at:
        local = timezone.localtime(starts_at)
        raise ValidationError(
            f"The session starts {local:%Y-%m-%d %H:%M}; attendance and completion cannot be "
            "recorded before it starts."
        )
    before = {"attended": registration.attended, "completed": registration.completed_at is not None}
    registration.attended = attended
    if completed and registration.completed_at is None:
        registration.completed_at = timezone.now()
    elif not completed:
        registration.completed_at = None
    registration.save(update_fields=["attended", "completed_at"])
    audit(
        action="training.attendance_recorded",
        actor=actor,
        ldc=registration.ldc,
        obj=registration,
        before=before,
        after={"attended": attended, "completed": completed},
    )
    return registration


# ---------------------------------------------------------------------------------------------
# Selectors


def completed_required_course(user: Any) -> bool:
    """Whether the user completed a course required for write access (the training gate of
    portal.access, installed by ldc.apps)."""
    return TrainingRegistration.objects.filter(
        user=user, completed_at__isnull=False, session__course__required_for_write=True
    ).exists()


def sessions_with_seats(*, upcoming: bool = True) -> QuerySet[TrainingSession]:
    """Sessions with their seats taken, soonest first (upcoming only, or all)."""
    sessions = TrainingSession.objects.select_related("course").annotate(
        taken=Count("registrations")
    )
    if upcoming:
        sessions = sessions.filter(starts_at__gte=timezone.now())
    return sessions.order_by("starts_at")


def registrations_of(user: Any) -> QuerySet[TrainingRegistration]:
    """A person's seats, with the session and course."""
    return TrainingRegistration.objects.filter(user=user).select_related("session__course")


def _completed_required(user_ref: Any) -> Exists:
    return Exists(
        TrainingRegistration.objects.filter(
            user=user_ref, completed_at__isnull=False, session__course__required_for_write=True
        )
    )


def staff_missing_required(ldc: LDC) -> QuerySet[Membership]:
    """The LDC's staff who have not completed the course required for write access."""
    return (
        Membership.objects.for_ldc(ldc)
        .annotate(trained=_completed_required(OuterRef("user")))
        .filter(trained=False)
        .select_related("user")
        .order_by("role", "user__email")
    )


def training_summary(ldc: LDC) -> dict[str, int]:
    """Staff of the LDC, and how many completed the required course."""
    staff = Membership.objects.for_ldc(ldc).count()
    return {"staff": staff, "trained": staff - staff_missing_required(ldc).count()}
