from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from ldc.enrollment import CHANNELS, STEP_LABELS
from ldc.models import ChecklistItem, Course, TestDay
from meters.models import BillingCycle, CommodityRateClass, RateClass
from portal.tenancy import LDC, LDC_ROLES

User = get_user_model()

ROLE_CHOICES = [(r.value, r.label) for r in LDC_ROLES]


class MemberAddForm(forms.Form):
    """Give a person access to the LDC with a role."""

    email = forms.EmailField()
    full_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class TokenCreateForm(forms.Form):
    """A token for one of the LDC's systems (CIS, AMI head-end)."""

    name = forms.CharField(max_length=100, help_text="Which system uses it, e.g. 'CIS billing'.")
    role = forms.ChoiceField(choices=ROLE_CHOICES)


# ---------------------------------------------------------------------------------------------
# MDM/R stages, enrollment groups, GUI training


class ChecklistItemForm(forms.Form):
    """Status, owner, due date and note of a checklist item."""

    status = forms.ChoiceField(choices=ChecklistItem.Status.choices)
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="(nobody)")
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, ldc: LDC, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(membership__ldc=ldc).order_by("email")


class EvidenceForm(forms.Form):
    file = forms.FileField(help_text="A document of up to 10 MB (PDF, spreadsheet, image…).")


class TestDayForm(forms.Form):
    result = forms.ChoiceField(choices=TestDay.Result.choices)
    note = forms.CharField(required=False, max_length=2000)


class GroupFilterForm(forms.Form):
    """A new enrollment group of every free SDP matching the filter."""

    name = forms.CharField(max_length=120, required=False, help_text="Blank: 'Customer group n'.")
    rate_class = forms.ChoiceField(choices=[("", "Any")] + RateClass.choices, required=False)
    commodity_rate_class = forms.ChoiceField(
        choices=[("", "Any")] + CommodityRateClass.choices, required=False
    )
    postal_prefix = forms.CharField(
        max_length=7,
        required=False,
        help_text="e.g. 'M5V' or 'K1'",
        label="Postal code starts with",
    )
    billing_cycle = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any")

    def __init__(self, *args: Any, ldc: LDC, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["billing_cycle"].queryset = BillingCycle.objects.for_ldc(ldc)


class GroupUploadForm(forms.Form):
    """A new enrollment group of the SDP ids listed in a CSV file (one per row)."""

    name = forms.CharField(max_length=120, required=False, help_text="Blank: 'Customer group n'.")
    file = forms.FileField(
        help_text="CSV: one SDP id per row in the first column; header optional."
    )


class GroupStepForm(forms.Form):
    """Record one step of a group."""

    step = forms.ChoiceField(choices=[(k, v) for k, v in STEP_LABELS.items()])
    on = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in CHANNELS], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("step") != "registered" and not data.get("on"):
            self.add_error("on", "Give the date of this step.")
        if data.get("step") == "educated" and not data.get("channel"):
            self.add_error("channel", "Say how the customers were told.")
        return data


class StageReturnForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class WaveForm(forms.Form):
    enrollment_wave = forms.IntegerField(min_value=1, max_value=99, required=False)


class OrgIdForm(forms.Form):
    mdmr_org_id = forms.CharField(max_length=40, label="MDM/R organisation id")


class SessionForm(forms.Form):
    """A coordinator schedules a training session."""

    course = forms.ModelChoiceField(queryset=Course.objects.all())
    starts_at = forms.DateTimeField(
        label="Starts at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    place = forms.CharField(max_length=200, required=False, help_text="A room, or blank if online.")
    online = forms.BooleanField(required=False)
    capacity = forms.IntegerField(min_value=1, max_value=500, initial=20)


class AttendanceForm(forms.Form):
    """Attendance must be said explicitly (an empty POST changes nothing)."""

    attended = forms.ChoiceField(choices=[("yes", "Attended"), ("no", "Did not attend")])
    completed = forms.BooleanField(required=False)
