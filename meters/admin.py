from django.contrib import admin

from meters import models
from portal.admin_site import ReadOnlyScopedAdmin, ScopedAdmin


@admin.register(models.ServiceDeliveryPoint)
class SdpAdmin(ScopedAdmin):
    list_display = ["sdp_id", "rate_class", "commodity_rate_class", "postal_code", "status"]
    search_fields = ["sdp_id", "postal_code"]
    list_filter = ["rate_class", "commodity_rate_class", "status"]


@admin.register(models.Meter)
class MeterAdmin(ScopedAdmin):
    list_display = ["serial", "manufacturer", "headend"]
    search_fields = ["serial"]


for _model in (models.AmiHeadend, models.BillingAgent, models.BillingCycle):
    admin.site.register(_model, ScopedAdmin)

for _model in (models.MeterInstallation, models.SdpHeadend, models.SdpBillingAgent):
    admin.site.register(
        _model, ScopedAdmin, list_display=["__str__", "effective_from", "effective_to"]
    )

# IntervalDay is not here: Django's admin cannot show a model keyed by a composite primary key
# (its days are on the meter pages and in export_intervals).
for _model in (
    models.ReadFile,
    models.ReadRejection,
    models.IntervalDayVersion,
    models.RegisterRead,
):
    admin.site.register(_model, ReadOnlyScopedAdmin)
