from django import forms

from ldc.models import LDC_ROLES

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
