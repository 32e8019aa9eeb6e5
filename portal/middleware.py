"""Request context for the audit trail, two-factor for staff, headers and session policy."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, resolve_url
from django.utils.cache import add_never_cache_headers, patch_vary_headers

import portal.two_factor as two_factor
from portal.access import actor_for_user
from portal.audit import audit_context


def client_address(request: HttpRequest) -> str | None:
    """The client's IP: behind ``ALLAUTH_TRUSTED_PROXY_COUNT`` proxies, the entry that many
    from the right of X-Forwarded-For (the last proxy's view), else REMOTE_ADDR. The same
    address allauth's login lockout uses (portal.adapters)."""
    count = getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0)
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if count > 0 and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Every audit event written while serving a request records the client's address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_context(client_address=client_address(request), via="web"):
            return self.get_response(request)


# Paths reachable before the second factor: sign-in, enrolment, logout (allauth), static files.
_TWO_FACTOR_EXEMPT = ("/accounts/", "/static/")


class StaffTwoFactorMiddleware:
    """The MFA rule (portal.two_factor) on every path, the API's session requests included:
    staff must enrol TOTP before they see any data; whoever has TOTP must have passed it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        need = self._needed(request)
        if need is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            if request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("token "):
                return self.get_response(request)  # a machine token: the session is not used
            return JsonResponse(
                {
                    "detail": "Two-factor authentication required: sign in with your TOTP code."
                    if need == "verify"
                    else "Enrol TOTP two-factor authentication first."
                },
                status=403,
            )
        if need == "enrol":
            return redirect("mfa_activate_totp")
        # A session opened with a password only (e.g. Django's admin login form): sign out and
        # sign in again through allauth, which asks for the code.
        logout(request)
        return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))

    def _needed(self, request: HttpRequest) -> str | None:
        """None (nothing to do), "enrol" (staff without TOTP) or "verify" (TOTP not passed)."""
        if request.path.startswith(_TWO_FACTOR_EXEMPT):
            return None
        user = request.user
        if not user.is_authenticated or two_factor.passed(request, user):
            return None
        if two_factor.has_totp(user):
            return "verify"
        if not settings.OPENMDMR_STAFF_REQUIRE_TOTP:
            return None
        actor = actor_for_user(user)
        if actor.role is None and not user.is_superuser:
            return None  # customers: two-factor optional
        return "enrol"


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
