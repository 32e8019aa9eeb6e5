from __future__ import annotations

from typing import Any

from django import forms

from billing.models import Plan
from billing.prices import PRICE_NAMES

PLAN_CHOICES = [("", "The SDP's own plan"), *Plan.choices]


class BillingRequestForm(forms.Form):
    """An SDP and a billing period (local dates, inclusive)."""

    sdp_id = forms.CharField(label="SDP id", max_length=60)
    start = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    plan = forms.ChoiceField(choices=PLAN_CHOICES, required=False, label="Price plan")


class BillingBatchForm(forms.Form):
    """A billing cycle and a period."""

    cycle = forms.ChoiceField(label="Billing cycle")
    start = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, cycles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cycle"].choices = [(c, c) for c in cycles]


class PriceSetForm(forms.Form):
    """OEB prices (¢/kWh) of every plan from one date on, with their source."""

    effective = forms.DateField(
        label="Effective from", widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.CharField(max_length=300, help_text="The OEB RPP Price Report or news release")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for plan, names in PRICE_NAMES.items():
            for name in names:
                self.fields[f"{plan}__{name}"] = forms.DecimalField(
                    label=f"{plan.upper()} {name.replace('_', ' ')} (¢/kWh)",
                    min_value=0,
                    max_digits=6,
                    decimal_places=2,
                )

    def cents_per_kwh(self) -> dict[str, dict[str, float]]:
        return {
            plan: {name: float(self.cleaned_data[f"{plan}__{name}"]) for name in names}
            for plan, names in PRICE_NAMES.items()
        }

    @staticmethod
    def initial_from(cents_per_kwh: dict[str, dict[str, float]]) -> dict[str, Any]:
        return {
            f"{plan}__{name}": value
            for plan, prices in cents_per_kwh.items()
            for name, value in prices.items()
        }
