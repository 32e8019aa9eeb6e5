"""The authorisation server: code grant with PKCE by a real client library (requests-oauthlib)
against the live server; the consent page; replayed codes, missing PKCE, suspended parties,
another LDC's customer."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from oauth2_provider.models import AccessToken

from connect import scopes
from connect.models import Consent, ThirdParty
from portal.models import AuditEvent
from tests.connect.conftest import (
    Party,
    authorize_url,
    consent,
    fetch_token,
    register,
    session,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _authorised(live_server: Any, world: Any, party: Party) -> tuple[Any, dict[str, Any]]:
    oauth = session(party)
    answer = consent(
        _client(world.customer), authorize_url(oauth, live_server.url), sdps=["NORTH-SDP-1"]
    )
    assert answer.status_code == 302, answer.content[:300]
    token = fetch_token(oauth, live_server.url, party, answer["Location"])
    return oauth, token


def test_code_flow_with_pkce_gives_a_token_bound_to_the_consent(
    live_server: Any, world: Any, party: Party
) -> None:
    _oauth, token = _authorised(live_server, world, party)
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    assert token["scope"] == [scopes.USAGE]
    consent_row = Consent.objects.get()
    assert consent_row.token_family is not None and consent_row.grant is None
    assert [s.sdp_id for s in consent_row.sdps.all()] == ["NORTH-SDP-1"]
    assert consent_row.usage and not consent_row.billing
    assert AuditEvent.objects.filter(action="connect.consent_granted").count() == 1


def test_the_consent_page_says_who_asks_for_what_from_when(world: Any, party: Party) -> None:
    oauth = session(party, scopes.USAGE_AND_BILLING)
    url = urlsplit(authorize_url(oauth, "http://testserver"))
    page = _client(world.customer).get(f"{url.path}?{url.query}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Energy Insights Inc." in html and "ada@insights.example" in html
    assert "hourly electricity use" in html and "billing summaries" in html
    assert "NORTH-SDP-1" in html and "SOUTH-SDP-1" not in html
    assert 'data-testid="data-from"' in html and "12 months" in html


def test_without_pkce_there_is_no_code(world: Any, party: Party) -> None:
    client = _client(world.customer)
    page = client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": party.client_id,
            "scope": scopes.USAGE,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "state": "s1",
        },
    )
    # RFC 7636 s. 4.4.1: the toolkit answers invalid_request to the client, no consent page.
    assert page.status_code == 302
    assert parse_qs(urlsplit(page["Location"]).query)["error"] == ["invalid_request"]
    assert not Consent.objects.exists()


def test_a_replayed_code_is_refused(live_server: Any, world: Any, party: Party) -> None:
    oauth = session(party)
    answer = consent(
        _client(world.customer), authorize_url(oauth, live_server.url), sdps=["NORTH-SDP-1"]
    )
    fetch_token(oauth, live_server.url, party, answer["Location"])
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    again = requests.post(
        f"{live_server.url}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "code_verifier": oauth._code_verifier,
        },
        auth=(party.client_id, party.secret),
        timeout=30,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 1


def test_a_wrong_pkce_verifier_is_refused(live_server: Any, world: Any, party: Party) -> None:
    oauth = session(party)
    answer = consent(
        _client(world.customer), authorize_url(oauth, live_server.url), sdps=["NORTH-SDP-1"]
    )
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    wrong = requests.post(
        f"{live_server.url}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "code_verifier": "x" * 64,
        },
        auth=(party.client_id, party.secret),
        timeout=30,
    )
    assert wrong.status_code == 400 and not AccessToken.objects.exists()


def test_a_suspended_party_gets_no_consent_page_and_no_token(
    live_server: Any, world: Any, party: Party
) -> None:
    oauth = session(party)
    url = authorize_url(oauth, live_server.url)
    client = _client(world.customer)
    answer = consent(client, url, sdps=["NORTH-SDP-1"])
    ThirdParty.objects.filter(pk=party.model.pk).update(status=ThirdParty.Status.SUSPENDED)
    with pytest.raises(Exception, match="invalid_client"):
        fetch_token(oauth, live_server.url, party, answer["Location"])
    split = urlsplit(authorize_url(session(party), live_server.url))
    page = client.get(f"{split.path}?{split.query}")
    assert page.status_code == 400 and b"NORTH-SDP-1" not in page.content


def test_denying_makes_no_consent(world: Any, party: Party) -> None:
    answer = consent(
        _client(world.customer),
        authorize_url(session(party), "http://testserver"),
        sdps=["NORTH-SDP-1"],
        allow=False,
    )
    assert answer.status_code == 302 and "error=access_denied" in answer["Location"]
    assert not Consent.objects.exists()


def test_another_ldcs_customer_has_nothing_to_share(world: Any, party: Party) -> None:
    """South's customer at north's third party: no SDP is offered and a forged one is ignored."""
    client = _client(world.customer_south)
    answer = consent(
        client, authorize_url(session(party), "http://testserver"), sdps=["SOUTH-SDP-1"]
    )
    assert answer.status_code == 200  # the form again, with its error: nothing granted
    assert not Consent.objects.exists()


def test_staff_cannot_authorise(world: Any, party: Party) -> None:
    split = urlsplit(authorize_url(session(party), "http://testserver"))
    page = _client(world.user("north", "ldc_admin")).get(f"{split.path}?{split.query}")
    assert page.status_code == 403


def test_a_party_may_ask_only_for_what_it_was_registered_for(world: Any) -> None:
    usage_only = register(
        world.north, world.user("north", "ldc_admin"), name="Usage Only", may_billing=False
    )
    split = urlsplit(authorize_url(session(usage_only, scopes.BILLING), "http://testserver"))
    page = _client(world.customer).get(f"{split.path}?{split.query}")
    assert page.status_code == 302 and "error=invalid_scope" in page["Location"]


def test_the_espi_resources_are_in_the_openapi_schema(client: Client) -> None:
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/espi/1_1/resource/Batch/Subscription/{subscriptionId}" in paths
    block = paths[
        "/espi/1_1/resource/Subscription/{subscriptionId}/UsagePoint/{usagePointId}"
        "/MeterReading/{meterReadingId}/IntervalBlock"
    ]["get"]
    assert {p["name"] for p in block["parameters"]} >= {"published-min", "updated-max"}
    assert schema["components"]["securitySchemes"]["espiOAuth"]["type"] == "oauth2"
