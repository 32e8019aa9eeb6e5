"""The LDC's MDM/R registration and enrollment records: stages with checklists and evidence,
SIT/QT test days, enrollment groups, GUI training.

The tenant itself (LDC, Membership, roles and stages) and API tokens are ldc's models too, defined
in the foundation (``portal.tenancy``, ``portal.tokens``) and imported here so that Django and
``ldc.models`` readers find every model of the app in one place.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy import LDC, LDC_ROLES, STAGE_ORDER, Membership, Role, Stage, TenantModel
from portal.tokens import TOKEN_PREFIX, ApiToken

__all__ = [
    "LDC",
    "LDC_ROLES",
    "STAGE_ORDER",
    "TOKEN_PREFIX",
    "ApiToken",
    "Membership",
    "Role",
    "Stage",
]


# ---------------------------------------------------------------------------------------------
# MDM/R registration and enrollment: stages with checklists, enrollment groups, GUI training.


class LdcStage(TenantModel):
    """One LDC's passage through one stage: submitted by the LDC, signed off by the SME."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted for sign-off"
        RETURNED = "returned", "Returned by the SME"
        SIGNED_OFF = "signed_off", "Signed off"

    stage = models.CharField(max_length=20, choices=Stage.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_STARTED)
    started_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    return_reason = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc", "stage"], name="one_ldc_stage")]
        ordering = ["ldc", "id"]

    def __str__(self) -> str:
        return f"{self.ldc_id}: {self.get_stage_display()}"

    @property
    def position(self) -> int:
        return STAGE_ORDER.index(self.stage)


class ChecklistItem(TenantModel):
    """A task of a stage with its owner, due date and status; evidence hangs off it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        NOT_APPLICABLE = "n/a", "Not applicable"

    ldc_stage = models.ForeignKey(LdcStage, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["ldc_stage", "position", "id"]

    def __str__(self) -> str:
        return self.title


class Evidence(TenantModel):
    """A document uploaded as evidence for a checklist item (kept, never overwritten)."""

    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to="evidence/%Y/%m/")
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.original_name


class TestDay(TenantModel):
    """One day of System Integration Testing (10 business days) or Qualification Testing (21)."""

    class Result(models.TextChoices):
        NOT_RUN = "not_run", "Not run"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    ldc_stage = models.ForeignKey(LdcStage, on_delete=models.CASCADE, related_name="test_days")
    number = models.PositiveSmallIntegerField()
    day = models.DateField()
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.NOT_RUN)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ldc_stage", "number"], name="one_test_day_number")
        ]
        ordering = ["ldc_stage", "number"]

    def __str__(self) -> str:
        return f"day {self.number} ({self.day})"


class EnrollmentGroup(TenantModel):
    """'Customer group n': SDPs enrolled together, with the steps towards TOU billing."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETE = "complete", "Complete"
        CANCELLED = "cancelled", "Cancelled"

    number = models.PositiveIntegerField()
    name = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    registered_at = models.DateTimeField(null=True, blank=True)  # all SDPs registered
    enrolled_at = models.DateTimeField(null=True, blank=True)  # enrolled in the repository
    educated_on = models.DateField(null=True, blank=True)  # letters / e-mails sent
    education_channel = models.CharField(max_length=60, blank=True)
    tou_billing_start = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc", "number"], name="one_group_number")]
        ordering = ["ldc", "number"]

    def __str__(self) -> str:
        return self.name or f"Customer group {self.number}"


class EnrollmentGroupSdp(TenantModel):
    """An SDP in a group; ``active`` mirrors the group so an SDP is in one active group at most."""

    group = models.ForeignKey(EnrollmentGroup, on_delete=models.CASCADE, related_name="members")
    sdp = models.ForeignKey(
        "meters.ServiceDeliveryPoint", on_delete=models.PROTECT, related_name="group_memberships"
    )
    active = models.BooleanField(default=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "sdp"], name="one_sdp_per_group"),
            models.UniqueConstraint(
                fields=["sdp"], condition=models.Q(active=True), name="one_active_group_per_sdp"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sdp_id} in {self.group_id}"


class Course(models.Model):
    """A GUI training course the SME offers to every LDC's staff."""

    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(default=120)
    required_for_write = models.BooleanField(
        default=False, help_text="Completing it is needed for write access to production data."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.title


class TrainingSession(models.Model):
    """A scheduled session of a course, in a room or online, with a capacity."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField()
    place = models.CharField(max_length=200, help_text="A room, or 'Online'.")
    online = models.BooleanField(default=False)
    capacity = models.PositiveIntegerField(default=20)

    class Meta:
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.course} — {self.starts_at:%Y-%m-%d %H:%M}"


class TrainingRegistration(TenantModel):
    """A staff member's seat in a session, then their attendance and completion."""

    session = models.ForeignKey(
        TrainingSession, on_delete=models.PROTECT, related_name="registrations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training"
    )
    registered_at = models.DateTimeField(default=timezone.now)
    attended = models.BooleanField(null=True, blank=True)  # null until recorded
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_seat_per_session")
        ]
        ordering = ["session__starts_at"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.session}"


