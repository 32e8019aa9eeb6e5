"""Members, roles and API tokens: the LDC admin's pages, the services, the token API."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from ldc.services import api_token_create
from portal.access import actor_for_user
from portal.models import AuditEvent
from portal.tenancy import Membership
from portal.tokens import ApiToken

pytestmark = pytest.mark.django_db


def test_admin_changes_a_role_and_it_is_audited(client: Any, world: Any) -> None:
    admin = world.user("north", "ldc_admin")
    member = Membership.objects.get(user=world.user("north", "ami_operator"))
    client.force_login(admin)
    response = client.post(reverse("ldc:member-role", args=[member.pk]), {"role": "back_office"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == "back_office"
    event = AuditEvent.objects.for_ldc(world.north).get(action="member.role_changed")
    assert event.before == {"role": "ami_operator"} and event.after == {"role": "back_office"}
    assert event.actor == admin and event.client_address == "127.0.0.1"


def test_last_admin_cannot_lose_the_role(client: Any, world: Any) -> None:
    admin = world.user("north", "ldc_admin")
    client.force_login(admin)
    membership = Membership.objects.get(user=admin)
    client.post(reverse("ldc:member-role", args=[membership.pk]), {"role": "back_office"})
    membership.refresh_from_db()
    assert membership.role == "ldc_admin"


def test_back_office_cannot_manage_members(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "back_office"))
    assert client.get(reverse("ldc:members")).status_code == 403


def test_admin_adds_a_member_with_a_clear_error_for_a_taken_email(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    ok = client.post(
        reverse("ldc:members"), {"email": "new@north.test.example", "role": "billing_agent"}
    )
    assert ok.status_code == 302
    assert Membership.objects.get(user__email="new@north.test.example").ldc == world.north
    taken = client.post(
        reverse("ldc:members"),
        {"email": world.user("south", "ldc_admin").email, "role": "billing_agent"},
    )
    assert taken.status_code == 400
    assert "already belongs to an organisation" in taken.content.decode()


def test_token_is_shown_once_stored_hashed_and_works_for_its_ldc_only(
    client: Any, world: Any
) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    response = client.post(reverse("ldc:tokens"), {"name": "CIS", "role": "billing_agent"})
    key = response.context["new_key"]
    token = ApiToken.objects.get(name="CIS")
    assert key not in token.key_hash and key.startswith(f"omdr_{token.key_id}_")
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    own = client.get(reverse("api:sdp-detail", args=["NORTH-SDP-1"]), **auth)
    assert own.status_code == 200 and own.json()["sdp_id"] == "NORTH-SDP-1"
    other = client.get(reverse("api:sdp-detail", args=["SOUTH-SDP-1"]), **auth)
    assert other.status_code == 404
    listing = client.get(reverse("api:sdp-list"), **auth).json()
    assert [row["sdp_id"] for row in listing["results"]] == ["NORTH-SDP-1"]


def test_revoked_or_forged_tokens_are_refused(client: Any, world: Any) -> None:
    actor = actor_for_user(world.user("north", "ldc_admin"))
    token, key = api_token_create(ldc=world.north, name="AMI", role="ami_operator", actor=actor)
    forged = key[:-4] + "AAAA"
    assert client.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token {forged}").status_code == 401
    client.force_login(world.user("north", "ldc_admin"))
    client.post(reverse("ldc:token-revoke", args=[token.key_id]))
    client.logout()
    assert client.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert AuditEvent.objects.for_ldc(world.north).filter(action="api_token.revoked").count() == 1


def test_token_role_limits_the_api(client: Any, world: Any) -> None:
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(ldc=world.north, name="AMI", role="ami_operator", actor=actor)
    response = client.get(reverse("api:audit-event-list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_audit_list_has_constant_queries(
    client: Any, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    client.get(reverse("ldc:audit"))  # warm the session
    with django_assert_max_num_queries(8):
        assert client.get(reverse("ldc:audit")).status_code == 200


def test_audit_events_are_append_only(world: Any) -> None:
    event = AuditEvent.objects.create(actor_label="x", action="test.event")
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_repeated_bad_tokens_are_throttled(client: Any, world: Any, settings: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.OPENMDMR_TOKEN_FAILURES_PER_WINDOW = 3
    actor = actor_for_user(world.user("north", "ldc_admin"))
    _, key = api_token_create(ldc=world.north, name="CIS", role="billing_agent", actor=actor)
    codes = [
        client.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token omdr_x_{i}").status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    # Even the right key waits until the window has passed: the address is locked out.
    assert client.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token {key}").status_code == 429
    cache.clear()
    assert client.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_ldc_admin_sees_only_their_ldc_in_the_django_admin(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ldc_admin"))
    page = client.get("/admin/meters/servicedeliverypoint/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "NORTH-SDP-1" in body and "SOUTH-SDP-1" not in body
    assert client.get("/admin/ldc/ldc/").status_code == 403
    client.force_login(world.user("north", "back_office"))
    assert client.get("/admin/").status_code == 302  # to the admin login: not for this role
