"""Demo data for ``make run``: several LDCs of different sizes and stages, staff of every role,
a coordinator, a customer, SDPs and meters (through the registry sync) and weeks of reads
(through the ingestion pipeline). Deterministic and idempotent."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from customers.models import AccountLink, CustomerAccount
from ldc.services import ldc_create
from meters.models import ServiceDeliveryPoint
from meters.registry.sync import registry_sync
from portal.tenancy import LDC, Membership, Role

User = get_user_model()

DEMO_PASSWORD = "openmdmr-demo"  # noqa: S105 - published demo credential, demo data only
# Every demo staff account has TOTP enrolled with this published secret (demo only):
# `manage.py demo_totp` prints the current code, or add it to any authenticator app.
DEMO_TOTP_SECRET = "OPENMDMRDEMOTOTPSECRETAA"  # noqa: S105


@dataclass(frozen=True)
class DemoLdc:
    slug: str
    name: str
    licence: str
    residential: int
    gs: int
    status: str
    sdps: int
    org_id: str


DEMO_LDCS = (
    DemoLdc(
        "northwind",
        "Northwind Hydro",
        "ED-2002-0501",
        612_000,
        68_000,
        "production",
        60,
        "MDMR-0101",
    ),
    DemoLdc(
        "lakeshore", "Lakeshore Power", "ED-2003-0217", 94_000, 11_000, "testing", 30, "MDMR-0144"
    ),
    DemoLdc(
        "maple-valley", "Maple Valley Hydro", "ED-2004-0388", 8_600, 1_100, "registering", 15, ""
    ),
    DemoLdc("georgian-bay", "Georgian Bay Electric", "ED-2005-0612", 780, 95, "registering", 6, ""),
)
STAFF_ROLES = (
    ("admin", Role.LDC_ADMIN),
    ("backoffice", Role.BACK_OFFICE),
    ("billing", Role.BILLING_AGENT),
    ("ami", Role.AMI_OPERATOR),
)
COORDINATOR_EMAIL = "coordinator@sme.example"
CUSTOMER_EMAIL = "customer@home.example"
DEMO_MOVE_IN = dt.date(2020, 1, 1)  # before the demo reads: the demo accounts see them all
POSTAL_PREFIXES = ("M5V", "M4C", "L5B", "K1A", "N2L", "P3E", "L4N", "K7L")


def demo_totp_code() -> str:
    """The current six-digit code of the demo TOTP secret."""
    import time

    return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, int(time.time()) // 30))


def _user(email: str, full_name: str, *, totp: bool) -> Any:
    user, created = User.objects.get_or_create(email=email, defaults={"full_name": full_name})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    if totp and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
    return user


def _member(user: Any, ldc: LDC | None, role: str) -> None:
    Membership.objects.get_or_create(user=user, defaults={"ldc": ldc, "role": role})


def _registry_rows(spec: DemoLdc, rng: random.Random) -> list[tuple[int, dict[str, str]]]:
    rows = []
    prefix = spec.slug[:2].upper()
    for i in range(1, spec.sdps + 1):
        gs = i % 7 == 0
        letter = rng.choice("ABCEGHJKLMNPRSTVXY")
        pc = f"{rng.choice(POSTAL_PREFIXES)} {rng.randint(1, 9)}{letter}{rng.randint(1, 9)}"
        rows.append(
            (
                i + 1,
                {
                    "sdp_id": f"{prefix}-SDP-{i:05d}",
                    "meter_id": f"{prefix}-MTR-{i:05d}",
                    "rate_class": "gs_lt_50" if gs else "residential",
                    "commodity_rate_class": "tou" if i % 5 else ("ulo" if i % 10 else "tiered"),
                    "postal_code": pc,
                    "service_multiplier": "1",
                    "ami_headend": f"{prefix}-AMCC1",
                    "billing_agent": f"{prefix}-CIS",
                    "bidirectional": "true" if i % 23 == 0 else "false",
                    "effective_from": "2025-01-01",
                    "effective_to": "",
                },
            )
        )
    return rows


def _accounts(ldc: LDC) -> None:
    for sdp in ServiceDeliveryPoint.objects.for_ldc(ldc).order_by("sdp_id"):
        number = sdp.sdp_id.replace("SDP", "ACCT")
        account, created = CustomerAccount.objects.get_or_create(
            ldc=ldc, account_number=number, defaults={"postal_code": sdp.postal_code}
        )
        if created:
            account.sdps.add(sdp, through_defaults={"move_in": DEMO_MOVE_IN})


@transaction.atomic
def seed_registry_and_people() -> dict[str, Any]:
    """LDCs, staff, coordinator, customer, registry and accounts."""
    rng = random.Random(2026)  # noqa: S311 - demo data
    for spec in DEMO_LDCS:
        ldc, _ = ldc_create(
            slug=spec.slug,
            name=spec.name,
            oeb_licence=spec.licence,
            residential_customers=spec.residential,
            gs_customers=spec.gs,
            status=spec.status,
            mdmr_org_id=spec.org_id,
        )
        for local, role in STAFF_ROLES:
            _member(
                _user(f"{local}@{spec.slug}.example", f"{spec.name} {local}", totp=True), ldc, role
            )
        registry_sync(ldc=ldc, rows=_registry_rows(spec, rng), actor=None, source="demo registry")
        _accounts(ldc)
    _member(_user(COORDINATOR_EMAIL, "Sam Coordinator", totp=True), None, Role.SME_COORDINATOR)
    customer = _user(CUSTOMER_EMAIL, "Casey Customer", totp=False)
    account = CustomerAccount.objects.get(ldc__slug="northwind", account_number="NO-ACCT-00001")
    AccountLink.objects.get_or_create(user=customer, account=account)
    seed_onboarding()
    return {"ldcs": len(DEMO_LDCS)}


def demo_logins() -> list[tuple[str, str]]:
    """(who, e-mail) of every demo login, for the start-up message and the README."""
    logins = [("SME program coordinator", COORDINATOR_EMAIL), ("customer", CUSTOMER_EMAIL)]
    for spec in DEMO_LDCS[:2]:
        logins += [
            (f"{spec.name}: {role.label}", f"{local}@{spec.slug}.example")
            for local, role in STAFF_ROLES
        ]
    return logins


def seed_demo_dates(days: int) -> tuple[dt.date, dt.date]:
    """The demo's read period: the ``days`` local days up to yesterday."""
    end = timezone.localdate() - dt.timedelta(days=1)
    return end - dt.timedelta(days=days - 1), end


