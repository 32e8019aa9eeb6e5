"""Every URL the project has, tried as people who must not see another LDC's or customer's data.

The patterns come from the URL resolver itself, so a new page or endpoint is covered without
editing this test; a new kind of URL argument fails here until KWARG_VALUES can fill it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from meters.models import ReadFile
from portal.models import AuditEvent
from portal.tenancy import Membership
from portal.tokens import ApiToken

pytestmark = pytest.mark.django_db


def iter_patterns(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, list[str]]]:
    """(namespaced url name, its argument names) of every named pattern."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from iter_patterns(entry, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            args = list(entry.pattern.regex.groupindex)
            yield f"{namespace}{entry.name}", args


def all_named_urls() -> list[tuple[str, list[str]]]:
    seen: dict[str, list[str]] = {}
    for name, args in iter_patterns(get_resolver()):
        seen.setdefault(name, args)
    return sorted(seen.items())


def _admin_object_id(name: str, world: Any) -> str:
    """The pk of one of north's objects for an admin change/delete/history URL."""
    app_model = name.split(":", 1)[1].rsplit("_", 1)[0]
    for model in apps.get_models():
        if f"{model._meta.app_label}_{model._meta.model_name}" == app_model:
            row = _north_row(model, world)
            return str(row.pk) if row is not None else "999999"
    return "999999"


def _north_row(model: Any, world: Any) -> Any:
    field_names = {f.name for f in model._meta.get_fields()}
    if "ldc" in field_names:
        return model.objects.filter(ldc=world.north).first()
    if model._meta.label == "ldc.LDC":
        return world.north
    if model._meta.label == "portal.User":
        return world.user("north", "ldc_admin")
    if model._meta.label == "customers.AccountLink":
        return world.customer.account_links.first()
    return model.objects.first()


def kwarg_values(world: Any) -> dict[str, Any]:
    north_admin = world.user("north", "ldc_admin")
    return {
        "slug": world.north.slug,
        "sdp_id": "NORTH-SDP-1",
        "serial": "NORTH-MTR-1",
        "key_id": world.objects["north_token"].key_id,
        "member_id": Membership.objects.get(user=north_admin).pk,
        "link_id": world.customer.account_links.first().pk,
        "public_id": world.objects["north_file"].public_id,
        "format": "json",
        "app_label": "meters",
        "content_type_id": "1",
        "key": "x-invalid-key",
        "uidb36": "1",
        "url": "x",
        "path": "x",
        "day": "2026-03-07",
        "stage": "preparation",
        "item_id": world.objects["north_evidence"].item_id,
        "evidence_id": world.objects["north_evidence"].pk,
        "day_number": 1,
        "number": world.objects["north_group"].number,
        "session_id": world.objects["north_seat"].session_id,
        "registration_id": world.objects["north_seat"].pk,
        "token": world.objects["north_invite_token"],
        # ESPI resources (connect/): ids of nothing here; tokens' reach is tested in tests/connect/.
        "client_id": "no-such-client",
        "authorization": "00000000-0000-4000-8000-000000000001",
        "subscription": "00000000-0000-4000-8000-000000000002",
        "usage_point": "1",
        "meter_reading": "1",
        "reading_type": "1",
        "block": "1",
        "ltp": "1",
    }


def build_url(name: str, args: list[str], world: Any) -> str:
    values = kwarg_values(world)
    kwargs: dict[str, Any] = {}
    for arg in args:
        if arg == "object_id" and name.startswith("admin:"):
            kwargs[arg] = _admin_object_id(name, world)
        elif arg == "public_id" and name.startswith("connect:"):
            # Connect's third parties and consents are named by UUID; their cross-LDC refusals
            # are tested in tests/connect/ (an id of nothing here: refused like any other).
            kwargs[arg] = "00000000-0000-4000-8000-000000000000"
        elif arg in values:
            kwargs[arg] = values[arg]
        else:
            pytest.fail(f"URL {name} takes '{arg}': add a value of north's to kwarg_values()")
    return reverse(name, kwargs=kwargs)


