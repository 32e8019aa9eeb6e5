"""The tenant (an LDC), who belongs to it and with which role, and its machine API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy import TenantModel


class Role(models.TextChoices):
    """What a member may do; customers are not members (they link accounts)."""

    SME_COORDINATOR = "sme_coordinator", "SME program coordinator"
    LDC_ADMIN = "ldc_admin", "LDC administrator"
    BACK_OFFICE = "back_office", "LDC back office"
    BILLING_AGENT = "billing_agent", "Billing agent"
    AMI_OPERATOR = "ami_operator", "AMI operator"


LDC_ROLES = (Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT, Role.AMI_OPERATOR)


class LDC(models.Model):
    """A Local Distribution Company: the utility that owns the meters, and a tenant here."""

    class Status(models.TextChoices):
        REGISTERING = "registering", "Registering"
        TESTING = "testing", "Testing (SIT/QT)"
        CUTOVER = "cutover", "Cut-over"
        PRODUCTION = "production", "Production"
        INACTIVE = "inactive", "Inactive"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    oeb_licence = models.CharField("OEB licence number", max_length=40, blank=True)
    mdmr_org_id = models.CharField(
        "MDM/R organisation id", max_length=40, blank=True, help_text="Assigned by the SME."
    )
    residential_customers = models.PositiveIntegerField(default=0)
    gs_customers = models.PositiveIntegerField(
        "small general-service customers", default=0, help_text="General service under 50 kW."
    )
    time_zone = models.CharField(max_length=64, default="America/Toronto")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REGISTERING)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "LDC"
        verbose_name_plural = "LDCs"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def customer_base(self) -> int:
        return self.residential_customers + self.gs_customers


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_ldc(self, ldc: LDC | int | None) -> MembershipQuerySet:
        return self.none() if ldc is None else self.filter(ldc=ldc)


class Membership(models.Model):
    """A user's organisation and role: an LDC's staff, or (no LDC) an SME coordinator."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    ldc = models.ForeignKey(LDC, null=True, blank=True, on_delete=models.PROTECT)
    role = models.CharField(max_length=30, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="coordinator_has_no_ldc",
                condition=(models.Q(role="sme_coordinator", ldc__isnull=True))
                | (~models.Q(role="sme_coordinator") & models.Q(ldc__isnull=False)),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}{f' at {self.ldc}' if self.ldc else ''}"


TOKEN_PREFIX = "omdr"  # noqa: S105 - a public marker, not a secret


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(TenantModel):
    """A machine client's key (CIS, AMI head-end) for one LDC, with a role. Only a hash is kept."""

    name = models.CharField(max_length=100)
    role = models.CharField(
        max_length=30, choices=[(r.value, r.label) for r in LDC_ROLES], default=Role.AMI_OPERATOR
    )
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def new_key() -> tuple[str, str, str]:
        """A fresh (key_id, secret, full key); the full key is shown once, never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return key_id, secret, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def set_secret(self, secret: str) -> None:
        self.key_hash = _hash_key(secret)

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.key_hash, _hash_key(secret))
