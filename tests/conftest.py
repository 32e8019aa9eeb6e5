"""The shared test world (two LDCs, every role, a customer, a coordinator) and real services.

PostgreSQL: `make test` runs the suite a second time with DATABASE_URL on a throwaway cluster
(portal.testing.pgserver). Redis and Chromium are started here from the installed binaries;
when one is missing its tests are skipped with one line naming the Debian packages, unless
OPENMDMR_REQUIRE_SERVICES=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from portal.tenancy import LDC, Role
from portal.testing.services import MissingService, RedisServer, services_required
from tests import factories
from tests.meters.samples import SAMPLE_SETS, SAMPLES, SampleSet


def pytest_configure(config: pytest.Config) -> None:
    # Fast hashing: tests create many users; the real hashers are checked by check --deploy.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """postgres_only tests are deselected (not skipped) in the SQLite pass."""
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if on_postgres:
        return
    keep = [item for item in items if item.get_closest_marker("postgres_only") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def service_missing(exc: MissingService) -> None:
    """Skip with one line naming the package to install, or fail when services are required."""
    if services_required():
        pytest.fail(f"required service missing: {exc}", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(autouse=True)
def _force_login_passes_totp(monkeypatch: pytest.MonkeyPatch) -> None:
    """``client.force_login`` stands for a finished sign-in: for a person with TOTP, one that
    passed the code (portal.two_factor). The MFA tests sign in through the real pages."""
    from django.test import Client

    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        from portal import two_factor

        if two_factor.has_totp(user):
            session = self.session
            session[two_factor.PASSED] = user.pk
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts with an empty cache: a database rolled back between tests reuses
    primary keys, and a figure cached under a reused key would leak into the next test."""
    from django.core.cache import cache

    cache.clear()
    yield


@dataclass
class World:
    """Two LDCs with staff of every role, a coordinator, and a customer of north."""

    north: LDC
    south: LDC
    staff: dict[tuple[str, str], Any] = field(default_factory=dict)
    coordinator: Any = None
    customer: Any = None
    customer_south: Any = None
    objects: dict[str, Any] = field(default_factory=dict)

    def user(self, ldc: str, role: str) -> Any:
        return self.staff[(ldc, role)]


LDC_ROLE_VALUES = [Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT, Role.AMI_OPERATOR]


def _populate(ldc: LDC, world: World, tag: str) -> None:
    for role in LDC_ROLE_VALUES:
        world.staff[(tag, role)] = factories.staff_user(ldc, role, f"{role}@{tag}.test.example")
    sdp = factories.SdpFactory(ldc=ldc, sdp_id=f"{tag.upper()}-SDP-1")
    meter = factories.MeterFactory(ldc=ldc, serial=f"{tag.upper()}-MTR-1")
    factories.install(sdp, meter)
    account = factories.AccountFactory(ldc=ldc, account_number=f"{tag.upper()}-ACCT-1")
    account.sdps.add(sdp, through_defaults={"move_in": dt.date(2020, 1, 1)})
    world.objects.update({f"{tag}_sdp": sdp, f"{tag}_meter": meter, f"{tag}_account": account})


@pytest.fixture
def world(db: Any) -> World:
    north = factories.LdcFactory(slug="north", name="Northwind Test Hydro")
    south = factories.LdcFactory(slug="south", name="Southshore Test Power")
    w = World(north=north, south=south)
    _populate(north, w, "north")
    _populate(south, w, "south")
    w.coordinator = factories.staff_user(None, Role.SME_COORDINATOR, "coord@sme.test.example")
    w.customer = factories.UserFactory(email="customer@north.test.example")
    w.customer_south = factories.UserFactory(email="customer@south.test.example")
    from customers.models import AccountLink

    AccountLink.objects.create(user=w.customer, account=w.objects["north_account"])
    AccountLink.objects.create(user=w.customer_south, account=w.objects["south_account"])
    return w


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer.start()
    except MissingService as exc:
        service_missing(exc)
    yield server
    server.stop()


def registry_ldc(registry: Path) -> LDC:
    """The LDC "sample" with a registry file loaded (every row accepted)."""
    from meters.models import ServiceDeliveryPoint
    from meters.registry.sync import read_registry_csv, registry_sync

    ldc = factories.LdcFactory(slug="sample", name="Sample Hydro")
    with registry.open("rb") as stream:
        result = registry_sync(
            ldc=ldc, rows=read_registry_csv(stream), actor=None, source="registry.csv"
        )
    assert not result.errors
    # The sample SDPs are TOU-billed from before their reads (billing quantities are computed
    # only from an SDP's TOU billing start: meters.registry.enrollment).
    ServiceDeliveryPoint.objects.for_ldc(ldc).update(tou_billing_from=dt.date(2025, 1, 1))
    return ldc


@pytest.fixture
def sample_ldc(db: Any) -> LDC:
    """An LDC with tests/data/samples/registry.csv loaded."""
    return registry_ldc(SAMPLES / "registry.csv")


@pytest.fixture(scope="session", params=SAMPLE_SETS, ids=lambda s: s.name)
def sample_set(request: pytest.FixtureRequest) -> SampleSet:
    """Each sample set in turn: the generated one, and the shared one when present (cross-check)."""
    return request.param


@pytest.fixture
def sample_set_ldc(db: Any, sample_set: SampleSet) -> LDC:
    """An LDC with the sample set's own registry.csv loaded."""
    return registry_ldc(sample_set.registry)