@pytest.fixture
def north_secrets(world: Any) -> list[str]:
    """Strings that identify north's private objects (staff, registry, customers, files)."""
    from ldc.services import api_token_create
    from portal.access import actor_for_user

    token, _ = api_token_create(
        ldc=world.north,
        name="North CIS secret token",
        role="billing_agent",
        actor=actor_for_user(world.user("north", "ldc_admin")),
    )
    world.objects["north_token"] = token
    from customers.services import customer_invitation_create

    _, world.objects["north_invite_token"] = customer_invitation_create(
        ldc=world.north,
        account=world.objects["north_account"],
        email="invitee@north.test.example",
        accept_url=lambda token: f"/me/invite/{token}/",
        actor=actor_for_user(world.user("north", "ldc_admin")),
    )
    world.objects["north_file"] = ReadFile.objects.create(
        ldc=world.north,
        interface="csv",
        sha256="a" * 64,
        original_name="north-private-reads.csv",
        file="read_files/north-private-reads.csv",
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ldc.models import EnrollmentGroup, TrainingRegistration
    from ldc.stages import evidence_upload, stages_ensure
    from tests.factories import training_session

    north_admin = actor_for_user(world.user("north", "ldc_admin"))
    item = stages_ensure(ldc=world.north)[0].items.first()
    world.objects["north_evidence"] = evidence_upload(
        item=item,
        upload=SimpleUploadedFile("north-private-evidence.pdf", b"north"),
        actor=north_admin,
    )
    world.objects["north_group"] = EnrollmentGroup.objects.create(
        ldc=world.north, number=1, name="North private group"
    )
    world.objects["north_seat"] = TrainingRegistration.objects.create(
        ldc=world.north, session=training_session(), user=world.user("north", "back_office")
    )
    return [
        "north-private-evidence.pdf",
        "North private group",
        "NORTH-SDP-1",
        "NORTH-MTR-1",
        "NORTH-ACCT-1",
        "@north.test.example",
        "North CIS secret token",
        "north-private-reads.csv",
        "customer@north",
        "invitee@north",
    ]


CUSTOMER_DATA = ["NORTH-ACCT-1", "SOUTH-ACCT-1", "customer@north", "customer@south"]


def _visitors(world: Any, secrets: list[str]) -> list[tuple[str, Any, list[str]]]:
    return [
        ("south admin", world.user("south", "ldc_admin"), secrets + ["Northwind Test Hydro"]),
        (
            "south AMI operator",
            world.user("south", "ami_operator"),
            secrets + ["Northwind Test Hydro"],
        ),
        ("south customer", world.customer_south, secrets),
        ("coordinator", world.coordinator, CUSTOMER_DATA + ["North CIS secret token"]),
        ("anonymous", None, secrets + CUSTOMER_DATA),
    ]


def _state(world: Any) -> tuple[Any, ...]:
    """What a forbidden request could have changed of north's."""
    from meters.models import Meter, ServiceDeliveryPoint

    return (
        AuditEvent.objects.filter(ldc=world.north).count(),
        list(Membership.objects.filter(ldc=world.north).values_list("user_id", "role")),
        list(ApiToken.objects.for_ldc(world.north).values_list("key_id", "revoked_at")),
        list(ServiceDeliveryPoint.objects.for_ldc(world.north).values()),
        list(Meter.objects.for_ldc(world.north).values()),
        world.customer.account_links.count(),
    )


SKIP_POST = {"account_logout"}  # would end the session the walk is using


def test_no_page_or_endpoint_leaks_another_ldcs_data(
    client: Any, world: Any, north_secrets: list[str]
) -> None:
    urls = [(name, build_url(name, args, world)) for name, args in all_named_urls()]
    assert len(urls) > 50, "the resolver walk found too few URLs"
    before = _state(world)
    leaks: list[str] = []
    for who, user, secrets in _visitors(world, north_secrets):
        for name, url in urls:
            for method in ("get", "post"):
                if method == "post" and name in SKIP_POST:
                    continue
                client.logout()
                if user is not None:
                    client.force_login(user)
                response = getattr(client, method)(url)
                body = response.content.decode("utf-8", errors="replace")
                if response.status_code >= 500:
                    leaks.append(
                        f"{who} {method.upper()} {url}: server error {response.status_code}"
                    )
                leaks += [f"{who} {method.upper()} {url} shows {s!r}" for s in secrets if s in body]
    assert not leaks, "\n".join(leaks)
    assert _state(world) == before, "a forbidden request changed north's data"


def test_the_walk_reaches_the_owners_pages(
    client: Any, world: Any, north_secrets: list[str]
) -> None:
    """The same walk as north's admin does see north's data: the check above can fail."""
    client.force_login(world.user("north", "ldc_admin"))
    seen = client.get(reverse("meters:sdp-detail", args=["NORTH-SDP-1"])).content.decode()
    assert "NORTH-SDP-1" in seen and "NORTH-MTR-1" in seen
