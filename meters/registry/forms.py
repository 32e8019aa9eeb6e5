from django import forms


class RegistryUploadForm(forms.Form):
    file = forms.FileField(
        label="Registry CSV",
        help_text="Columns: sdp_id, meter_id, rate_class, commodity_rate_class, "
        "postal_code, service_multiplier, ami_headend, billing_agent, "
        "bidirectional, effective_from, effective_to; optional: meter_type, seal_year, "
        "tou_billing_from, billing_cycle",
    )


class BillingCycleForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="As the registry file's billing_cycle column")
    name = forms.CharField(max_length=200, required=False)
    read_day = forms.IntegerField(
        min_value=1,
        max_value=31,
        help_text="Day of the month a period ends (a shorter month ends on its last day)",
    )
