from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from customers.models import AccountLink, CustomerAccount, CustomerInvitation
from portal.admin_site import ScopedAdmin, SuperuserAdmin


@admin.register(CustomerAccount)
class CustomerAccountAdmin(ScopedAdmin):
    list_display = ["account_number", "postal_code", "created_at"]
    search_fields = ["account_number"]
    filter_horizontal = ["sdps"]


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