# MDM/R stage of each demo LDC (consistent with its status) and how long ago it entered it:
# Georgian Bay's preparation is late, Lakeshore is part-way through its 21 QT days.
DEMO_STAGES = {
    "northwind": ("production", 120, 1),
    "lakeshore": ("qt", 9, 2),
    "maple-valley": ("development", 40, None),
    "georgian-bay": ("preparation", 45, None),
}


def _staff_actor(ldc: LDC, local: str = "admin") -> Any:
    from portal.access import actor_for_user

    return actor_for_user(User.objects.get(email=f"{local}@{ldc.slug}.example"))


def seed_onboarding() -> None:
    """Stages consistent with each LDC's status, GUI training, enrollment groups (idempotent:
    each part is seeded only where it is missing)."""
    from ldc.models import LdcStage

    now = timezone.now()
    for slug, (stage, days_in, wave) in DEMO_STAGES.items():
        ldc = LDC.objects.get(slug=slug)
        if LdcStage.objects.for_ldc(ldc).exists():
            continue
        ldc.stage, ldc.enrollment_wave = stage, wave
        ldc.stage_entered_at = now - dt.timedelta(days=days_in)
        ldc.save(update_fields=["stage", "enrollment_wave", "stage_entered_at"])
        _seed_stage_work(ldc)
    _seed_training()
    _seed_groups(LDC.objects.get(slug="northwind"))


