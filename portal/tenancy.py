"""Tenancy: the tenant (an LDC), who belongs to it with which role, and the scoping of its rows.

Every tenant-owned row carries ``ldc``; one queryset method scopes it (``for_ldc``). The models
here belong to the ``ldc`` app (``app_label``: their tables and migrations are ldc's, as they
always were) but live in the foundation, so that every app can import the tenant without
importing the LDC's pages, and nothing here imports an app.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone

_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    """The one way to reach tenant data: ``Model.objects.for_ldc(ldc)``."""

    def for_ldc(self, ldc: LDC | int | None) -> TenantQuerySet[_M]:
        if ldc is None:
            return self.none()
        return self.filter(ldc=ldc)


class TenantModel(models.Model):
    """Abstract base of every row owned by one LDC."""

    ldc = models.ForeignKey("ldc.LDC", on_delete=models.PROTECT, related_name="+")

    objects: Any = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Role(models.TextChoices):
    """What a member may do; customers are not members (they link accounts)."""

    SME_COORDINATOR = "sme_coordinator", "SME program coordinator"
    LDC_ADMIN = "ldc_admin", "LDC administrator"
    BACK_OFFICE = "back_office", "LDC back office"
    BILLING_AGENT = "billing_agent", "Billing agent"
    AMI_OPERATOR = "ami_operator", "AMI operator"


LDC_ROLES = (Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT, Role.AMI_OPERATOR)


class Stage(models.TextChoices):
    """The MDM/R registration and enrollment stages, in the order an LDC must pass them."""

    PREPARATION = "preparation", "Preparation"
    DEVELOPMENT = "development", "System and business-process development"
    SIT = "sit", "System integration testing"
    QT = "qt", "Qualification testing"
    BPV = "bpv", "Business process validation"
    SELF_ASSESSMENT = "self_assessment", "Cut-over self-assessment"
    CUTOVER = "cutover", "Cutover"
    PRODUCTION = "production", "Production"


STAGE_ORDER: tuple[str, ...] = tuple(Stage.values)


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
    # Current MDM/R stage (a copy of the first stage not signed off, kept by the stage services
    # so that funnels and tables need no join) and the SME's enrollment wave.
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.PREPARATION)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    enrollment_wave = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "ldc"
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
        app_label = "ldc"
        constraints = [
            models.CheckConstraint(
                name="coordinator_has_no_ldc",
                condition=(models.Q(role="sme_coordinator", ldc__isnull=True))
                | (~models.Q(role="sme_coordinator") & models.Q(ldc__isnull=False)),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}{f' at {self.ldc}' if self.ldc else ''}"