# ---------------------------------------------------------------------------------------------
# The Smart Metering Charge (SMC): the OEB-approved charge per meter per month the SME (IESO)
# levies on every LDC to recover the MDM/R's costs, billed on the IESO settlement statement
# under charge type 9980 'Smart Metering Charge' (IESO news, 2023-09-14, "Smart Metering Charge
# Rebate for 2022"). Services and the statement rule: ldc/charges.py.


class SmcRate(models.Model):
    """One OEB-approved SMC rate, valid on ``[effective_from, effective_to]`` (open while null)."""

    effective_from = models.DateField(unique=True)
    effective_to = models.DateField(null=True, blank=True)
    rate = models.DecimalField(max_digits=6, decimal_places=4, help_text="$ per meter per month")
    decision = models.CharField(max_length=40, blank=True, help_text="OEB case number")
    source = models.TextField(
        help_text="Where the rate and dates come from (and what is unverified)"
    )

    class Meta:
        ordering = ["effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="smc_rate_dates_in_order",
            )
        ]

    def __str__(self) -> str:
        return f"${self.rate}/meter/month from {self.effective_from}"


class SmcStatement(TenantModel):
    """An LDC's Smart Metering Charge for one month (one row per LDC and month)."""

    month = models.DateField(help_text="First day of the month")
    meters = models.PositiveIntegerField()
    rate = models.DecimalField(max_digits=6, decimal_places=4)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    charge_type = models.CharField(max_length=10, default="9980")
    smc_rate = models.ForeignKey(SmcRate, on_delete=models.PROTECT, related_name="statements")
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "ldc__slug"]
        constraints = [
            models.UniqueConstraint(fields=["ldc", "month"], name="smc_statement_once_a_month")
        ]

    def __str__(self) -> str:
        return f"SMC {self.month:%Y-%m} {self.ldc_id}: {self.meters} x ${self.rate}"


class SmcRebate(TenantModel):
    """An LDC's share of the SME's operating surplus for a year, shared by meter count."""

    year = models.PositiveSmallIntegerField()
    surplus = models.DecimalField(max_digits=14, decimal_places=2, help_text="The whole surplus")
    meters = models.PositiveIntegerField(help_text="The LDC's meters on the year's last day")
    total_meters = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    charge_type = models.CharField(max_length=10, default="9980")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year", "ldc__slug"]
        constraints = [
            models.UniqueConstraint(fields=["ldc", "year"], name="smc_rebate_once_a_year")
        ]


# ---------------------------------------------------------------------------------------------
# The SME's onboarding records of an LDC (its registration and enrollment process names them
# in Preparation: registration application, organisation contacts, delegated authority): the
# application, the contacts by role, and organisations (billing agents, AMI service providers)
# with their own staff that an LDC delegates to (services: ldc/organisations.py).


class RegistrationApplication(TenantModel):
    """The LDC's registration application to the SME (one per LDC)."""

    legal_name = models.CharField(max_length=200)
    oeb_licence = models.CharField("OEB licence number", max_length=40)
    service_area = models.CharField(max_length=200, blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc"], name="one_registration_per_ldc")]

    def __str__(self) -> str:
        return f"Registration of {self.legal_name}"


class OrganisationContact(TenantModel):
    class Role(models.TextChoices):
        PRIMARY = "primary", "Primary"
        TECHNICAL = "technical", "Technical"
        BILLING = "billing", "Billing"
        PRIVACY = "privacy", "Privacy"

    role = models.CharField(max_length=10, choices=Role.choices)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["role", "name"]
        constraints = [
            models.UniqueConstraint(fields=["ldc", "role", "email"], name="one_contact_role_email")
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} contact {self.name}"


class Organisation(models.Model):
    """A billing agent or AMI service provider: its own staff, acting for LDCs that delegate."""

    class Kind(models.TextChoices):
        BILLING_AGENT = "billing_agent", "Billing agent"
        AMI_PROVIDER = "ami_provider", "AMI service provider"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    # The id the LDCs' registries give it (SDP billing_agent / ami_headend code).
    code = models.CharField(max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="one_org_kind_code")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display().lower()})"


class OrganisationStaff(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="staff")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organisation_staff"
    )

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.organisation_id}"


class Delegation(TenantModel):
    """An LDC's delegated authority to an organisation: one scope, on local days [starts, ends]."""

    class Scope(models.TextChoices):
        SDPS_VIEW = "sdps.view", "See the SDPs it serves"
        READS_UPLOAD = "reads.upload", "Deliver read files"
        BILLING_QUANTITIES = "billing.request", "Request billing quantities"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="delegations"
    )
    scope = models.CharField(max_length=30, choices=Scope.choices)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organisation_id", "scope", "starts_on"]

    def __str__(self) -> str:
        return f"{self.ldc_id} -> {self.organisation_id}: {self.scope} from {self.starts_on}"
