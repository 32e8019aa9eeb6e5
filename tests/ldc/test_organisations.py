"""Onboarding records (#23): registration application, contacts by role, organisations with
their own staff and the authority LDCs delegate to them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ldc import organisations as orgs
from ldc.models import Organisation, OrganisationStaff
from meters.models import BillingAgent, SdpBillingAgent
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 12, 7)


def admin(world: Any, ldc: str = "north") -> Any:
    return actor_for_user(world.user(ldc, "ldc_admin"))


def test_application_and_contacts_by_role(world: Any) -> None:
    with pytest.raises(ValidationError, match="OEB"):
        orgs.application_submit(
            ldc=world.north, legal_name="Northwind", oeb_licence=" ", actor=admin(world)
        )
    with pytest.raises(PermissionDenied):
        orgs.application_submit(
            ldc=world.north, legal_name="N", oeb_licence="ED-1", actor=admin(world, "south")
        )
    app = orgs.application_submit(
        ldc=world.north,
        legal_name="Northwind Hydro Inc.",
        oeb_licence="ED-2002-0555",
        actor=admin(world),
    )
    assert app.submitted_by == world.user("north", "ldc_admin")
    assert orgs.contacts_missing(world.north) == ["primary", "technical", "billing", "privacy"]
    orgs.contact_add(
        ldc=world.north, role="primary", name="A. Lee", email="lee@n.example", actor=admin(world)
    )
    with pytest.raises(ValidationError, match="not a contact role"):
        orgs.contact_add(
            ldc=world.north, role="boss", name="X", email="x@n.example", actor=admin(world)
        )
    with pytest.raises(ValidationError, match="not an e-mail"):
        orgs.contact_add(
            ldc=world.north, role="privacy", name="X", email="nope", actor=admin(world)
        )
    assert orgs.contacts_missing(world.north) == ["technical", "billing", "privacy"]
    assert AuditEvent.objects.filter(action="contact.added").count() == 1


def served_by(ldc: Any, code: str, n: int, start: dt.date = dt.date(2025, 1, 1)) -> list[str]:
    agent, _ = BillingAgent.objects.get_or_create(ldc=ldc, code=code)
    ids = []
    for _ in range(n):
        sdp = factories.SdpFactory(ldc=ldc)
        SdpBillingAgent.objects.create(ldc=ldc, sdp=sdp, agent=agent, effective_from=start)
        ids.append(sdp.sdp_id)
    return ids


def test_an_agents_staff_see_only_the_delegating_ldcs_sdps_of_that_agent(world: Any) -> None:
    billco = Organisation.objects.create(kind="billing_agent", name="BillCo", code="BILLCO")
    other = Organisation.objects.create(kind="billing_agent", name="Other", code="OTHER")
    clerk = factories.UserFactory(email="clerk@billco.example")
    OrganisationStaff.objects.create(organisation=billco, user=clerk)
    third = factories.LdcFactory(slug="third", name="Third Hydro")
    north_mine = served_by(world.north, "BILLCO", 3)
    served_by(world.north, "OTHER", 2)  # north's SDPs of another agent
    south_mine = served_by(world.south, "BILLCO", 2)
    served_by(third, "BILLCO", 4)  # third never delegates
    orgs.delegate(
        ldc=world.north,
        organisation=billco,
        scope="sdps.view",
        starts_on=dt.date(2026, 1, 1),
        actor=admin(world),
    )
    orgs.delegate(
        ldc=world.south,
        organisation=billco,
        scope="sdps.view",
        starts_on=dt.date(2026, 6, 1),
        ends_on=dt.date(2026, 12, 31),
        actor=admin(world, "south"),
    )
    # a delegation of another scope does not let the staff see SDPs
    orgs.delegate(
        ldc=third,
        organisation=billco,
        scope="billing.request",
        starts_on=dt.date(2026, 1, 1),
        actor=actor_for_user(world.coordinator),
    )
    orgs.delegate(
        ldc=world.north,
        organisation=other,
        scope="sdps.view",
        starts_on=dt.date(2026, 1, 1),
        actor=admin(world),
    )
    seen = set(orgs.sdps_for_agent_staff(clerk, DAY).values_list("sdp_id", flat=True))
    assert seen == set(north_mine + south_mine)
    # before south's delegation starts, and after it ends, only north's
    for day in (dt.date(2026, 5, 31), dt.date(2027, 1, 1)):
        seen = set(orgs.sdps_for_agent_staff(clerk, day).values_list("sdp_id", flat=True))
        assert seen == set(north_mine)
    # someone who is no organisation's staff sees nothing
    assert not orgs.sdps_for_agent_staff(world.user("north", "back_office"), DAY).exists()


def test_delegations_are_the_ldc_admins_with_real_dates(world: Any) -> None:
    billco = Organisation.objects.create(kind="billing_agent", name="BillCo", code="BILLCO")
    with pytest.raises(PermissionDenied):
        orgs.delegate(
            ldc=world.north,
            organisation=billco,
            scope="sdps.view",
            starts_on=DAY,
            actor=actor_for_user(world.user("north", "back_office")),
        )
    with pytest.raises(ValidationError, match="ends before it starts"):
        orgs.delegate(
            ldc=world.north,
            organisation=billco,
            scope="sdps.view",
            starts_on=DAY,
            ends_on=DAY - dt.timedelta(days=1),
            actor=admin(world),
        )
    orgs.delegate(
        ldc=world.north, organisation=billco, scope="sdps.view", starts_on=DAY, actor=admin(world)
    )
    with pytest.raises(ValidationError, match="already holds"):
        orgs.delegate(
            ldc=world.north,
            organisation=billco,
            scope="sdps.view",
            starts_on=DAY + dt.timedelta(days=30),
            actor=admin(world),
        )
    assert AuditEvent.objects.filter(action="delegation.granted").count() == 1


def test_records_page_and_agent_page(client: Any, world: Any) -> None:
    from django.urls import reverse

    billco = Organisation.objects.create(kind="billing_agent", name="BillCo", code="BILLCO")
    client.force_login(world.user("north", "ldc_admin"))
    url = reverse("ldc:records")
    page = client.post(
        url, {"form": "contact", "role": "privacy", "name": "P", "email": "bad"}, follow=True
    ).content.decode()
    assert "is not an e-mail address" in page
    client.post(url, {"form": "application", "legal_name": "Northwind Inc.", "oeb_licence": "ED-1"})
    page = client.post(
        url,
        {
            "form": "delegation",
            "organisation": billco.pk,
            "scope": "sdps.view",
            "starts_on": "2026-01-01",
        },
        follow=True,
    ).content.decode()
    assert "Northwind Inc." in page and "The authority is delegated." in page
    mine = served_by(world.north, "BILLCO", 2)
    served_by(world.south, "BILLCO", 2)  # south did not delegate
    clerk = factories.UserFactory(email="clerk@billco.example")
    OrganisationStaff.objects.create(organisation=billco, user=clerk)
    client.force_login(clerk)
    page = client.get(reverse("ldc:agent-sdps")).content.decode()
    assert all(s in page for s in mine) and "Southshore" not in page
    client.force_login(world.user("north", "back_office"))
    assert client.get(reverse("ldc:agent-sdps")).status_code == 403
