"""One MFA rule for every way in (issue 21, findings 2, 3 and 7), tried as an attacker would:
a stolen password at the admin's login, a password-only session on the API, password guesses
behind the TLS proxy."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.test import Client, override_settings

from portal import two_factor
from portal.tenancy import Role
from tests import factories
from tests.factories import PASSWORD, TOTP_SECRET

pytestmark = pytest.mark.django_db
LOCKED = "Too many failed login attempts"


def _code() -> str:
    return format_hotp_value(hotp_value(TOTP_SECRET, int(time.time()) // 30))


@pytest.fixture
def superuser() -> Any:
    from portal.models import User

    user = User.objects.create_superuser(email="root@test.example", password=PASSWORD)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    TOTP.activate(user, TOTP_SECRET)
    return user


def _password_only_session(client: Client, user: Any) -> None:
    """What Django's admin login form did: a session from the password alone."""
    assert client.login(email=user.email, password=PASSWORD)


def _allauth_login(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def test_admin_login_form_takes_no_password(client: Client, superuser: Any) -> None:
    response = client.post(
        "/admin/login/?next=/admin/", {"username": superuser.email, "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302  # not signed in
    assert "_auth_user_id" not in client.session


def test_password_only_session_of_a_totp_user_cannot_use_the_admin(
    client: Client, superuser: Any
) -> None:
    _password_only_session(client, superuser)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session  # signed out: sign in again with the code


def test_password_without_the_code_opens_nothing(client: Client, superuser: Any) -> None:
    response = _allauth_login(client, superuser.email)
    assert response.status_code == 302 and "/2fa/authenticate" in response["Location"]
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_password_and_code_open_the_admin(client: Client, superuser: Any) -> None:
    response = _allauth_login(client, superuser.email)
    client.post(response["Location"], {"code": _code()})
    assert client.get("/admin/").status_code == 200


def test_admin_session_is_marked_only_after_the_code(client: Client, superuser: Any) -> None:
    _password_only_session(client, superuser)
    client.get("/admin/")
    assert two_factor.PASSED not in client.session


@pytest.fixture
def staff_without_totp(world: Any) -> Any:
    user = factories.UserFactory(email="new-staff@north.test.example")
    from portal.tenancy import Membership

    Membership.objects.create(user=user, ldc=world.north, role=Role.BACK_OFFICE)
    return user


def test_staff_without_totp_cannot_use_the_api_by_session(
    client: Client, staff_without_totp: Any
) -> None:
    client.force_login(staff_without_totp)
    for path in ("/api/v1/me/", "/api/v1/sdps/", "/api/v1/meters/"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "TOTP" in response.json()["detail"]


def test_totp_user_with_password_only_session_cannot_use_the_api(
    client: Client, world: Any
) -> None:
    staff = world.user("north", "ldc_admin")
    _password_only_session(client, staff)
    assert client.get("/api/v1/sdps/").status_code == 403


def test_staff_who_passed_the_code_use_the_api(client: Client, world: Any) -> None:
    staff = world.user("north", "ldc_admin")
    response = _allauth_login(client, staff.email)
    client.post(response["Location"], {"code": _code()})
    assert client.get("/api/v1/sdps/").status_code == 200


def test_token_auth_is_unchanged(client: Client, world: Any, staff_without_totp: Any) -> None:
    from ldc.services import api_token_create

    _, key = api_token_create(ldc=world.north, name="cis", role=Role.BACK_OFFICE, actor=None)
    client.force_login(staff_without_totp)  # even beside a session that could not
    assert client.get("/api/v1/sdps/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_enrolling_totp_marks_the_session(client: Client, staff_without_totp: Any) -> None:
    client.force_login(staff_without_totp)
    assert client.get("/").status_code == 302  # sent to enrol
    assert client.get("/api/v1/me/").status_code == 403
    from allauth.mfa.signals import authenticator_added

    class _Request:
        session = client.session
        user = staff_without_totp

    authenticator = TOTP.activate(staff_without_totp, TOTP_SECRET).instance
    request = _Request()
    authenticator_added.send(
        sender=type(authenticator),
        request=request,
        user=staff_without_totp,
        authenticator=authenticator,
    )
    request.session.save()
    assert client.get("/api/v1/me/").status_code == 200


def test_admin_login_is_locked_after_failures(client: Client, superuser: Any) -> None:
    """Guesses at the admin now meet allauth's lockout (5 failures per account in 5 min)."""
    for i in range(5):
        _allauth_login(client, superuser.email, "wrong-password-1", REMOTE_ADDR=f"192.0.2.{i}")
    response = _allauth_login(client, superuser.email, REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 200 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_lockout_behind_the_proxy_counts_the_client_not_the_proxy(
    client: Client, world: Any
) -> None:
    """Finding 7: 11 failures from one client through the proxy locked every client out."""
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for i in range(11):
        _allauth_login(
            client,
            f"nobody{i}@test.example",
            "wrong-password-1",
            HTTP_X_FORWARDED_FOR="198.51.100.7",
            **proxy,
        )
    held = _allauth_login(
        client, world.customer.email, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy
    )
    assert held.status_code == 200 and LOCKED in held.content.decode()  # that client is held
    other = Client()
    response = _allauth_login(
        other, world.customer.email, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy
    )
    assert response.status_code == 302  # another client still signs in


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_a_forged_forwarded_for_does_not_pick_the_address(client: Client) -> None:
    """The client may send its own X-Forwarded-For; the proxy appends the real address, and
    only that last entry is trusted."""
    from django.test import RequestFactory

    from portal.middleware import client_address

    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7", REMOTE_ADDR="10.0.0.1"
    )
    assert client_address(request) == "198.51.100.7"


def test_trusted_proxy_count_follows_https() -> None:
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django,os;os.environ['DJANGO_SETTINGS_MODULE']="
            "'portal.settings';django.setup();from django.conf import settings;"
            "print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)",
        ],
        env=os.environ
        | {"HTTPS": "1", "SECRET_KEY": "x" * 60, "DEBUG": "0", "ALLOWED_HOSTS": "example.org"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1"
