"""A registered third party of north, and the OAuth dance driven by requests-oauthlib (the third
party's side) against the live server, the customer answering the consent page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from requests_oauthlib import OAuth2Session

from connect import scopes, services
from connect.models import ThirdParty
from portal.access import actor_for_user

REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Party:
    model: ThirdParty
    client_id: str
    secret: str


def register(ldc: Any, admin: Any, name: str = "Energy Insights Inc.", **kw: Any) -> Party:
    party, secret = services.third_party_register(
        ldc=ldc,
        actor=actor_for_user(admin),
        name=name,
        contact_name="Ada Watt",
        contact_email="ada@insights.example",
        redirect_uris=[REDIRECT],
        notify_uri=kw.pop("notify_uri", "http://127.0.0.1:9/notify"),
        may_usage=True,
        may_billing=kw.pop("may_billing", True),
    )
    return Party(party, party.application.client_id, secret)


@pytest.fixture
def party(world: Any) -> Party:
    return register(world.north, world.user("north", "ldc_admin"))


@pytest.fixture(autouse=True)
def _insecure_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// unless told: the live test server is plain http on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def session(party: Party, scope: str = scopes.USAGE) -> OAuth2Session:
    return OAuth2Session(party.client_id, redirect_uri=REDIRECT, scope=[scope], pkce="S256")


def authorize_url(oauth: OAuth2Session, base: str) -> str:
    url, _state = oauth.authorization_url(f"{base}/oauth/authorize/")
    return url


def consent(
    client: Any, url: str, *, sdps: list[str] | None, months: int = 12, allow: bool = True
) -> Any:
    """The customer (a signed-in Django test client) answers the consent page."""
    split = urlsplit(url)
    page = client.get(f"{split.path}?{split.query}")
    assert page.status_code == 200, page.content[:500]
    html = page.content.decode()
    found = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)
    hidden = {name: unescape(value) for name, value in found}
    hidden.pop("csrfmiddlewaretoken", None)
    data: dict[str, Any] = {**hidden, "months": months}
    if sdps is not None:
        data["sdps"] = sdps
    if allow:
        data["allow"] = "on"
    return client.post(split.path, data)


def fetch_token(oauth: OAuth2Session, base: str, party: Party, location: str) -> dict[str, Any]:
    return oauth.fetch_token(
        f"{base}/oauth/token/",
        authorization_response=location,
        client_secret=party.secret,
        include_client_id=True,
    )
