import calendar
import datetime as dt
from typing import Any

from django import forms

from customers.greenbutton import MAX_MONTHS
from portal.tenancy import LDC


class LinkAccountForm(forms.Form):
    """What a customer types from their bill to link an account."""

    ldc = forms.ModelChoiceField(
        queryset=LDC.objects.all(), label="Your utility", empty_label="Choose your utility"
    )
    account_number = forms.CharField(max_length=40, label="Account number")
    sdp_id = forms.CharField(
        max_length=60, label="Service point id", help_text="Printed on your bill as 'SDP'."
    )
    bill_code = forms.CharField(
        max_length=16,
        label="Bill code",
        help_text="The one-time code printed on your latest bill (8 letters and digits). "
        "No bill code? Ask your utility to e-mail you an invitation.",
    )


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


class DownloadForm(forms.Form):
    """Green Button Download My Data: a range of up to 24 months, ESPI XML or CSV."""

    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)")
    format = forms.ChoiceField(
        choices=[("xml", "Green Button (ESPI XML)"), ("csv", "CSV (spreadsheet)")],
        label="Format",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if end >= add_months(start, MAX_MONTHS):
                raise forms.ValidationError(f"Choose at most {MAX_MONTHS} months at a time.")
        return data


class WhatIfForm(forms.Form):
    """Move a share of on-peak use to a cheaper period."""

    share = forms.IntegerField(min_value=0, max_value=100, initial=20, label="Share moved (%)")
    target = forms.ChoiceField(
        choices=[
            ("off_peak", "to off-peak (time-of-use plan)"),
            ("ultra_low_overnight", "to overnight (ultra-low overnight plan)"),
        ],
        label="Moved",
    )


class InvitationForm(forms.Form):
    """LDC staff invite a customer by e-mail to link one of the LDC's accounts."""

    account_number = forms.CharField(max_length=40, label="Account number")
    email = forms.EmailField(label="Customer's e-mail address")
