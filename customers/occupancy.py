"""Occupancy: which account lived at which SDP, when; and clipping every customer read to it.

An account's link to an SDP (``AccountSdp``) runs from its move-in to its move-out, local dates
of the LDC, both inclusive (move-out empty: still there). DESIGN.md's privacy rule, "a customer
sees only their own data and only while they lived there", is applied here once: the usage
pages, the plans and insights, and the Green Button Download My Data export all take their
UTC spans from ``user_spans`` / ``account_spans`` and intersect them with the meter
installations (customers.selectors.meter_spans), so a new account on an SDP never sees the
previous occupant's reads, and the old account never sees the new one's. (Green Button's ESPI
model states the same: a Subscription's UsagePoints are the retail customer's own, NAESB
REQ.21 §2; Ontario's MDM/R gives a customer's data only to them or whom they authorise.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from customers.models import AccountSdp, CustomerAccount
from customers.selectors import meter_spans
from meters.models import ServiceDeliveryPoint
from meters.reads.intervals import local_range_utc

Period = tuple[dt.date, dt.date | None]  # move-in, move-out (None: still there)


def account_sdp_periods(account: CustomerAccount) -> list[tuple[str, dt.date, dt.date | None]]:
    """(SDP id, move-in, move-out or None) of each SDP the account occupies or occupied."""
    rows = (
        AccountSdp.objects.filter(account=account)
        .order_by("move_in", "sdp__sdp_id")
        .values_list("sdp__sdp_id", "move_in", "move_out")
    )
    return [(sdp_id, move_in, move_out) for sdp_id, move_in, move_out in rows]


def _covering(on: dt.date) -> Q:
    return Q(occupancies__move_in__lte=on) & (
        Q(occupancies__move_out__isnull=True) | Q(occupancies__move_out__gte=on)
    )


def visible_sdps(account: CustomerAccount, on: dt.date) -> QuerySet[ServiceDeliveryPoint]:
    """The SDPs the account occupies on local date ``on``."""
    return (
        ServiceDeliveryPoint.objects.for_ldc(account.ldc_id)
        .filter(_covering(on), occupancies__account=account)
        .distinct()
    )


def user_visible_sdps(user: Any, ldc_id: int, on: dt.date) -> QuerySet[ServiceDeliveryPoint]:
    """The SDPs the user's linked accounts occupy on local date ``on``, at one LDC."""
    return (
        ServiceDeliveryPoint.objects.for_ldc(ldc_id)
        .filter(_covering(on), occupancies__account__links__user=user)
        .distinct()
    )


def clip_dates(
    periods: Iterable[Period], start: dt.date, end: dt.date
) -> list[tuple[dt.date, dt.date]]:
    """Local dates start..end (inclusive) cut to the periods: the parts that lie inside."""
    out = []
    for move_in, move_out in sorted(periods, key=lambda p: p[0]):
        lo, hi = max(start, move_in), min(end, move_out or end)
        if lo <= hi:
            out.append((lo, hi))
    return out


def clip_account_range(
    account: CustomerAccount, sdp: ServiceDeliveryPoint, start: dt.date, end: dt.date
) -> tuple[dt.date, dt.date] | None:
    """start..end cut to the account's occupancy of ``sdp`` (None: it did not live there then)."""
    parts = clip_dates(_periods(AccountSdp.objects.filter(account=account, sdp=sdp)), start, end)
    return parts[0] if parts else None  # one occupancy per (account, SDP): one part at most


def user_periods(user: Any, sdp: ServiceDeliveryPoint) -> list[Period]:
    """The occupancies of ``sdp`` by the accounts ``user`` linked (several if they moved back)."""
    return _periods(AccountSdp.objects.filter(sdp=sdp, account__links__user=user))


def account_periods(account: CustomerAccount, sdp: ServiceDeliveryPoint) -> list[Period]:
    return _periods(AccountSdp.objects.filter(account=account, sdp=sdp))


def _periods(rows: QuerySet[AccountSdp]) -> list[Period]:
    return sorted(set(rows.values_list("move_in", "move_out")))


def utc_spans(
    periods: Sequence[Period], tz: ZoneInfo, first_s: int, after_s: int
) -> list[tuple[int, int]]:
    """[first, after) UTC seconds of each period's local days, cut to [first_s, after_s)."""
    out = []
    for move_in, move_out in periods:
        lo = int(dt.datetime.combine(move_in, dt.time(), tz).timestamp())
        hi = after_s if move_out is None else local_range_utc(move_out, move_out, tz)[1]
        lo, hi = max(lo, first_s), min(hi, after_s)
        if lo < hi:
            out.append((lo, hi))
    return out


def clip_spans(
    spans: Sequence[tuple[int, str, int, int]], occupied: Sequence[tuple[int, int]]
) -> list[tuple[int, str, int, int]]:
    """Meter installation spans (meter, serial, first s, after s) cut to the occupied spans."""
    out = []
    for meter, serial, lo, hi in spans:
        for o_lo, o_hi in occupied:
            a, b = max(lo, o_lo), min(hi, o_hi)
            if a < b:
                out.append((meter, serial, a, b))
    return out


def occupied_meter_spans(
    periods: Sequence[Period], sdp: ServiceDeliveryPoint, first_s: int, after_s: int
) -> list[tuple[int, str, int, int]]:
    """The SDP's meter installations over [first_s, after_s) UTC s, cut to the periods: the
    spans every customer read is taken from (customers.selectors.stored_rows, export_days)."""
    tz = ZoneInfo(sdp.ldc.time_zone)
    occupied = utc_spans(periods, tz, first_s, after_s)
    return clip_spans(meter_spans(sdp, first_s, after_s), occupied) if occupied else []


def account_spans(
    account: CustomerAccount, sdp: ServiceDeliveryPoint, first_s: int, after_s: int
) -> list[tuple[int, str, int, int]]:
    """occupied_meter_spans of one account (e.g. a Green Button Connect subscription's)."""
    return occupied_meter_spans(account_periods(account, sdp), sdp, first_s, after_s)


def occupancy_move_in(
    *, account: CustomerAccount, sdp: ServiceDeliveryPoint, on: dt.date
) -> AccountSdp:
    """Record that ``account`` moves in at ``sdp`` on ``on``; whoever lived there moves out the
    day before (occupancies of one SDP never overlap). Callers audit (customers.services)."""
    if account.ldc_id != sdp.ldc_id:
        raise ValueError("The account and the SDP are of different LDCs.")
    before = on - dt.timedelta(days=1)
    earlier = AccountSdp.objects.filter(sdp=sdp, move_in__lte=before).exclude(account=account)
    earlier.filter(Q(move_out__isnull=True) | Q(move_out__gt=before)).update(move_out=before)
    if AccountSdp.objects.filter(sdp=sdp, move_in__gte=on).exclude(account=account).exists():
        raise ValueError("Another account moved in at this SDP on or after that day.")
    row, _ = AccountSdp.objects.update_or_create(
        account=account, sdp=sdp, defaults={"move_in": on, "move_out": None}
    )
    return row


def occupancy_move_out(*, account: CustomerAccount, sdp: ServiceDeliveryPoint, on: dt.date) -> int:
    """Record the account's last day at ``sdp``; returns the rows changed (0: never lived there)."""
    return AccountSdp.objects.filter(account=account, sdp=sdp, move_in__lte=on).update(move_out=on)
