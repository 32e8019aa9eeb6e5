"""The one MFA rule for every way in (allauth's pages, the Django admin, the API by session).

Whoever has a TOTP authenticator must have passed it in this session; LDC staff, SME
coordinators and superusers must have one (OWASP ASVS 4.0 2.7/2.8, NIST SP 800-63B AAL2).
"Passed" is read from allauth's own record of this session's authentications (a record of
method "mfa", written only when a TOTP or recovery code was accepted), or set when the person
enrolled TOTP in this session (they have just proved they hold the secret). A password alone
(Django's admin login form, a session opened any other way) never counts. Machine clients with
API tokens are not sessions and are not concerned (portal.tokens).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

PASSED = "openmdmr_totp_ok"  # session key: the pk of the user who passed the second factor


def has_totp(user: Any) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def passed(request: HttpRequest, user: Any) -> bool:
    """This session passed a second factor for ``user``."""
    if request.session.get(PASSED) == user.pk:
        return True
    from allauth.account.internal.flows.login import get_authentication_records

    records = get_authentication_records(request, user)
    if any(r.get("method") == "mfa" for r in records):
        request.session[PASSED] = user.pk
        return True
    return False


def mark_passed(request: HttpRequest | None, user: Any) -> None:
    """Record that ``user`` passed (or just enrolled) the second factor in this session."""
    session = getattr(request, "session", None)
    if session is not None and getattr(request, "user", None) == user:
        session[PASSED] = user.pk


def on_authenticator_added(sender: Any, request: HttpRequest | None, user: Any, **kw: Any) -> None:
    """allauth signal: enrolling TOTP (a code from the new authenticator was accepted)."""
    authenticator = kw.get("authenticator")
    if authenticator is not None and authenticator.type == "totp":
        mark_passed(request, user)
