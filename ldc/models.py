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
