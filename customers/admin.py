from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from customers.models import AccountLink, AccountSdp, CustomerAccount, CustomerInvitation
from portal.access import actor_for_user
from portal.admin_site import ScopedAdmin, SuperuserAdmin


class OccupancyInline(admin.TabularInline):  # type: ignore[type-arg]
    """The account's SDPs with move-in and move-out dates (an LDC admin picks only theirs)."""

    model = AccountSdp
    extra = 0
    autocomplete_fields: list[str] = []
    fields = ["sdp", "move_in", "move_out"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "sdp" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.for_ldc(
                actor_for_user(request.user).ldc
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(CustomerAccount)
class CustomerAccountAdmin(ScopedAdmin):
    list_display = ["account_number", "postal_code", "created_at"]
    search_fields = ["account_number"]
    inlines = [OccupancyInline]


@admin.register(AccountLink)
class AccountLinkAdmin(SuperuserAdmin):
    list_display = ["user", "account", "linked_at"]


@admin.register(CustomerInvitation)
class CustomerInvitationAdmin(ScopedAdmin):
    list_display = ["email", "account", "created_at", "expires_at", "accepted_at"]
    search_fields = ["email"]
    readonly_fields = ["token_hash", "accepted_at", "accepted_by", "created_by"]
    ldc_admin_can_add = False  # invitations are made by the service (token, e-mail, audit)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
