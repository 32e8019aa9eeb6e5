"""The SME's onboarding records of an LDC: the registration application, the organisation's
contacts by role, and organisational relationships: billing agents and AMI service providers
as organisations with their own staff, to which an LDC delegates authority (a scope, on dates).

An organisation can act for several LDCs, each time with only what that LDC delegated and only
while the delegation is in effect; what its staff see of an LDC is the SDPs the LDC's registry
gives to that organisation (``SdpBillingAgent`` / ``SdpHeadend`` whose code is the
organisation's, in effect on the day), never the LDC's other SDPs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ldc.models import (
    Delegation,
    Organisation,
    OrganisationContact,
    OrganisationStaff,
    RegistrationApplication,
)
from meters.models import SdpBillingAgent, SdpHeadend, ServiceDeliveryPoint
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC


def _require_admin(actor: Actor, ldc: LDC) -> None:
    """The LDC's administrator (or a coordinator) keeps the LDC's onboarding records."""
    if actor is None:
        raise PermissionDenied("Your role does not allow this.")
    if actor.is_coordinator:
        return
    if actor.ldc is None or actor.ldc.pk != ldc.pk or not actor.can("ldc.manage_members"):
        raise PermissionDenied("Only the LDC's administrator keeps its onboarding records.")


@transaction.atomic
def application_submit(
    *, ldc: LDC, legal_name: str, oeb_licence: str, service_area: str = "", actor: Actor
) -> RegistrationApplication:
    _require_admin(actor, ldc)
    if not legal_name.strip():
        raise ValidationError({"legal_name": "The LDC's legal name is required."})
    if not oeb_licence.strip():
        raise ValidationError(
            {"oeb_licence": "The OEB electricity distribution licence number is required."}
        )
    app, created = RegistrationApplication.objects.update_or_create(
        ldc=ldc,
        defaults={
            "legal_name": legal_name.strip(),
            "oeb_licence": oeb_licence.strip(),
            "service_area": service_area.strip(),
            "submitted_at": timezone.now(),
            "submitted_by": actor.user,
        },
    )
    audit(
        action="registration_application.submitted"
        if created
        else "registration_application.updated",
        actor=actor,
        ldc=ldc,
        obj=app,
        after={"legal_name": app.legal_name, "oeb_licence": app.oeb_licence},
    )
    return app


@transaction.atomic
def contact_add(
    *, ldc: LDC, role: str, name: str, email: str, phone: str = "", actor: Actor
) -> OrganisationContact:
    _require_admin(actor, ldc)
    if role not in OrganisationContact.Role.values:
        roles = ", ".join(OrganisationContact.Role.values)
        raise ValidationError({"role": f"'{role}' is not a contact role ({roles})."})
    if not name.strip():
        raise ValidationError({"name": "The contact's name is required."})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"'{email}' is not an e-mail address."}) from None
    if OrganisationContact.objects.for_ldc(ldc).filter(role=role, email=email).exists():
        raise ValidationError({"email": f"{email} is already the {role} contact."})
    contact = OrganisationContact.objects.create(
        ldc=ldc, role=role, name=name.strip(), email=email, phone=phone.strip()
    )
    audit(
        action="contact.added",
        actor=actor,
        ldc=ldc,
        obj=contact,
        after={"role": role, "email": email},
    )
    return contact


def contacts_missing(ldc: LDC) -> list[str]:
    """The contact roles the LDC has not named yet."""
    named = set(OrganisationContact.objects.for_ldc(ldc).values_list("role", flat=True))
    return [r for r in OrganisationContact.Role.values if r not in named]


@transaction.atomic
def delegate(
    *,
    ldc: LDC,
    organisation: Organisation,
    scope: str,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    actor: Actor,
) -> Delegation:
    """The LDC delegates one scope to an organisation on local days [starts_on, ends_on]."""
    _require_admin(actor, ldc)
    if scope not in Delegation.Scope.values:
        raise ValidationError({"scope": f"'{scope}' is not a delegable scope."})
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": "The delegation ends before it starts."})
    overlapping = (
        Delegation.objects.for_ldc(ldc)
        .filter(organisation=organisation, scope=scope)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=starts_on))
    )
    if ends_on is not None:
        overlapping = overlapping.filter(starts_on__lte=ends_on)
    if overlapping.exists():
        raise ValidationError(f"{organisation} already holds '{scope}' for part of those dates.")
    row = Delegation.objects.create(
        ldc=ldc, organisation=organisation, scope=scope, starts_on=starts_on, ends_on=ends_on
    )
    audit(
        action="delegation.granted",
        actor=actor,
        ldc=ldc,
        obj=row,
        after={
            "organisation": organisation.code,
            "scope": scope,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat() if ends_on else None,
        },
    )
    return row


def organisation_of(user: Any) -> Organisation | None:
    staff = OrganisationStaff.objects.select_related("organisation").filter(user=user).first()
    return staff.organisation if staff else None


def _in_effect(rows: QuerySet[Any], day: dt.date, start: str, end: str) -> QuerySet[Any]:
    return rows.filter(**{f"{start}__lte": day}).filter(
        Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": day})
    )


def delegating_ldcs(organisation: Organisation, scope: str, day: dt.date) -> QuerySet[LDC]:
    """The LDCs whose delegation of ``scope`` to the organisation is in effect on ``day``."""
    held = _in_effect(
        Delegation.objects.filter(organisation=organisation, scope=scope),
        day,
        "starts_on",
        "ends_on",
    )
    return LDC.objects.filter(pk__in=held.values("ldc_id"))


def sdps_for_agent_staff(user: Any, day: dt.date | None = None) -> QuerySet[ServiceDeliveryPoint]:
    """The SDPs an organisation's staff member may see on ``day``: of the LDCs delegating
    'sdps.view' to the organisation then, only those the LDC's registry gives to it."""
    day = day or timezone.localdate()
    org = organisation_of(user)
    if org is None:
        return ServiceDeliveryPoint.objects.none()
    ldcs = delegating_ldcs(org, Delegation.Scope.SDPS_VIEW, day)
    if org.kind == Organisation.Kind.BILLING_AGENT:
        link = SdpBillingAgent.objects.filter(sdp=OuterRef("pk"), agent__code=org.code)
    else:
        link = SdpHeadend.objects.filter(sdp=OuterRef("pk"), headend__code=org.code)
    served = _in_effect(link, day, "effective_from", "effective_to")
    return (
        ServiceDeliveryPoint.objects.filter(ldc__in=ldcs)
        .filter(Exists(served.filter(ldc=OuterRef("ldc"))))
        .order_by("ldc_id", "sdp_id")
    )
