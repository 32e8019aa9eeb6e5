from django import forms


class RegistryUploadForm(forms.Form):
    file = forms.FileField(
        label="Registry CSV",
        help_text="Columns: sdp_id, meter_id, rate_class, commodity_rate_class, "
        "postal_code, service_multiplier, ami_headend, billing_agent, "
        "bidirectional, effective_from, effective_to",
    )
