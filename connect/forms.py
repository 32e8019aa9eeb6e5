"""Forms of Connect My Data: the consent page (the toolkit's AllowForm plus the customer's
choices) and the LDC's registration of a third party."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from oauth2_provider.forms import AllowForm

from connect.services import DURATIONS_MONTHS


class ConsentForm(AllowForm):
    """Which of their SDPs the customer shares, and for how long (ESPI authorizedPeriod)."""

    sdps = forms.MultipleChoiceField(
        label="Service points to share",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        required=False,
    )
    months = forms.TypedChoiceField(
        label="For how long",
        coerce=int,
        choices=[(m, f"{m} months" if m > 1 else "1 month") for m in DURATIONS_MONTHS],
        initial=12,
    )

    def __init__(
        self, *args: Any, sdp_choices: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sdps"].choices = sdp_choices or []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("allow") and not data.get("sdps"):
            self.add_error("sdps", "Choose at least one service point to share.")
        return data


def _uris(text: str, field: str) -> list[str]:
    uris = text.split()
    check = URLValidator(schemes=["https", "http"])
    for uri in uris:
        try:
            check(uri)
        except ValidationError:
            raise ValidationError(f"{field}: {uri!r} is not an http(s) URL.") from None
        if uri.startswith("http://") and not uri.startswith(
            ("http://127.0.0.1", "http://localhost")
        ):
            # RFC 6749 s. 3.1.2.1 / RFC 9700 s. 2.6: redirects over TLS, except to this machine.
            raise ValidationError(f"{field}: {uri!r} must use https.")
    return uris


class ThirdPartyForm(forms.Form):
    """An LDC administrator registers a third party."""

    name = forms.CharField(max_length=200)
    contact_name = forms.CharField(max_length=200)
    contact_email = forms.EmailField()
    website = forms.URLField(required=False, assume_scheme="https")
    redirect_uris = forms.CharField(
        label="Redirect URIs",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: where customers are sent back after the consent page.",
    )
    notify_uri = forms.URLField(
        assume_scheme="https",
        label="Notification URI",
        required=False,
        help_text="ESPI thirdPartyNotifyUri: a BatchList is POSTed here when new data arrives.",
    )
    may_usage = forms.BooleanField(label="May ask for interval usage", required=False, initial=True)
    may_billing = forms.BooleanField(label="May ask for billing summaries", required=False)

    def clean_redirect_uris(self) -> list[str]:
        uris = _uris(self.cleaned_data["redirect_uris"], "Redirect URIs")
        if not uris:
            raise ValidationError("Give at least one redirect URI.")
        return uris

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("may_usage") and not data.get("may_billing"):
            raise ValidationError("Allow usage, billing or both.")
        return data
