from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from customers.models import AccountLink
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _form(world: Any, **overrides: str) -> dict[str, Any]:
    data = {
        "ldc": world.north.pk,
        "account_number": "NORTH-ACCT-1",
        "sdp_id": "NORTH-SDP-1",
        "bill_code": "WRONG000",
    }
    return data | overrides


def test_postal_code_no_longer_links(client: Any, world: Any) -> None:
    """Issue 21 finding 1: account number + SDP id + postal code linked another household."""
    client.force_login(world.customer_south)
    response = client.post(reverse("customers:link"), _form(world, bill_code="M5V 2T6"))
    assert response.status_code == 200
    assert not AccountLink.objects.filter(user=world.customer_south, account__ldc=world.north)


def test_customer_links_with_bill_code(client: Any, world: Any) -> None:
    person = world.customer_south
    client.force_login(person)
    code = world.objects["north_account"].bill_code
    response = client.post(reverse("customers:link"), _form(world, bill_code=code.lower()))
    assert response.status_code == 302
    assert AccountLink.objects.filter(user=person, account__account_number="NORTH-ACCT-1").exists()


@pytest.mark.parametrize(
    "field,value",
    [("bill_code", "0BADC0DE"), ("sdp_id", "SOUTH-SDP-1"), ("account_number", "SOUTH-ACCT-1")],
)
def test_wrong_details_do_not_link_and_do_not_say_which(
    client: Any, world: Any, field: str, value: str
) -> None:
    client.force_login(world.customer_south)
    code = world.objects["north_account"].bill_code
    response = client.post(
        reverse("customers:link"), _form(world, **({"bill_code": code} | {field: value}))
    )
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
    assert client.post(reverse("customers:link"), _form(world, bill_code=code)).status_code == 302
    account.refresh_from_db()
    assert account.bill_code != code
    AccountLink.objects.filter(user=world.customer_south, account=account).delete()
    response = client.post(reverse("customers:link"), _form(world, bill_code=code))
    assert response.status_code == 200 and "could not find an account" in response.content.decode()


def _guess(client: Any, world: Any, i: int, **overrides: str) -> Any:
    return client.post(reverse("customers:link"), _form(world, bill_code=f"{i:08X}", **overrides))


def test_150_guesses_are_throttled_and_the_151st_does_not_link(client: Any, world: Any) -> None:
    """The attack of the issue: 150 guesses in a row, then the right code."""
    client.force_login(world.customer_south)
    statuses = [_guess(client, world, i).status_code for i in range(150)]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    right = _form(world, bill_code=world.objects["north_account"].bill_code)
    response = client.post(reverse("customers:link"), right)
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert not AccountLink.objects.filter(user=world.customer_south, account__ldc=world.north)


def test_many_people_from_many_addresses_are_held_per_account(client: Any, world: Any) -> None:
    """Guesses spread over new sign-ins and addresses: the account's own limit holds."""
    for i in range(12):
        client.force_login(factories.UserFactory())
        response = _guess(client, world, i, REMOTE_ADDR=f"198.51.100.{i}")
        assert response.status_code == (200 if i < 5 else 429)
    client.force_login(world.customer_south)
    right = _form(world, bill_code=world.objects["north_account"].bill_code)
    assert (
        client.post(reverse("customers:link"), right, REMOTE_ADDR="203.0.113.9").status_code == 429
    )


def test_one_person_guessing_across_accounts_is_held(client: Any, world: Any) -> None:
    """Per person: ten attempts an hour, whichever accounts they try."""
    client.force_login(world.customer_south)
    codes = [
        _guess(client, world, i, account_number=f"NORTH-ACCT-{i + 10}").status_code
        for i in range(11)
    ]
    assert codes == [200] * 10 + [429]


def test_one_address_guessing_with_many_sign_ins_is_held(client: Any, world: Any) -> None:
    """Per address: thirty attempts an hour, however many people sign in from it."""
    statuses = []
    for i in range(31):
        client.force_login(factories.UserFactory())
        statuses.append(_guess(client, world, i, account_number=f"N-{i}").status_code)
    assert statuses == [200] * 30 + [429]


def test_failures_are_audited_for_the_ldc(client: Any, world: Any) -> None:
    client.force_login(world.customer_south)
    _guess(client, world, 1)
    _guess(client, world, 2, account_number="NO-SUCH-ACCOUNT")
    events = AuditEvent.objects.filter(action="account.link_failed", ldc=world.north)
    assert events.count() == 2
    assert {e.actor for e in events} == {world.customer_south}
    assert {e.after["account_exists"] for e in events} == {True, False}
    assert all(e.client_address for e in events)


def test_existing_holder_is_told(
    client: Any, world: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(world.customer_south)
    right = _form(world, bill_code=world.objects["north_account"].bill_code)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("customers:link"), right).status_code == 302
    assert [m.to for m in mailoutbox] == [[world.customer.email]]
    assert "NORTH-ACCT-1" in mailoutbox[0].body
