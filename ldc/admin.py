from django.contrib import admin

from ldc.models import (
    ChecklistItem,
    Course,
    EnrollmentGroup,
    Evidence,
    LdcStage,
    Organisation,
    OrganisationStaff,
    SmcRate,
    TestDay,
    TrainingRegistration,
    TrainingSession,
)
from portal.admin_site import ReadOnlyScopedAdmin, SuperuserAdmin
from portal.tenancy import LDC, Membership
from portal.tokens import ApiToken


@admin.register(LDC)
class LdcAdmin(SuperuserAdmin):
    list_display = ["name", "slug", "status", "mdmr_org_id", "residential_customers"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(ReadOnlyScopedAdmin):
    """Roles change through the Members page, which audits them."""

    list_display = ["user", "ldc", "role", "created_at"]
    list_filter = ["role"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyScopedAdmin):
    """Tokens are created on the API tokens page (the key is shown once there)."""

    list_display = ["name", "ldc", "role", "key_id", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]


# MDM/R stages, enrollment groups and training change through their services (audited), so the
# admin shows them read-only; courses and sessions belong to the SME (superusers).


@admin.register(LdcStage)
class LdcStageAdmin(ReadOnlyScopedAdmin):
    list_display = ["ldc", "stage", "status", "started_at", "due_date", "decided_at"]
    list_filter = ["stage", "status"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(ReadOnlyScopedAdmin):
    list_display = ["title", "ldc", "ldc_stage", "owner", "due_date", "status"]
    list_filter = ["status"]


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyScopedAdmin):
    list_display = ["original_name", "ldc", "item", "size_bytes", "sha256", "uploaded_at"]


@admin.register(TestDay)
class TestDayAdmin(ReadOnlyScopedAdmin):
    list_display = ["ldc", "ldc_stage", "number", "day", "result", "recorded_at"]
    list_filter = ["result"]


@admin.register(EnrollmentGroup)
class EnrollmentGroupAdmin(ReadOnlyScopedAdmin):
    list_display = ["__str__", "ldc", "status", "enrolled_at", "tou_billing_start"]
    list_filter = ["status"]


@admin.register(TrainingRegistration)
class TrainingRegistrationAdmin(ReadOnlyScopedAdmin):
    list_display = ["user", "ldc", "session", "attended", "completed_at"]


@admin.register(Course)
class CourseAdmin(SuperuserAdmin):
    list_display = ["title", "code", "duration_minutes", "required_for_write", "position"]


@admin.register(TrainingSession)
class TrainingSessionAdmin(SuperuserAdmin):
    list_display = ["course", "starts_at", "place", "online", "capacity"]


@admin.register(Organisation)
class OrganisationAdmin(SuperuserAdmin):
    """Billing agents and AMI service providers (#23); LDCs delegate to them on /ldc/records/."""

    list_display = ["name", "kind", "code"]
    list_filter = ["kind"]


@admin.register(OrganisationStaff)
class OrganisationStaffAdmin(SuperuserAdmin):
    list_display = ["user", "organisation"]


@admin.register(SmcRate)
class SmcRateAdmin(SuperuserAdmin):
    """OEB-approved Smart Metering Charge rates (data with source, ldc/charges.py)."""

    list_display = ["effective_from", "effective_to", "rate", "decision"]
