from django.contrib import admin

from customers.models import AccountLink, CustomerAccount
from portal.admin_site import ScopedAdmin, SuperuserAdmin


@admin.register(CustomerAccount)
class CustomerAccountAdmin(ScopedAdmin):
    list_display = ["account_number", "postal_code", "created_at"]
    search_fields = ["account_number"]
    filter_horizontal = ["sdps"]


@admin.register(AccountLink)
class AccountLinkAdmin(SuperuserAdmin):
    list_display = ["user", "account", "linked_at"]
