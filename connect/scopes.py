"""ESPI scope strings (the OAuth scope of Green Button Connect My Data) and the toolkit's scopes
backend: a third party may ask only for what its LDC registered it for.

The scope grammar is ESPI's Function Block list (NAESB REQ.21; the Green Button Alliance's
"Function Blocks" page, greenbuttonalliance.org/function-blocks):
FB_1 common, FB_3 core Connect My Data, FB_4 interval metering, FB_5 interval electricity,
FB_13 security and privacy, FB_14 OAuth authorisation, FB_15/16 usage summary (with cost),
FB_39 notification (push) of new data. One scope string is one OAuth scope token (no spaces).
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import BaseScopes

HISTORY_S = 2 * 365 * 86_400  # O. Reg. 633/21 s. 3: at least 24 months of history
_COMMON = f"IntervalDuration=900_3600;BlockDuration=daily;HistoryLength={HISTORY_S}"
USAGE = f"FB=1_3_4_5_13_14_39;{_COMMON}"
BILLING = f"FB=1_3_13_14_15_16_39;{_COMMON}"
USAGE_AND_BILLING = f"FB=1_3_4_5_13_14_15_16_39;{_COMMON}"
SCOPES = {
    USAGE: "Your hourly electricity use",
    BILLING: "Your billing summaries (use and cost per billing period)",
    USAGE_AND_BILLING: "Your hourly electricity use and your billing summaries",
}


def scope_for(*, usage: bool, billing: bool) -> str:
    if usage and billing:
        return USAGE_AND_BILLING
    return USAGE if usage else BILLING


def what_of(scope: str) -> tuple[bool, bool]:
    """(usage, billing) a scope string asks for."""
    blocks = set(scope.partition(";")[0].removeprefix("FB=").split("_"))
    return "4" in blocks, "16" in blocks


def allowed_for(application: Any) -> list[str]:
    """The scopes a third party may ask for: those its LDC registered it for."""
    party = getattr(application, "third_party", None)
    if party is None:
        return []
    if party.may_usage and party.may_billing:
        return [USAGE, BILLING, USAGE_AND_BILLING]
    return [USAGE] if party.may_usage else [BILLING] if party.may_billing else []


class EspiScopes(BaseScopes):
    """django-oauth-toolkit scopes backend (OAUTH2_PROVIDER["SCOPES_BACKEND_CLASS"])."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return allowed_for(application) if application is not None else list(SCOPES)

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return allowed_for(application)[:1] if application is not None else [USAGE]
