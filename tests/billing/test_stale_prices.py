"""Issue #19 point 7: a warning when no OEB price set covers a priced date."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from billing.prices import PRICE_TABLE, stale_price_warning

D = dt.date


def test_a_date_past_the_newest_sets_term_warns_and_a_covered_one_does_not() -> None:
    newest = max(PRICE_TABLE, key=lambda s: s.effective)
    # Prices from Nov 1 2025 cover to Apr 30 2026 (RPP prices change May 1 and Nov 1).
    table = (replace(newest, effective=D(2025, 11, 1)),)
    assert stale_price_warning(D(2026, 3, 1), D(2026, 4, 30), table) is None
    warning = stale_price_warning(D(2026, 4, 20), D(2026, 5, 10), table)
    assert warning is not None and warning["code"] == "stale_prices"
    assert "2026-05-01" in warning["message"]
    before = stale_price_warning(D(2025, 10, 1), D(2025, 11, 5), table)
    assert before is not None and before["code"] == "stale_prices"
    assert stale_price_warning(D(2026, 1, 1), D(2026, 1, 2), ())["code"] == "no_price_set"


@pytest.mark.django_db
def test_the_request_page_warns_of_stale_prices(
    client: object, validated: object, world: object, monkeypatch: object
) -> None:
    from typing import Any

    from django.urls import reverse

    from billing import selectors
    from portal.tenancy import Membership

    c: Any = client
    w: Any = world
    newest = max(PRICE_TABLE, key=lambda s: s.effective)
    old = (replace(newest, effective=D(2025, 5, 1)),)  # covers May 1..Oct 31 2025 only
    monkeypatch.setattr(selectors, "price_table", lambda: old)  # type: ignore[attr-defined]
    user = w.user("north", "back_office")
    Membership.objects.filter(user=user).update(ldc=validated)
    user._openmdmr_membership = None
    c.force_login(user)
    response = c.post(
        reverse("billing:request"),
        {"sdp_id": "SDP-1003", "start": "2026-03-07", "end": "2026-03-08", "plan": ""},
    )
    text = c.get(response["Location"]).content.decode()
    assert 'data-code="stale_prices"' in text and "2025-11-01" in text


@pytest.mark.django_db
def test_the_quantity_api_body_and_the_settlement_csv_warn(
    client: object, validated: object
) -> None:
    from typing import Any

    from django.urls import reverse

    from ldc.services import api_token_create

    c: Any = client
    _, key = api_token_create(ldc=validated, name="CIS", role="billing_agent", actor=None)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    newest = max(s.effective for s in PRICE_TABLE)
    later = D(newest.year + 2, 6, 1)  # long past the newest set's term
    covered = c.post(
        reverse("api:billing-request-list"),
        {"sdp_id": "SDP-1001", "start": "2026-03-07", "end": "2026-03-08"},
        content_type="application/json",
        **auth,
    ).json()
    assert covered["price_warning"] is None
    stale = c.post(
        reverse("api:billing-request-list"),
        {"sdp_id": "SDP-1001", "start": str(later), "end": str(later + dt.timedelta(days=1))},
        content_type="application/json",
        **auth,
    ).json()
    assert stale["price_warning"]["code"] == "stale_prices"
    listed = c.get(reverse("api:billing-request-list"), **auth).json()["results"]
    assert {r["price_warning"] is None for r in listed} == {True, False}
    ok = c.get(
        reverse("api:billing-settlement"), {"start": "2026-03-07", "end": "2026-03-08"}, **auth
    )
    assert "X-Price-Warning" not in ok and "price_warning" not in ok.content.decode()
    csv = c.get(
        reverse("api:billing-settlement"),
        {"start": str(later), "end": str(later + dt.timedelta(days=1))},
        **auth,
    )
    assert csv["X-Price-Warning"].startswith("stale_prices: ")
    assert csv.content.decode().splitlines()[-1].startswith("# price_warning,stale_prices,")


@pytest.mark.django_db
def test_a_corrected_price_set_is_a_new_version_and_the_old_one_is_kept(world: object) -> None:
    from typing import Any

    from billing.models import OebPriceSet, OebPriceSetVersion
    from billing.services import price_set_save
    from portal.access import actor_for_user

    w: Any = world
    actor = actor_for_user(w.coordinator)
    prices: dict[str, Any] = {
        "tou": {"off_peak": 9, "mid_peak": 15, "on_peak": 20},
        "ulo": {"ultra_low_overnight": 4, "weekend_off_peak": 9, "mid_peak": 15, "on_peak": 39},
        "tiered": {"tier1": 12, "tier2": 14},
    }
    day = D(2031, 5, 1)
    price_set_save(effective=day, cents_per_kwh=prices, source="OEB (test) v1", actor=actor)
    corrected = {**prices, "tou": {"off_peak": 9.1, "mid_peak": 15, "on_peak": 20}}
    row = price_set_save(
        effective=day, cents_per_kwh=corrected, source="OEB (test) v2", actor=actor
    )
    assert row.version == 2 and row.cents_per_kwh["tou"]["off_peak"] == 9.1
    (kept,) = OebPriceSetVersion.objects.filter(price_set=OebPriceSet.objects.get(effective=day))
    assert kept.version == 1 and kept.cents_per_kwh == prices and kept.source == "OEB (test) v1"
