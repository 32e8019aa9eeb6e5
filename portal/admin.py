from django.contrib import admin

from portal.admin_site import ReadOnlyScopedAdmin, SuperuserAdmin
from portal.models import AuditEvent, User


@admin.register(User)
class UserAdmin(SuperuserAdmin):
    list_display = ["email", "full_name", "is_active", "is_superuser", "date_joined"]
    search_fields = ["email", "full_name"]
    exclude = ["password"]
    readonly_fields = ["last_login", "date_joined"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyScopedAdmin):
    list_display = ["at", "actor_label", "ldc", "action", "object_repr", "client_address"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "object_repr"]
