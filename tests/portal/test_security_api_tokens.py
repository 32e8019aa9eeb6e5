"""Every API endpoint, called with another LDC's API token of each role, leaks and changes nothing.

The URL walk (test_url_walk.py) signs people in with a session; machines use tokens, so the same
walk is repeated here over every /api/v1/ URL with south's tokens. Both walks take their URLs
from the resolver, and the first test checks that they reach every operation of the OpenAPI
schema: a new endpoint is covered without editing either test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator

from ldc.services import api_token_create
from portal.access import actor_for_user
from portal.tenancy import Role
from tests.portal.test_url_walk import _state, all_named_urls, build_url, north_secrets

pytestmark = pytest.mark.django_db

__all__ = ["north_secrets"]  # the walk's fixture, used here too

TOKEN_ROLES = [Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT, Role.AMI_OPERATOR]
METHODS = ("get", "post", "put", "patch", "delete")


def api_urls(world: Any) -> list[tuple[str, str]]:
    return [
        (name, build_url(name, args, world))
        for name, args in all_named_urls()
        if name.startswith("api:") and name not in {"api:api-root"}
    ]


def _as_pattern(schema_path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(schema_path)) + r"\Z")


def test_the_walk_reaches_every_operation_of_the_schema(world: Any, north_secrets: Any) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    urls = [url.split("?")[0] for _, url in api_urls(world)]
    # ESPI resources (connect/) take OAuth bearer tokens of a consent, not API tokens: their
    # reach is walked in tests/connect/.
    missed = [
        path
        for path in schema["paths"]
        if not path.startswith("/espi/") and not any(_as_pattern(path).match(u) for u in urls)
    ]
    assert len(schema["paths"]) > 15
    assert not missed, f"operations the URL walk does not reach: {missed}"


def test_another_ldcs_tokens_see_and_change_nothing_of_north(
    client: Any, world: Any, north_secrets: list[str]
) -> None:
    urls = api_urls(world)
    actor = actor_for_user(world.user("south", "ldc_admin"))
    keys = {
        role: api_token_create(ldc=world.south, name=f"south {role}", role=role, actor=actor)[1]
        for role in TOKEN_ROLES
    }
    before = _state(world)
    problems: list[str] = []
    for role, key in keys.items():
        for _name, url in urls:
            for method in METHODS:
                cache.clear()  # DRF's rate limits must not hide an answer
                response = getattr(client, method)(url, HTTP_AUTHORIZATION=f"Token {key}")
                where = f"south {role} token {method.upper()} {url}"
                if response.status_code >= 500:
                    problems.append(f"{where}: server error {response.status_code}")
                if response.status_code in (200, 201, 204) and method != "get":
                    problems.append(f"{where}: {response.status_code}, a change was accepted")
                body = response.content.decode("utf-8", errors="replace")
                secrets = [*north_secrets, "Northwind Test Hydro"]
                problems += [f"{where} shows {s!r}" for s in secrets if s in body]
    assert not problems, "\n".join(problems)
    assert _state(world) == before, "a south token changed north's data"


def test_north_object_urls_answer_404_to_a_south_token(
    client: Any, world: Any, north_secrets: list[str]
) -> None:
    """Another LDC's object is a 404, exactly like a missing one (never 403, never the row)."""
    actor = actor_for_user(world.user("south", "ldc_admin"))
    _, key = api_token_create(ldc=world.south, name="south admin", role="ldc_admin", actor=actor)
    checked = []
    for name, url in api_urls(world):
        if "{" in url or not any(
            arg in name for arg in ("detail", "rejections", "csv", "acknowledge", "release")
        ):
            continue
        method = "post" if name.endswith(("acknowledge", "release")) else "get"
        response = getattr(client, method)(url, HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 404, (name, url, response.status_code)
        checked.append(name)
    assert len(checked) >= 5, checked


def test_the_owner_token_does_see_north(client: Any, world: Any, north_secrets: list[str]) -> None:
    """The check above can fail: north's own token reads north's SDP."""
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(ldc=world.north, name="north admin", role="ldc_admin", actor=actor)
    response = client.get("/api/v1/sdps/NORTH-SDP-1/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and "NORTH-SDP-1" in response.content.decode()
