"""Coordinators see aggregates only: no page or API of theirs shows a customer's identity or reads.

The URLs come from the resolver (as in test_url_walk.py), so a page added later is covered too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from ldc.sme.rollout import rollout_snapshot_take, window
from tests.portal.test_rollout import put_reads
from tests.portal.test_url_walk import all_named_urls, build_url, north_secrets  # noqa: F401

pytestmark = pytest.mark.django_db

# The reads value in every form a page could print it: Wh, kWh with 3 decimals, grouped.
READS_PATTERN = re.compile(r"(?<![\d.,])123(?:[.,]?457|\.46|\.5\b)")


@pytest.fixture
def customer_data(world: Any, north_secrets: list[str]) -> list[str]:  # noqa: F811
    """Reads of both LDCs' meters, accounts and customer users: what must never be shown."""
    for tag in ("north", "south"):
        put_reads(world.objects[f"{tag}_meter"], window())
    rollout_snapshot_take()
    return [
        world.customer.email,
        world.customer_south.email,
        "NORTH-ACCT-1",
        "SOUTH-ACCT-1",
        "NORTH-SDP-1",
        "SOUTH-SDP-1",
        "NORTH-MTR-1",
        "SOUTH-MTR-1",
    ]


def _urls(world: Any) -> list[str]:
    """Every named URL; one whose argument test_url_walk cannot fill yet fails there, not here."""
    urls = []
    for name, args in all_named_urls():
        try:
            urls.append(build_url(name, args, world))
        except pytest.fail.Exception:
            continue
    return urls


def test_no_coordinator_page_or_api_shows_customer_data(
    client: Any, world: Any, customer_data: list[str]
) -> None:
    client.force_login(world.coordinator)
    seen, leaks = 0, []
    for url in _urls(world):
        response = client.get(url)
        if response.status_code != 200:
            continue
        seen += 1
        body = response.content.decode("utf-8", errors="replace")
        leaks += [f"{url} shows {s!r}" for s in customer_data if s in body]
        leaks += [f"{url} shows reads {m!r}" for m in READS_PATTERN.findall(body)]
    assert seen >= 10, "the coordinator should reach the rollout pages"
    assert not leaks, "\n".join(leaks)


def test_the_check_can_fail(client: Any, world: Any, customer_data: list[str]) -> None:
    """North's admin does see north's SDP and reads: the patterns above match real pages."""
    client.force_login(world.user("north", "ldc_admin"))
    body = client.get(reverse("meters:sdp-detail", args=["NORTH-SDP-1"])).content.decode()
    assert "NORTH-SDP-1" in body
    body = client.get(reverse("meters:meter-detail", args=["NORTH-MTR-1"])).content.decode()
    assert READS_PATTERN.search(body), "the meter's chart carries its reads"
    assert all(READS_PATTERN.search(v) for v in ("123457 Wh", "123.457 kWh", "123,457"))
    assert not READS_PATTERN.search("1123.4570 2123457")


def test_rollout_api_returns_aggregates_only(
    client: Any, world: Any, customer_data: list[str]
) -> None:
    client.force_login(world.coordinator)
    response = client.get(reverse("api:rollout-ldcs"))
    assert response.status_code == 200
    body = response.content.decode()
    assert not [s for s in customer_data if s in body] and not READS_PATTERN.search(body)
    allowed = (int, float, str, type(None))
    for row in response.json()["results"]:
        assert all(isinstance(v, allowed) for v in row.values())
        assert not any(k.startswith(("sdp_id", "serial", "account", "email")) for k in row)
