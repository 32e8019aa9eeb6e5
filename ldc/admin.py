from django.contrib import admin

from ldc.models import LDC, ApiToken, Membership
from portal.admin_site import ReadOnlyScopedAdmin, SuperuserAdmin


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
