from django.contrib import admin

from billing import models
from portal.admin_site import ReadOnlyScopedAdmin, SuperuserAdmin


@admin.register(models.OebPriceSet)
class OebPriceSetAdmin(SuperuserAdmin):
    """Read here; coordinators edit prices on the billing prices page (audited)."""

    list_display = ["effective", "source", "updated_at"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(models.BillingQuantityRequest)
class BillingQuantityRequestAdmin(ReadOnlyScopedAdmin):
    list_display = ["sdp", "start", "end", "plan", "status", "created_at"]
    list_filter = ["status", "plan"]


@admin.register(models.BillingQuantity)
class BillingQuantityAdmin(ReadOnlyScopedAdmin):
    list_display = ["request", "meter", "version", "status", "total_kwh", "quality"]
    list_filter = ["status", "quality"]


for _model in (models.BillingBatch, models.ReplacementNotice):
    admin.site.register(_model, ReadOnlyScopedAdmin)
