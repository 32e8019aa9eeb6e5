"""What a customer may see: only the accounts (and their SDPs) they linked, and their reads.

The reads of a page come in two queries: the SDP's meter installations over the range, then the
delivered channel's stored days of those meters (the unique index (ldc, meter, channel, day)
serves it). Values and flags stay packed until numpy unpacks them all at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from billing.prices import PriceSet
from customers.greenbutton import MeterDays
from customers.models import AccountLink, AccountSdp, CustomerInvitation
from customers.usage import DayBlock
from meters.models import IntervalDay, MeterInstallation, ServiceDeliveryPoint
from meters.reads.day_arrays import IntervalFlag, slots_per_day, unpack_rows
from meters.reads.intervals import local_range_utc
from portal.calendar.localtime import date_of, day_number

DAY_S = 86_400
PRICE_CACHE_S = 60  # coordinators' price edits show within a minute


def links_for_user(user: Any) -> QuerySet[AccountLink]:
    return (
        AccountLink.objects.filter(user=user)
        .select_related("account", "account__ldc")
        .prefetch_related(
            Prefetch(
                "account__accountsdp_set",
                queryset=AccountSdp.objects.select_related("sdp").order_by("-move_in"),
            )
        )
        .order_by("linked_at")
    )


def customer_sdp(user: Any, ldc_slug: str, sdp_id: str) -> ServiceDeliveryPoint:
    """An SDP of an account the user linked; anything else (another's, none) is a 404."""
    sdp = (
        ServiceDeliveryPoint.objects.filter(
            ldc__slug=ldc_slug, sdp_id=sdp_id, accounts__links__user=user
        )
        .select_related("ldc")
        .first()
    )
    if sdp is None:
        raise Http404("No such service point among your accounts.")
    return sdp


def meter_spans(
    sdp: ServiceDeliveryPoint, first_s: int, after_s: int
) -> list[tuple[int, str, int, int]]:
    """(meter pk, serial, first UTC s, after UTC s) of each installation at the SDP in range."""
    tz = ZoneInfo(sdp.ldc.time_zone)
    start, end = _local_date(first_s, tz), _local_date(after_s - 1, tz)
    rows = (
        MeterInstallation.objects.for_ldc(sdp.ldc_id)
        .filter(sdp=sdp, effective_from__lte=end)
        .exclude(effective_to__lt=start)
        .order_by("effective_from")
        .values_list("meter_id", "meter__serial", "effective_from", "effective_to")
    )
    spans = []
    for meter, serial, first, last in rows:
        lo, hi = local_range_utc(max(first, start), min(last or end, end), tz)
        spans.append((meter, serial, max(lo, first_s), min(hi, after_s)))
    return spans


def _local_date(epoch_s: int, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(epoch_s, tz).date()


def stored_rows(
    ldc_id: int, spans: Sequence[tuple[int, str, int, int]], first_s: int, after_s: int
) -> list[tuple[Any, ...]]:
    """(meter, day, minutes, wh, flags) of the meters' delivered days touching [first, after)."""
    if not spans:
        return []
    return list(
        IntervalDay.objects.for_ldc(ldc_id)
        .filter(
            meter_id__in=sorted({s[0] for s in spans}),
            channel=1,
            day__gte=date_of(first_s // DAY_S),
            day__lte=date_of((after_s - 1) // DAY_S),
        )
        .order_by("meter_id", "day")
        .values_list("meter_id", "day", "interval_minutes", "wh", "flags")
    )


def day_blocks(
    rows: Sequence[tuple[Any, ...]], spans: Sequence[tuple[int, str, int, int]]
) -> list[DayBlock]:
    """Stored rows as numpy blocks (one per interval length), slots outside the meter's
    installation marked missing (a meter's reads count at an SDP only while installed there)."""
    out = []
    for minutes in sorted({int(r[2]) for r in rows}):
        part = [r for r in rows if int(r[2]) == minutes]
        n = slots_per_day(minutes)
        days = np.array([day_number(r[1]) for r in part], np.int64)
        meters = np.array([r[0] for r in part], np.int64)
        wh = unpack_rows([r[3] for r in part], "<i4", n)
        flags = unpack_rows([r[4] for r in part], "u1", n)
        starts = days[:, None] * DAY_S + np.arange(n, dtype=np.int64) * minutes * 60
        inside = np.zeros(wh.shape, bool)
        for meter, _, lo, hi in spans:
            inside |= (meters == meter)[:, None] & (starts >= lo) & (starts < hi)
        flags = np.where(inside, flags, flags | np.uint8(IntervalFlag.MISSING))
        out.append(DayBlock(day=days, wh=wh, flags=flags.astype(np.uint8)))
    return out


LATEST_CACHE_S = 300  # reads arrive once a day: a few minutes late is fine for "latest"
RECENT_DAYS = 40


def latest_read(
    sdp: ServiceDeliveryPoint, spans: Sequence[tuple[int, str, int, int]]
) -> int | None:
    """UTC second at which the SDP's latest stored value ends (None: no reads yet); cached."""
    meters = sorted({s[0] for s in spans})
    if not meters:
        return None
    key = f"customers:latest:{sdp.pk}:{','.join(map(str, meters))}"
    found = cache.get(key)
    if found is None:
        found = _latest_read(sdp, meters) or 0
        cache.set(key, found, LATEST_CACHE_S)
    return found or None


def _latest_read(sdp: ServiceDeliveryPoint, meters: list[int]) -> int | None:
    days = IntervalDay.objects.for_ldc(sdp.ldc_id).filter(meter_id__in=meters, channel=1)
    recent = timezone.now().date() - dt.timedelta(days=RECENT_DAYS)
    # The last weeks first: the monthly partitions are pruned to two or three.
    row = _last_day(days.filter(day__gte=recent)) or _last_day(days)
    if row is None:
        return None
    day, minutes, flags = row
    good = np.flatnonzero((np.frombuffer(bytes(flags), np.uint8) & IntervalFlag.MISSING) == 0)
    if not good.size:
        return day_number(day) * DAY_S
    return day_number(day) * DAY_S + (int(good[-1]) + 1) * int(minutes) * 60


def _last_day(days: QuerySet[IntervalDay]) -> tuple[Any, ...] | None:
    return days.order_by("-day").values_list("day", "interval_minutes", "flags").first()


def price_table() -> tuple[PriceSet, ...]:
    """The OEB price sets (billing's), cached briefly: every customer page prices hours."""
    from billing import selectors as billing_selectors

    table = cache.get("customers:price_table")
    if table is None:
        table = billing_selectors.price_table()
        cache.set("customers:price_table", table, PRICE_CACHE_S)
    return table


def invitations_for_ldc(ldc: Any) -> QuerySet[CustomerInvitation]:
    return (
        CustomerInvitation.objects.for_ldc(ldc)
        .select_related("account", "accepted_by")
        .order_by("-created_at")
    )


def export_days(
    rows: Sequence[tuple[Any, ...]], spans: Sequence[tuple[int, str, int, int]]
) -> list[MeterDays]:
    """The stored rows of each installation (and interval length) as Green Button input."""
    out = []
    for meter, serial, lo, hi in spans:
        mine = [r for r in rows if r[0] == meter]
        for minutes in sorted({int(r[2]) for r in mine}):
            part = [r for r in mine if int(r[2]) == minutes]
            n = slots_per_day(minutes)
            out.append(
                MeterDays(
                    serial=serial,
                    minutes=minutes,
                    day=np.array([day_number(r[1]) for r in part], np.int64),
                    wh=unpack_rows([r[3] for r in part], "<i4", n),
                    flags=unpack_rows([r[4] for r in part], "u1", n),
                    first_s=lo,
                    after_s=hi,
                )
            )
    return out
