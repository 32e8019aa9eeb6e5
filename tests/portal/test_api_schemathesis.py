"""schemathesis against the OpenAPI schema of /api/v1/: no operation answers a server error.

Every operation of the schema (drf-spectacular, served at /api/v1/schema/) is called through the
Django WSGI app with generated valid and invalid inputs (schemathesis' examples, coverage and
fuzzing phases), authenticated with an LDC admin's and an AMI operator's API token, a
coordinator's session, and anonymously; any 5xx fails. The other LDC roles see a subset of the
admin's operations (their 403s are covered by the URL walks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ldc.services import api_token_create
from portal.access import actor_for_user
from portal.wsgi import application

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)

ROLES = ["ldc_admin", "ami_operator", "coordinator", "anonymous"]


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Calls go to the WSGI app directly: like django.test.Client, keep Django from closing the
    test's database connection (inside its transaction) at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(params=ROLES)
def api_headers(request: pytest.FixtureRequest, world: Any) -> dict[str, str]:
    """Authorization for one role of north (a token), a coordinator's session, or none."""
    cache.clear()  # failed-token and rate counters of an earlier test do not carry over
    if request.param == "anonymous":
        return {}
    if request.param == "coordinator":
        client = Client()
        client.force_login(world.coordinator)
        return {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(
        ldc=world.north, name=f"fuzz-{request.param}", role=request.param, actor=actor
    )
    return {"Authorization": f"Token {key}"}


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: Any, api_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=api_headers, checks=[not_a_server_error])


def test_the_roles_are_really_signed_in(client: Client, api_headers: dict[str, str]) -> None:
    """The fuzzing above reaches past authentication (else it would only meet 401s)."""
    headers = {f"HTTP_{k.upper()}": v for k, v in api_headers.items()}
    status = client.get("/api/v1/me/", **headers).status_code
    assert status == (401 if not api_headers else 200)
