"""The ESPI resource server, fetched by the third party's requests-oauthlib session from the
live server: every answer validates against espi.xsd, the Batch reads back through our own
green_button interface to the stored intervals, and the attacker's cases get no data."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from connect import scopes, services
from connect.models import Consent, ThirdParty
from meters.reads.day_arrays import IntervalFlag
from meters.reads.interfaces import green_button
from meters.reads.interfaces.base import IntervalBatch, Quality
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests.connect.conftest import Party, authorize_url, consent, fetch_token, session
from tests.customers.conftest import store_hourly
from tests.espi import assert_valid_espi

pytestmark = pytest.mark.django_db(transaction=True)
TZ = ZoneInfo("America/Toronto")
R = "/espi/1_1/resource"


@pytest.fixture
def reads(world: Any) -> Any:
    """Hourly reads of both LDCs' meters over the last 20 UTC days (to yesterday)."""
    first = timezone.now().date() - dt.timedelta(days=20)
    store_hourly(world.objects["south_meter"], first, 20, seed=9)
    return store_hourly(world.objects["north_meter"], first, 20, estimated_hours=2)


def _grant(live_server: Any, world: Any, party: Party, scope: str = scopes.USAGE) -> Any:
    oauth = session(party, scope)
    client = Client()
    client.force_login(world.customer)
    answer = consent(client, authorize_url(oauth, live_server.url), sdps=["NORTH-SDP-1"])
    fetch_token(oauth, live_server.url, party, answer["Location"])
    return oauth


@pytest.fixture
def oauth(live_server: Any, world: Any, party: Party, reads: Any) -> Any:
    return _grant(live_server, world, party)


def _sub() -> str:
    return str(Consent.objects.get().public_id)


def _get(oauth: Any, live_server: Any, path: str, **params: Any) -> Any:
    return oauth.get(f"{live_server.url}{R}/{path}", params=params or None, timeout=60)


def _parse(text: str) -> IntervalBatch:
    batches = green_button.parse(io.BytesIO(text.encode()), filename="batch.xml", tz=TZ)
    return IntervalBatch.concat([b.intervals for b in batches])


def test_batch_subscription_reads_back_to_the_stored_intervals(
    oauth: Any, live_server: Any, reads: Any
) -> None:
    response = _get(oauth, live_server, f"Batch/Subscription/{_sub()}")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    assert_valid_espi(response.content)
    parsed = _parse(response.text)
    present = parsed.quality != Quality.MISSING
    got = dict(zip(parsed.start[present].tolist(), parsed.wh[present].tolist(), strict=True))
    # The stored arrays themselves: every present slot, its watt-hours.
    starts = (reads.key & ((1 << 20) - 1))[:, None] * 86_400 + np.arange(24) * 3600
    keep = (reads.flags & np.uint8(IntervalFlag.MISSING)) == 0
    expected = dict(zip(starts[keep].tolist(), reads.wh[keep].astype(int).tolist(), strict=True))
    assert got == expected and len(got) == 20 * 24 - 1
    # The reader keys a UsagePoint by its self link from Subscription/ (#18); its last segment
    # is the serial it resolves to.
    assert {m.rsplit("/", 1)[-1] for m in parsed.meter.tolist()} == {"NORTH-MTR-1"}
    assert "SOUTH" not in response.text


def test_every_resource_validates_and_names_the_standard_paths(
    oauth: Any, live_server: Any, party: Party
) -> None:
    sub = _sub()
    up = f"Subscription/{sub}/UsagePoint/NORTH-MTR-1"
    mr = f"{up}/MeterReading/60"
    blocks = _get(oauth, live_server, f"{mr}/IntervalBlock")
    block_ids = re.findall(r"IntervalBlock/(\d{8})\" type=\"espi-entry", blocks.text)
    assert len(block_ids) >= 20
    for path in (
        f"Subscription/{sub}/UsagePoint",
        up,
        f"{up}/MeterReading",
        mr,
        f"{mr}/IntervalBlock",
        f"{mr}/IntervalBlock/{block_ids[3]}",
        "ReadingType/NORTH-MTR-1-60",
        "LocalTimeParameters/1",
        "Authorization",
        f"Authorization/{sub}",
        f"ApplicationInformation/{party.client_id}",
    ):
        response = _get(oauth, live_server, path)
        assert response.status_code == 200, (path, response.text[:300])
        assert_valid_espi(response.content)
    ltp = _get(oauth, live_server, "LocalTimeParameters/1").text
    assert "<dstStartRule>360E2000</dstStartRule>" in ltp and "<tzOffset>-18000</tzOffset>" in ltp
    auth = _get(oauth, live_server, f"Authorization/{sub}").text
    assert f"Batch/Subscription/{sub}</resourceURI>" in auth and "<status>1</status>" in auth


def test_published_and_updated_bounds_select_blocks(oauth: Any, live_server: Any) -> None:
    mr = f"Subscription/{_sub()}/UsagePoint/NORTH-MTR-1/MeterReading/60/IntervalBlock"
    day = timezone.now().astimezone(TZ).date() - dt.timedelta(days=10)
    lo = dt.datetime.combine(day, dt.time(0), TZ)
    hi = dt.datetime.combine(day + dt.timedelta(days=2), dt.time(0), TZ)
    some = _get(
        oauth, live_server, mr, **{"published-min": lo.isoformat(), "published-max": hi.isoformat()}
    )
    assert_valid_espi(some.content)
    ids = re.findall(r"IntervalBlock/(\d{8})\" type=\"espi-entry", some.text)
    assert ids == [f"{day + dt.timedelta(days=d):%Y%m%d}" for d in range(3)]
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    none = _get(oauth, live_server, mr, **{"updated-min": future})
    assert none.status_code == 200 and "<IntervalBlock" not in none.text
    bad = _get(oauth, live_server, mr, **{"published-min": "yesterday"})
    assert bad.status_code == 400 and "published-min" in bad.text


