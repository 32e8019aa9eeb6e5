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
from ldc.models import LDC, Membership, Role
from ldc.services import ldc_create
from meters.models import ServiceDeliveryPoint
from meters.registry import registry_sync

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
            account.sdps.add(sdp)


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


READ_LDCS = ("northwind", "lakeshore")


def seed_reads(*, days: int, log: Any = print) -> str:
    """Daily CMEP drops for the LDCs past registration, through the real ingestion pipeline."""
    import io
    import tempfile
    from pathlib import Path

    import numpy as np

    from meters.models import Meter, ReadFile
    from meters.services import read_file_ingest, read_file_receive
    from meters.synthetic import hourly_shape, write_cmep_day

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
    files = ReadFile.objects.filter(ldc__slug__in=READ_LDCS).count()
    return f"Reads: {loaded:,} intervals loaded now; {files} read files in the repository."
