"""factory_boy factories for the shared test world."""

from __future__ import annotations

import datetime as dt

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from customers.models import CustomerAccount
from meters.models import Meter, MeterInstallation, ServiceDeliveryPoint
from portal.models import User
from portal.tenancy import LDC, Membership

PASSWORD = "correct-horse-battery"  # noqa: S105
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"  # noqa: S105


class LdcFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LDC
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"ldc-{n}")
    name = factory.LazyAttribute(lambda o: f"{o.slug.title()} Hydro")
    residential_customers = 10_000
    gs_customers = 1_000
    status = LDC.Status.PRODUCTION


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@test.example")
    full_name = factory.Faker("name")

    @factory.post_generation
    def verified(self, create: bool, extracted: object, **kwargs: object) -> None:
        self.set_password(PASSWORD)
        if create:
            self.save(update_fields=["password"])
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


def staff_user(ldc: LDC | None, role: str, email: str) -> User:
    """A staff member (or coordinator when ``ldc`` is None) with TOTP enrolled."""
    user = UserFactory(email=email)
    Membership.objects.create(user=user, ldc=ldc, role=role)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, TOTP_SECRET)
    return user


class SdpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceDeliveryPoint

    ldc = factory.SubFactory(LdcFactory)
    sdp_id = factory.Sequence(lambda n: f"SDP-{n:05d}")
    rate_class = "residential"
    commodity_rate_class = "tou"
    postal_code = "M5V 2T6"


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    ldc = factory.SubFactory(LdcFactory)
    serial = factory.Sequence(lambda n: f"MTR-{n:05d}")


def install(
    sdp: ServiceDeliveryPoint, meter: Meter, start: dt.date = dt.date(2025, 1, 1)
) -> MeterInstallation:
    return MeterInstallation.objects.create(ldc=sdp.ldc, sdp=sdp, meter=meter, effective_from=start)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerAccount

    ldc = factory.SubFactory(LdcFactory)
    account_number = factory.Sequence(lambda n: f"ACCT-{n:06d}")
    postal_code = "M5V 2T6"


def production_ldc(ldc: LDC) -> LDC:
    """Put an LDC in the Production stage (every earlier stage signed off)."""
    from ldc.stages import stages_ensure

    ldc.stage = "production"
    ldc.status = LDC.Status.PRODUCTION
    ldc.save(update_fields=["stage", "status"])
    stages_ensure(ldc=ldc)
    return ldc


def training_session(course_code: str = "gui-step-by-step", **fields: object) -> object:
    """A training session of a seeded course, a week from now unless told."""
    from django.utils import timezone

    from ldc.models import Course, TrainingSession

    defaults: dict[str, object] = {
        "starts_at": timezone.now() + dt.timedelta(days=7),
        "place": "SME offices, room 4",
        "capacity": 10,
    }
    defaults.update(fields)
    # get_or_create: transactional tests flush the courses the data migration seeded
    course, _ = Course.objects.get_or_create(
        code=course_code,
        defaults={"title": course_code, "required_for_write": course_code == "gui-step-by-step"},
    )
    return TrainingSession.objects.create(course=course, **defaults)


def complete_required_course(user: User, ldc: LDC) -> object:
    """Record that a staff member completed the course required for write access."""
    from django.utils import timezone

    from ldc.models import TrainingRegistration

    session = training_session(starts_at=timezone.now() - dt.timedelta(days=3))
    return TrainingRegistration.objects.create(
        ldc=ldc, session=session, user=user, attended=True, completed_at=timezone.now()
    )


def onboarding_records(ldc: LDC) -> None:
    """The registration application and a contact of every role (Preparation needs them)."""
    from ldc.models import OrganisationContact, RegistrationApplication

    RegistrationApplication.objects.get_or_create(
        ldc=ldc, defaults={"legal_name": f"{ldc.name} Inc.", "oeb_licence": "ED-2003-0001"}
    )
    for role in OrganisationContact.Role.values:
        OrganisationContact.objects.get_or_create(
            ldc=ldc, role=role, email=f"{role}@{ldc.slug}.example", defaults={"name": role}
        )
