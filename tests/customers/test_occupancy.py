"""Occupancy (issue 21, point 5): a customer sees an SDP's reads only while their account lived
there. Tried as the two households would: the new occupant asks for the days before they moved
in, the old one for the days after they left, on every page and in both download formats."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.urls import reverse

from customers import occupancy
from customers.models import AccountLink, AccountSdp
from meters.reads.interfaces import green_button
from meters.reads.interfaces.base import IntervalBatch, Quality
from tests import factories

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("America/Toronto")
MOVE_IN = dt.date(2026, 3, 1)  # the new household's first day; the old one's last is Feb 28
BOUNDARY_S = int(dt.datetime(2026, 3, 1, tzinfo=TZ).timestamp())


@pytest.fixture
def moved(world: Any, north_reads: Any) -> Any:
    """NORTH-SDP-1 changes hands on 2026-03-01: world.customer's account moves out, a new
    account (linked by a new person) moves in."""
    sdp = world.objects["north_sdp"]
    new_account = factories.AccountFactory(ldc=world.north, account_number="NORTH-ACCT-2")
    occupancy.occupancy_move_in(account=new_account, sdp=sdp, on=MOVE_IN)
    newcomer = factories.UserFactory(email="newcomer@north.test.example")
    AccountLink.objects.create(user=newcomer, account=new_account)
    world.newcomer, world.new_account = newcomer, new_account
    return world


def _url(page: str) -> str:
    return reverse(f"customers:usage-{page}", args=["north", "NORTH-SDP-1"])


def _present(client: Any, page: str, date: str) -> int:
    response = client.get(_url(page), {"date": date})
    assert response.status_code == 200
    return int(response.context["hours_present"])


def test_move_in_closes_the_previous_occupancy(moved: Any) -> None:
    old = AccountSdp.objects.get(account=moved.objects["north_account"])
    assert (old.move_in, old.move_out) == (dt.date(2020, 1, 1), dt.date(2026, 2, 28))
    assert occupancy.account_sdp_periods(moved.new_account) == [("NORTH-SDP-1", MOVE_IN, None)]
    assert occupancy.account_sdp_periods(moved.objects["north_account"]) == [
        ("NORTH-SDP-1", dt.date(2020, 1, 1), dt.date(2026, 2, 28))
    ]


def test_visible_sdps_follow_the_dates(moved: Any) -> None:
    old_account = moved.objects["north_account"]
    assert list(occupancy.visible_sdps(old_account, dt.date(2026, 2, 28))) == [
        moved.objects["north_sdp"]
    ]
    assert not occupancy.visible_sdps(old_account, MOVE_IN).exists()
    assert not occupancy.visible_sdps(moved.new_account, dt.date(2026, 2, 28)).exists()
    assert occupancy.visible_sdps(moved.new_account, MOVE_IN).count() == 1


def test_clip_account_range(moved: Any) -> None:
    sdp = moved.objects["north_sdp"]
    feb, mar = dt.date(2026, 2, 1), dt.date(2026, 3, 31)
    assert occupancy.clip_account_range(moved.new_account, sdp, feb, mar) == (MOVE_IN, mar)
    assert occupancy.clip_account_range(moved.objects["north_account"], sdp, feb, mar) == (
        feb,
        dt.date(2026, 2, 28),
    )
    assert occupancy.clip_account_range(moved.new_account, sdp, feb, dt.date(2026, 2, 28)) is None


def test_a_later_move_in_cannot_be_overlapped(moved: Any) -> None:
    third = factories.AccountFactory(ldc=moved.north, account_number="NORTH-ACCT-3")
    with pytest.raises(ValueError, match="moved in"):
        occupancy.occupancy_move_in(
            account=third, sdp=moved.objects["north_sdp"], on=dt.date(2026, 2, 1)
        )


def test_new_occupant_sees_no_day_before_moving_in(client: Any, moved: Any) -> None:
    client.force_login(moved.newcomer)
    assert _present(client, "day", "2026-02-28") == 0
    assert _present(client, "day", "2026-02-15") == 0
    assert _present(client, "day", "2026-03-10") == 24


def test_old_occupant_sees_no_day_after_moving_out(client: Any, moved: Any) -> None:
    client.force_login(moved.customer)
    assert _present(client, "day", "2026-03-01") == 0
    assert _present(client, "day", "2026-03-10") == 0
    assert _present(client, "day", "2026-02-27") == 24


def test_month_and_week_pages_split_at_the_move(client: Any, moved: Any) -> None:
    # The week of 2026-02-23 (Mon) .. 2026-03-01 (Sun): six days old, one day new.
    client.force_login(moved.newcomer)
    assert _present(client, "week", "2026-02-25") == 24
    assert _present(client, "month", "2026-02-10") == 0
    client.force_login(moved.customer)
    assert _present(client, "week", "2026-02-25") == 6 * 24
    assert _present(client, "month", "2026-03-10") == 0


def test_old_occupants_latest_reading_is_their_last_day(client: Any, moved: Any) -> None:
    client.force_login(moved.customer)
    latest = client.get(_url("day"), {"date": "2026-02-27"}).context["latest"]
    assert latest is not None and latest <= dt.datetime(2026, 3, 1, tzinfo=TZ)


def test_plans_and_insights_start_at_move_in(client: Any, moved: Any) -> None:
    client.force_login(moved.newcomer)
    for page in ("plans", "insights"):
        response = client.get(_url(page))
        assert response.status_code == 200
        assert response.context["start"] >= MOVE_IN


def _download(client: Any, fmt: str) -> Any:
    data = {"start": "2026-02-01", "end": "2026-03-31", "format": fmt}
    response = client.post(_url("download"), data)
    assert response.status_code == 200
    return response.content.decode()


def _xml_starts(text: str) -> np.ndarray:
    batches = green_button.parse(io.BytesIO(text.encode()), filename="gb.xml", tz=TZ)
    batch = IntervalBatch.concat([b.intervals for b in batches])
    return np.asarray(batch.start)[np.asarray(batch.quality) != Quality.MISSING]


def _csv_starts(text: str) -> list[int]:
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    return [
        int(dt.datetime.fromisoformat(r[1].replace("Z", "+00:00")).timestamp())
        for r in rows
        if r[4]
    ]


def test_download_of_new_occupant_holds_only_their_days(client: Any, moved: Any) -> None:
    client.force_login(moved.newcomer)
    xml = _xml_starts(_download(client, "xml"))
    csv = _csv_starts(_download(client, "csv"))
    # Reads end 2026-04-01 00:00 UTC (north_reads); March has the 23-hour DST day.
    hours = (int(dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp()) - BOUNDARY_S) // 3600
    assert xml.size == hours == len(csv)
    assert xml.min() == BOUNDARY_S and min(csv) == BOUNDARY_S


def test_download_of_old_occupant_stops_at_move_out(client: Any, moved: Any) -> None:
    client.force_login(moved.customer)
    xml = _xml_starts(_download(client, "xml"))
    csv = _csv_starts(_download(client, "csv"))
    assert xml.size == 28 * 24 and len(csv) == 28 * 24
    assert xml.max() < BOUNDARY_S and max(csv) < BOUNDARY_S


def test_home_page_says_when_they_moved_out(client: Any, moved: Any) -> None:
    client.force_login(moved.customer)
    body = client.get(reverse("home")).content.decode()
    assert "Moved out Feb 28, 2026" in body
