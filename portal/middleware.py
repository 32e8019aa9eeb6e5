"""Request context for the audit trail, two-factor for staff, headers and session policy."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers, patch_vary_headers

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


# Slack over the largest read file for the multipart envelope and the other form fields.
_ENVELOPE_BYTES = 1 << 20


class RequestSizeLimitMiddleware:
    """A body declared larger than the largest read file is refused (413) before it is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = settings.OPENMDMR_MAX_READ_FILE_BYTES
        if declared > limit + _ENVELOPE_BYTES:
            return HttpResponse(
                f"Request body of {declared} bytes is over the limit: a read file may have at "
                f"most {limit} bytes.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Headers Django does not set: Permissions-Policy, and no caching of signed-in pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            # A shared computer's back button or a proxy must not show someone's data.
            add_never_cache_headers(response)
            patch_vary_headers(response, ["Cookie"])
        return response


_LAST_SEEN = "openmdmr_last_seen"
_SIGNED_IN_AT = "openmdmr_signed_in_at"
_IDLE_LIMIT = "openmdmr_idle_limit_s"
_TOUCH_EVERY_S = 60  # the session is saved at most once a minute just to note activity


class SessionIdleTimeoutMiddleware:
    """Signs a session out when idle too long (staff 30 min, customers 2 h) or 12 h old.

    ASVS 3.3.2: sign in again after the idle period and periodically while in use. The cookie
    itself ends with the browser (allauth, ACCOUNT_SESSION_REMEMBER = False).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        session, now = request.session, int(time.time())
        started = session.setdefault(_SIGNED_IN_AT, now)
        last = session.get(_LAST_SEEN)
        limit = session.get(_IDLE_LIMIT)
        if limit is None:
            limit = session[_IDLE_LIMIT] = idle_limit_s(request)
        idle = last is not None and now - int(last) > int(limit)
        if idle or now - int(started) > settings.SESSION_COOKIE_AGE:
            logout(request)
            why = "a period of inactivity" if idle else "12 hours"
            messages.info(request, f"You were signed out after {why}: please sign in again.")
        elif last is None or now - int(last) >= _TOUCH_EVERY_S:
            session[_LAST_SEEN] = now


def idle_limit_s(request: HttpRequest) -> int:
    """Seconds of inactivity allowed: staff roles and superusers less than customers."""
    user = request.user
    actor = actor_for_user(user)
    if actor.role is not None or user.is_superuser:
        return int(settings.OPENMDMR_STAFF_IDLE_TIMEOUT_S)
    return int(settings.OPENMDMR_CUSTOMER_IDLE_TIMEOUT_S)
