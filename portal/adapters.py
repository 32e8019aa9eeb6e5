"""django-allauth adapter: a sign-in a few minutes old counts as recent for two-factor set-up."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

FRESH_LOGIN_SECONDS = 300


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """The address the login lockout counts: the client's behind the trusted proxies
        (portal.middleware.client_address), never the proxy's; a request that names fewer
        proxies than configured counts by REMOTE_ADDR instead of failing."""
        from portal.middleware import client_address

        ip = client_address(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Staff are sent to enrol TOTP right after signing in: asking for the password again
        there would only be friction. Other sensitive operations keep allauth's rule."""
        request = getattr(self, "request", None)
        if app == "allauth.mfa" and request is not None and request.user.is_authenticated:
            records = get_authentication_records(request, request.user)
            if records and time.time() - records[-1].get("at", 0) < FRESH_LOGIN_SECONDS:
                return False
        return super().is_reauthentication_required(app=app, **kwargs)
