from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from customers.models import AccountLink

pytestmark = pytest.mark.django_db


def _form(world: Any, **overrides: str) -> dict[str, Any]:
    data = {
        "ldc": world.north.pk,
        "account_number": "NORTH-ACCT-1",
        "sdp_id": "NORTH-SDP-1",
        "check": "m5v2t6",
    }
    return data | overrides


def test_customer_links_with_postal_code(client: Any, world: Any) -> None:
    person = world.customer_south
    client.force_login(person)
    response = client.post(reverse("customers:link"), _form(world))
    assert response.status_code == 302
    assert AccountLink.objects.filter(user=person, account__account_number="NORTH-ACCT-1").exists()


@pytest.mark.parametrize(
    "field,value",
    [("check", "K1A 0B1"), ("sdp_id", "SOUTH-SDP-1"), ("account_number", "SOUTH-ACCT-1")],
)
def test_wrong_details_do_not_link_and_do_not_say_which(
    client: Any, world: Any, field: str, value: str
) -> None:
    client.force_login(world.customer_south)
    response = client.post(reverse("customers:link"), _form(world, **{field: value}))
    assert response.status_code == 200
    assert "could not find an account" in response.content.decode()
    assert not AccountLink.objects.filter(
        user=world.customer_south, account__ldc=world.north
    ).exists()


def test_customer_cannot_unlink_someone_elses_link(client: Any, world: Any) -> None:
    link = AccountLink.objects.get(user=world.customer)
    client.force_login(world.customer_south)
    assert client.post(reverse("customers:unlink", args=[link.pk])).status_code == 404
    assert AccountLink.objects.filter(pk=link.pk).exists()


def test_staff_cannot_use_customer_pages(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "back_office"))
    assert client.get(reverse("customers:link")).status_code == 403


def test_bill_code_links_once(client: Any, world: Any) -> None:
    account = world.objects["north_account"]
    code = account.bill_code
    client.force_login(world.customer_south)
    assert client.post(reverse("customers:link"), _form(world, check=code)).status_code == 302
    account.refresh_from_db()
    assert account.bill_code != code
    AccountLink.objects.filter(user=world.customer_south, account=account).delete()
    response = client.post(reverse("customers:link"), _form(world, check=code))
    assert response.status_code == 200 and "could not find an account" in response.content.decode()