def _seed_stage_work(ldc: LDC) -> None:
    """Some checklist work done and owned in the current stage; QT days run so far passed."""
    from ldc import stages

    stages.stages_ensure(ldc=ldc)
    current = stages.current_stage(ldc)
    if current is None or ldc.stage == "production":
        return
    admin = _staff_actor(ldc)
    items = list(current.items.all())
    for item in items[: len(items) // 2 + 1]:
        stages.checklist_item_update(item=item, status="done", owner=admin.user, actor=admin)
    today = timezone.localdate()
    for day in current.test_days.filter(day__lt=today):
        result = "failed" if day.number == 3 else "passed"
        note = "CIS rejected 12 billing quantities; fixed next day" if day.number == 3 else ""
        stages.test_day_record(test_day=day, result=result, note=note, actor=admin)


def _seed_training() -> None:
    """A past GUI course Northwind's staff completed, and upcoming sessions of every course."""
    from ldc.models import Course, TrainingRegistration, TrainingSession

    if TrainingSession.objects.exists():
        return
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    gui = Course.objects.get(code="gui-step-by-step")
    past = TrainingSession.objects.create(
        course=gui, starts_at=now - dt.timedelta(days=150), place="SME offices, Toronto"
    )
    for local, _ in STAFF_ROLES:
        user = User.objects.get(email=f"{local}@northwind.example")
        TrainingRegistration.objects.create(
            ldc=LDC.objects.get(slug="northwind"),
            session=past,
            user=user,
            attended=True,
            completed_at=past.starts_at + dt.timedelta(hours=3),
        )
    upcoming = (
        ("introduction", 6, "Online", True, 40),
        ("gui-step-by-step", 9, "SME offices, Toronto — room 4", False, 16),
        ("vee-exceptions", 13, "Online", True, 30),
        ("billing-quantities", 20, "SME offices, Toronto — room 2", False, 16),
        ("gui-step-by-step", 27, "Online", True, 24),
    )
    for code, days, place, online, capacity in upcoming:
        TrainingSession.objects.create(
            course=Course.objects.get(code=code),
            starts_at=now + dt.timedelta(days=days),
            place=place,
            online=online,
            capacity=capacity,
        )
    lakeshore_admin = User.objects.get(email="admin@lakeshore.example")
    session = TrainingSession.objects.filter(course=gui, starts_at__gt=now).first()
    TrainingRegistration.objects.create(
        ldc=LDC.objects.get(slug="lakeshore"), session=session, user=lakeshore_admin
    )


def _seed_groups(ldc: LDC) -> None:
    """Northwind (in Production): one group on TOU billing, one enrolled, one just created."""
    from ldc import enrollment
    from ldc.models import EnrollmentGroup

    if EnrollmentGroup.objects.for_ldc(ldc).exists():
        return
    admin = _staff_actor(ldc)
    today = timezone.localdate()
    first = enrollment.group_create_from_filter(
        ldc=ldc, spec=enrollment.SdpFilter(postal_prefix="M5V"), actor=admin
    )
    enrollment.group_mark_registered(group=first, actor=admin)
    enrollment.group_enroll(group=first, on=today - dt.timedelta(days=60), actor=admin)
    enrollment.group_educate(
        group=first, on=today - dt.timedelta(days=50), channel="Letter", actor=admin
    )
    enrollment.group_set_tou_start(group=first, start=today - dt.timedelta(days=30), actor=admin)
    second = enrollment.group_create_from_filter(
        ldc=ldc, spec=enrollment.SdpFilter(rate_class="gs_lt_50"), actor=admin
    )
    enrollment.group_mark_registered(group=second, actor=admin)
    enrollment.group_enroll(group=second, on=today - dt.timedelta(days=5), actor=admin)
    enrollment.group_create_from_filter(
        ldc=ldc, spec=enrollment.SdpFilter(postal_prefix="K1A"), actor=admin
    )


READ_LDCS = ("northwind", "lakeshore")


def seed_reads(*, days: int, log: Any = print) -> str:
    """Daily CMEP drops for the LDCs past registration, through the real ingestion pipeline."""
    import io
    import tempfile
    from pathlib import Path

    import numpy as np

    from meters.models import Meter, ReadFile
    from meters.reads.ingest import read_file_ingest, read_file_receive
    from meters.reads.synthetic import hourly_shape, write_cmep_day

    first, last = seed_demo_dates(days)
    loaded = 0
    for slug in READ_LDCS:
        ldc = LDC.objects.get(slug=slug)
        serials = list(
            Meter.objects.for_ldc(ldc).order_by("serial").values_list("serial", flat=True)
        )
        seed = sum(map(ord, slug))
        shape = hourly_shape(np.random.default_rng(seed), len(serials))
        with tempfile.TemporaryDirectory() as tmp:
            for d in range((last - first).days + 1):
                day = first + dt.timedelta(days=d)
                path = Path(tmp) / f"{slug}_cmep_{day:%Y%m%d}.txt"
                with path.open("w", newline="\n") as out:
                    # Seeded by LDC and day: seeding again on a later day re-sends identical files.
                    write_cmep_day(
                        out, serials, day, shape, np.random.default_rng([seed, day.toordinal()])
                    )
                with path.open("rb") as stream:
                    read_file, created = read_file_receive(
                        ldc=ldc,
                        interface="cmep",
                        upload=io.BytesIO(stream.read()),
                        name=path.name,
                        actor=None,
                        via="demo head-end",
                        queue=False,
                    )
                if created:
                    read_file = read_file_ingest(read_file=read_file)
                    loaded += read_file.intervals_accepted
        log(f"  {ldc.name}: {days} daily CMEP files for {len(serials)} meters")
    from ldc.sme.rollout import seed_rollout_demo  # weekly snapshots history and a target

    log(f"  {seed_rollout_demo()}")
    files = ReadFile.objects.filter(ldc__slug__in=READ_LDCS).count()
    return f"Reads: {loaded:,} intervals loaded now; {files} read files in the repository."
