"""Policies: CSRF on every POST, session lifetime, passwords, upload sizes, rate limits."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ldc.services import api_token_create
from portal.access import actor_for_user
from tests.factories import PASSWORD
from tests.portal.test_url_walk import all_named_urls, build_url, north_secrets

pytestmark = pytest.mark.django_db

__all__ = ["north_secrets"]  # the URL walk's fixture: north's objects for every URL argument


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


# --- CSRF --------------------------------------------------------------------------------------


def test_every_post_without_a_csrf_token_is_refused(world: Any, north_secrets: Any) -> None:
    """Signed in as north's admin, a POST to any URL without the token is a 403."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("north", "ldc_admin"))
    accepted = []
    urls = [(name, build_url(name, args, world)) for name, args in all_named_urls()]
    for name, url in urls:
        response = client.post(url, {"name": "x"})
        if response.status_code != 403:
            accepted.append(f"{name} {url}: {response.status_code}")
    assert len(urls) > 50
    assert not accepted, "\n".join(accepted)


def test_the_same_post_with_the_token_gets_through(world: Any) -> None:
    """The refusal above is CSRF's: with the token from the form, the page takes the POST."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("north", "ldc_admin"))
    client.get(reverse("ldc:tokens"))
    token = client.cookies["csrftoken"].value
    form = {"name": "CIS", "role": "billing_agent", "csrfmiddlewaretoken": token}
    response = client.post(reverse("ldc:tokens"), form)
    assert response.status_code == 200 and "omdr_" in response.content.decode()


def test_api_token_clients_need_no_csrf_token_but_sessions_do(world: Any) -> None:
    """By design: a token is not sent by the browser on its own, a session cookie is."""
    client = Client(enforce_csrf_checks=True)
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(ldc=world.north, name="CIS", role="ldc_admin", actor=actor)
    url = reverse("api:billing-request-list")
    assert client.post(url, {}, HTTP_AUTHORIZATION=f"Token {key}").status_code == 400
    client.force_login(world.user("north", "ldc_admin"))
    response = client.post(url, {})
    assert response.status_code == 403 and "CSRF" in response.content.decode()


# --- sessions ----------------------------------------------------------------------------------


def test_session_cookie_is_http_only_and_same_site_lax(client: Any, world: Any) -> None:
    user = world.user("north", "back_office")
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=user).delete()  # the password step alone sets the cookie
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # ends with the browser


def _idle_for(client: Any, seconds: int) -> None:
    session = client.session
    session["openmdmr_last_seen"] = int(time.time()) - seconds
    session.save()


@pytest.mark.parametrize(
    ("who", "idle_s", "signed_out"),
    [
        ("staff", 29 * 60, False),
        ("staff", 31 * 60, True),
        ("coordinator", 31 * 60, True),
        ("customer", 31 * 60, False),
        ("customer", 121 * 60, True),
    ],
)
def test_idle_sessions_are_signed_out(
    client: Any, world: Any, who: str, idle_s: int, signed_out: bool
) -> None:
    user = {
        "staff": world.user("north", "back_office"),
        "coordinator": world.coordinator,
        "customer": world.customer,
    }[who]
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200  # notes the activity
    _idle_for(client, idle_s)
    response = client.get(reverse("home"))
    if signed_out:
        assert response.status_code == 302 and reverse("account_login") in response["Location"]
        assert "_auth_user_id" not in client.session
    else:
        assert response.status_code == 200


def test_a_session_ends_12_hours_after_sign_in_however_active(client: Any, world: Any) -> None:
    client.force_login(world.customer)
    client.get(reverse("home"))
    session = client.session
    session["openmdmr_signed_in_at"] = int(time.time()) - 12 * 3600 - 1
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session


def test_activity_keeps_the_session(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "back_office"))
    client.get(reverse("home"))
    _idle_for(client, 20 * 60)
    assert client.get(reverse("home")).status_code == 200
    assert time.time() - client.session["openmdmr_last_seen"] < 5  # the clock restarted


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Tr0ub4dor&3", "too short"),  # 11 characters
        ("password1234", "too common"),
        ("582039174625", "entirely numeric"),
        ("jane.meter-reader", "too similar"),
    ],
)
def test_weak_passwords_are_refused(world: Any, password: str, why: str) -> None:
    user = world.customer
    user.email = "jane.meter-reader@example.org"
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)
    assert why in " ".join(refused.value.messages)


def test_a_long_uncommon_password_is_accepted(world: Any) -> None:
    validate_password("plinth-Ottawa-grid-1962", world.customer)


def test_signup_applies_the_password_policy(client: Any) -> None:
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.org", "password1": "short1!", "password2": "short1!"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()


# --- upload sizes ------------------------------------------------------------------------------


def test_upload_page_refuses_a_read_file_over_the_limit(
    client: Any, world: Any, settings: Any
) -> None:
    settings.OPENMDMR_MAX_READ_FILE_BYTES = 100
    client.force_login(world.user("north", "back_office"))
    upload = SimpleUploadedFile("big.csv", b"x" * 101)
    response = client.post(reverse("meters:readfile-upload"), {"interface": "csv", "files": upload})
    assert response.status_code == 200
    assert "over the limit of 100 bytes" in response.content.decode()


def test_api_refuses_a_read_file_over_the_limit(client: Any, world: Any, settings: Any) -> None:
    settings.OPENMDMR_MAX_READ_FILE_BYTES = 100
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(ldc=world.north, name="AMI", role="ami_operator", actor=actor)
    response = client.post(
        reverse("api:read-file-upload"),
        {"interface": "csv", "file": io.BytesIO(b"x" * 101)},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 400
    assert "over the limit of 100 bytes" in response.json()["error"]["message"]


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    client: Any, world: Any, settings: Any
) -> None:
    settings.OPENMDMR_MAX_READ_FILE_BYTES = 100
    client.force_login(world.user("north", "back_office"))
    declared = str(100 + (1 << 20) + 1)
    response = client.post(
        reverse("meters:readfile-upload"), {"interface": "csv"}, CONTENT_LENGTH=declared
    )
    assert response.status_code == 413


def test_form_bodies_are_limited(client: Any, world: Any, settings: Any) -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 5 * 1024 * 1024
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == 5 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(world.user("north", "ldc_admin"))
    response = client.post(reverse("ldc:tokens"), {"name": "x" * 2000, "role": "billing_agent"})
    assert response.status_code == 400


# --- rate limits -------------------------------------------------------------------------------


def _log_in(client: Any, email: str, password: str) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_login_is_rate_limited_per_account(client: Any, world: Any) -> None:
    email = world.customer.email
    for _ in range(5):
        assert "_auth_user_id" not in client.session
        _log_in(client, email, "wrong password 123")
    response = _log_in(client, email, PASSWORD)  # the right one, too soon
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()
    cache.clear()  # the window has passed
    _log_in(client, email, PASSWORD)
    assert "_auth_user_id" in client.session


def test_login_is_rate_limited_per_address(client: Any, world: Any) -> None:
    codes = [_log_in(client, f"nobody{i}@example.org", "wrong").status_code for i in range(31)]
    assert codes[:10] == [200] * 10
    assert codes[-1] == 429


def test_bad_api_tokens_are_throttled_per_address(client: Any, world: Any, settings: Any) -> None:
    settings.OPENMDMR_TOKEN_FAILURES_PER_WINDOW = 3
    codes = [
        client.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token omdr_x_{i}").status_code
        for i in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]
    other = Client(REMOTE_ADDR="192.0.2.7")  # another client is not locked out
    assert other.get(reverse("api:me"), HTTP_AUTHORIZATION="Token omdr_x_y").status_code == 401


def test_behind_the_proxy_bad_tokens_are_counted_per_client(
    client: Any, world: Any, settings: Any
) -> None:
    """With HTTPS=1 every request comes from the proxy: the count is the forwarded client's."""
    settings.OPENMDMR_TOKEN_FAILURES_PER_WINDOW = 3
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1  # what HTTPS=1 sets
    proxy = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_PROTO": "https"}
    attacker = {**proxy, "HTTP_X_FORWARDED_FOR": "198.51.100.9"}
    for _ in range(4):
        client.get(reverse("api:me"), HTTP_AUTHORIZATION="Token omdr_x_y", secure=True, **attacker)
    assert (
        client.get(
            reverse("api:me"), HTTP_AUTHORIZATION="Token omdr_x_y", secure=True, **attacker
        ).status_code
        == 429
    )
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(ldc=world.north, name="CIS", role="billing_agent", actor=actor)
    honest = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    response = client.get(
        reverse("api:me"), HTTP_AUTHORIZATION=f"Token {key}", secure=True, **honest
    )
    assert response.status_code == 200
