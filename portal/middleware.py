"""Request context for the audit trail, and two-factor enforcement for staff."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from portal.access import actor_for_user
from portal.audit import audit_context


def client_address(request: HttpRequest) -> str | None:
    """The client's IP; behind the TLS proxy (HTTPS=1) the proxy's X-Forwarded-For is trusted."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.SECURE_PROXY_SSL_HEADER and forwarded:
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Every audit event written while serving a request records the client's address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_context(client_address=client_address(request), via="web"):
            return self.get_response(request)


# Paths a staff member without TOTP may still reach: enrolment itself, logout, static files.
_TWO_FACTOR_EXEMPT = ("/accounts/", "/static/", "/api/")


class StaffTwoFactorMiddleware:
    """LDC staff and SME coordinators must enrol TOTP before they see any data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_enrol(request):
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    def _must_enrol(self, request: HttpRequest) -> bool:
        if not settings.OPENMDMR_STAFF_REQUIRE_TOTP or request.path.startswith(_TWO_FACTOR_EXEMPT):
            return False
        user = request.user
        if not user.is_authenticated or request.session.get("openmdmr_totp_ok"):
            return False
        actor = actor_for_user(user)
        if actor.role is None and not user.is_superuser:
            return False  # customers: two-factor optional
        from allauth.mfa.models import Authenticator

        has_totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        if has_totp:
            request.session["openmdmr_totp_ok"] = True
        return not has_totp
