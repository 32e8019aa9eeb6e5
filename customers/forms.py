from django import forms

from ldc.models import LDC


class LinkAccountForm(forms.Form):
    """What a customer types from their bill to link an account."""

    ldc = forms.ModelChoiceField(
        queryset=LDC.objects.all(), label="Your utility", empty_label="Choose your utility"
    )
    account_number = forms.CharField(max_length=40, label="Account number")
    sdp_id = forms.CharField(
        max_length=60, label="Service point id", help_text="Printed on your bill as 'SDP'."
    )
    check = forms.CharField(
        max_length=16,
        label="Postal code or bill code",
        help_text="The postal code of the premises, or the one-time code printed on your bill.",
    )
