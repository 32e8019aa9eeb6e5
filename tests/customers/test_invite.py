"""LDC staff invite a customer by e-mail; the one-time link links the account after login."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from customers.models import AccountLink, CustomerInvitation
from portal.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the e-mail goes out on commit

INVITEE = "new.customer@north.test.example"


def _invite(client: Any, world: Any, role: str = "back_office", **data: str) -> Any:
    client.force_login(world.user("north", role))
    form = {"account_number": "NORTH-ACCT-1", "email": INVITEE} | data
    return client.post(reverse("customers:invitations"), form)


def _token() -> str:
    found = re.search(r"/me/invite/([^/\s]+)/", mail.outbox[-1].body)
    assert found is not None
    return found.group(1)


def test_staff_invite_sends_a_one_time_link_and_is_audited(client: Any, world: Any) -> None:
    response = _invite(client, world)
    assert response.status_code == 302
    invitation = CustomerInvitation.objects.get()
    assert invitation.ldc == world.north and invitation.email == INVITEE
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [INVITEE]
    token = _token()
    assert token not in invitation.token_hash  # only the hash is stored
    assert AuditEvent.objects.filter(action="customer_invitation.created", ldc=world.north).exists()
    page = client.get(reverse("customers:invitations")).content.decode()
    assert INVITEE in page


def test_invitee_signs_in_and_links_the_account_once(client: Any, world: Any) -> None:
    _invite(client, world)
    token = _token()
    url = reverse("customers:invite-accept", args=[token])
    client.logout()
    assert client.get(url).status_code == 302  # to the login page, then back here
    person = UserFactory(email=INVITEE)
    client.force_login(person)
    assert "NORTH-ACCT-1" in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert AccountLink.objects.filter(user=person, account__account_number="NORTH-ACCT-1").exists()
    assert AuditEvent.objects.filter(action="customer_invitation.accepted").count() == 1
    assert AuditEvent.objects.filter(action="account.linked", actor=person).count() == 1
    assert client.get(url).status_code == 404  # used
    sdp_day = reverse("customers:usage-day", args=["north", "NORTH-SDP-1"])
    assert client.get(sdp_day).status_code == 200


def test_someone_else_with_the_link_cannot_use_it(client: Any, world: Any) -> None:
    _invite(client, world)
    url = reverse("customers:invite-accept", args=[_token()])
    client.force_login(world.customer_south)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert not AccountLink.objects.filter(user=world.customer_south, account__ldc=world.north)
    assert client.get(reverse("customers:invite-accept", args=["nonsense"])).status_code == 404


def test_an_account_of_another_ldc_cannot_be_invited(client: Any, world: Any) -> None:
    response = _invite(client, world, account_number="SOUTH-ACCT-1")
    assert response.status_code == 200
    assert "No account with this number" in response.content.decode()
    assert not CustomerInvitation.objects.exists() and not mail.outbox


def test_roles_that_cannot_write_the_registry_cannot_invite(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "billing_agent"))
    assert client.get(reverse("customers:invitations")).status_code == 403
    client.force_login(world.customer)
    assert client.get(reverse("customers:invitations")).status_code == 403


def test_south_staff_do_not_see_north_invitations(client: Any, world: Any) -> None:
    _invite(client, world)
    client.logout()  # the sender's "invitation sent" message stays with the sender
    client.force_login(world.user("south", "ldc_admin"))
    assert INVITEE not in client.get(reverse("customers:invitations")).content.decode()
