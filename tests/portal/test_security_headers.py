"""Security headers on pages and the API, and a Content Security Policy of 'self' plus nonces."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def csp_directives(response: Any) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def pages(world: Any) -> list[tuple[Any, str]]:
    return [
        (None, reverse("account_login")),
        (world.user("north", "ldc_admin"), reverse("home")),
        (world.user("north", "back_office"), reverse("meters:sdp-list")),
        (world.customer, reverse("home")),
        (world.coordinator, reverse("home")),
    ]


def get(client: Any, user: Any, url: str) -> Any:
    client.logout()
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


def test_every_page_sends_the_security_headers(client: Any, world: Any) -> None:
    for user, url in pages(world):
        headers = get(client, user, url).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
        permissions = headers["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
            assert feature in permissions


def test_api_responses_send_them_too(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    headers = client.get("/api/v1/me/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in headers


def test_signed_in_pages_are_not_cached(client: Any, world: Any) -> None:
    response = get(client, world.user("north", "back_office"), reverse("meters:sdp-list"))
    cache_control = response.headers["Cache-Control"]
    assert "no-store" in cache_control and "private" in cache_control


def test_csp_allows_only_self_and_this_responses_nonce(client: Any, world: Any) -> None:
    for user, url in pages(world):
        response = get(client, user, url)
        policy = csp_directives(response)
        nonce = re.search(r"'nonce-([^']+)'", " ".join(policy["script-src"]))
        assert nonce, policy["script-src"]
        for directive in ("script-src", "style-src", "style-src-elem"):
            assert policy[directive] == ["'self'", f"'nonce-{nonce.group(1)}'"], directive
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
        # style="" attributes only: they run no code (progress bars, plotly.js, Bootstrap).
        assert policy["style-src-attr"] == ["'unsafe-inline'"]
        header = response.headers["Content-Security-Policy"]
        assert "unsafe-eval" not in header and "*" not in header and "http:" not in header
        # The page's own inline elements carry the same nonce.
        assert f'nonce="{nonce.group(1)}"' in response.content.decode()


def test_each_response_has_a_new_nonce(client: Any, world: Any) -> None:
    first = csp_directives(client.get(reverse("account_login")))["script-src"]
    second = csp_directives(client.get(reverse("account_login")))["script-src"]
    assert first != second


def test_templates_have_no_inline_script_or_handler_without_a_nonce() -> None:
    """Other engineers' new templates too: an inline script or on*= handler would be blocked."""
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = re.sub(
            r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", path.read_text(), flags=re.S
        )
        for match in re.finditer(r"<(script|style)\b([^>]*)>", text):
            attributes = match.group(2)
            if "src=" in attributes or "application/json" in attributes:
                continue
            if "nonce=" not in attributes:
                problems.append(f"{path.relative_to(ROOT)}: <{match.group(1)}> without nonce")
        for match in re.finditer(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", text):
            problems.append(f"{path.relative_to(ROOT)}: inline handler {match.group(0)[:60]!r}")
        if "javascript:" in text:
            problems.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert not problems, "\n".join(problems)


def _settings_with(env: dict[str, str], *names: str) -> list[str]:
    """Values of settings in a fresh process with ``env`` (settings are read at import)."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings';"
        "from django.conf import settings;"
        f"print(*[repr(getattr(settings, n)) for n in {list(names)!r}], sep='\\n')"
    )
    full = {**os.environ, **env}
    full.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def test_https_turns_on_hsts_secure_cookies_and_the_redirect() -> None:
    names = (
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
    )
    assert _settings_with({"HTTPS": "1"}, *names) == ["31536000", "True", "True", "True", "True"]
    assert _settings_with({"HTTPS": "0"}, *names) == ["0", "False", "False", "False", "False"]


def test_hsts_header_is_sent_over_https(client: Any, settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get(reverse("account_login"), secure=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