def test_another_sdp_or_subscription_is_refused(oauth: Any, live_server: Any, world: Any) -> None:
    sub = _sub()
    for path in (
        f"Subscription/{sub}/UsagePoint/SOUTH-MTR-1",
        f"Subscription/{sub}/UsagePoint/SOUTH-MTR-1/MeterReading/60/IntervalBlock",
        "ReadingType/SOUTH-MTR-1-60",
    ):
        response = _get(oauth, live_server, path)
        assert response.status_code == 404 and "<IntervalReading" not in response.text
    other = _get(oauth, live_server, "Batch/Subscription/00000000-0000-4000-8000-000000000000")
    assert other.status_code == 403 and "<IntervalReading" not in other.text


def test_no_or_forged_token_is_401(live_server: Any, oauth: Any) -> None:
    import requests

    url = f"{live_server.url}{R}/Batch/Subscription/{_sub()}"
    assert requests.get(url, timeout=30).status_code == 401
    forged = requests.get(url, headers={"Authorization": "Bearer forged"}, timeout=30)
    assert forged.status_code == 401 and "WWW-Authenticate" in forged.headers


def test_revoking_refuses_the_same_token_at_once(
    oauth: Any, live_server: Any, world: Any, party: Party
) -> None:
    path = f"Batch/Subscription/{_sub()}"
    assert _get(oauth, live_server, path).status_code == 200
    client = Client()
    client.force_login(world.customer)
    assert client.post(f"/connect/consents/{_sub()}/revoke/").status_code == 302
    again = _get(oauth, live_server, path)
    assert again.status_code == 401 and "<IntervalReading" not in again.text
    with pytest.raises(Exception, match="invalid_grant"):
        oauth.refresh_token(f"{live_server.url}/oauth/token/", auth=(party.client_id, party.secret))


def test_expiry_and_suspension_end_access(oauth: Any, live_server: Any) -> None:
    path = f"Batch/Subscription/{_sub()}"
    Consent.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _get(oauth, live_server, path).status_code == 403
    Consent.objects.update(expires_at=timezone.now() + dt.timedelta(days=1))
    ThirdParty.objects.update(status=ThirdParty.Status.SUSPENDED)
    assert _get(oauth, live_server, path).status_code == 403
    ThirdParty.objects.update(status=ThirdParty.Status.ACTIVE)
    assert _get(oauth, live_server, path).status_code == 200


def test_move_out_ends_access_to_that_sdp(oauth: Any, live_server: Any, world: Any) -> None:
    world.objects["north_account"].sdps.remove(world.objects["north_sdp"])
    up = _get(oauth, live_server, f"Subscription/{_sub()}/UsagePoint/NORTH-MTR-1")
    assert up.status_code == 404
    batch = _get(oauth, live_server, f"Batch/Subscription/{_sub()}")
    assert batch.status_code == 200 and "<IntervalReading" not in batch.text


def test_usage_summary_needs_billing_and_sums_the_month(
    live_server: Any, world: Any, party: Party, reads: Any, oauth: Any
) -> None:
    up = f"Subscription/{_sub()}/UsagePoint/NORTH-MTR-1/UsageSummary"
    assert _get(oauth, live_server, up).status_code == 403  # usage-only consent
    Consent.objects.all().delete()
    both = _grant(live_server, world, party, scopes.USAGE_AND_BILLING)
    response = _get(both, live_server, f"Subscription/{_sub()}/UsagePoint/NORTH-MTR-1/UsageSummary")
    assert response.status_code == 200, response.text[:300]
    assert_valid_espi(response.content)
    values = [
        int(v)
        for v in re.findall(
            r"<uom>72</uom><value>(\d+)</value></overallConsumptionLastPeriod>", response.text
        )
    ]
    keep = (reads.flags & np.uint8(IntervalFlag.MISSING)) == 0
    assert abs(sum(values) - int(reads.wh[keep].sum())) <= len(values)
    assert all(int(c) > 0 for c in re.findall(r"<billLastPeriod>(\d+)<", response.text))


def test_every_read_is_audited_and_shown_to_the_ldc(
    oauth: Any, live_server: Any, world: Any, party: Party
) -> None:
    _get(oauth, live_server, f"Batch/Subscription/{_sub()}")
    event = AuditEvent.objects.get(action="connect.data_read")
    assert event.ldc_id == world.north.pk and event.after["intervals"] == 20 * 24 - 1
    admin = Client()
    admin.force_login(world.user("north", "ldc_admin"))
    page = admin.get(f"/connect/third-parties/{party.model.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    for action in (
        "connect.third_party_registered",
        "connect.consent_granted",
        "connect.data_read",
    ):
        assert action in html
    services.consent_revoke(consent=Consent.objects.get(), actor=actor_for_user(world.customer))
    assert (
        "connect.consent_revoked"
        in admin.get(f"/connect/third-parties/{party.model.public_id}/").content.decode()
    )
