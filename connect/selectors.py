"""What a consent reaches, read with its rules: the customer's own SDPs at the third party's LDC,
and, for a token, only its consent's SDPs that the customer still holds, from the consent's
first date to now (or the consent's end).

"Still holds" is the customer's account links today and the accounts' dated occupancy of the
SDPs (customers.occupancy, #21): a move-out ends access at once, and data is only ever read for
the days the customer's accounts lived there (customers.occupancy.occupied_meter_spans).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from connect.models import Consent, ThirdParty
from customers import occupancy
from meters.models import ServiceDeliveryPoint
from portal.models import AuditEvent
from portal.tenancy import LDC


def customer_sdps(user: Any, ldc: Any, on: dt.date | None = None) -> QuerySet[ServiceDeliveryPoint]:
    """SDPs the customer's linked accounts occupy today (customers.occupancy's dated links), at
    one LDC (the third party's): a move-out ends sharing that SDP at once."""
    ldc_id = getattr(ldc, "pk", ldc)
    if on is None:
        zone = ZoneInfo(LDC.objects.get(pk=ldc_id).time_zone)
        on = timezone.now().astimezone(zone).date()
    return occupancy.user_visible_sdps(user, ldc_id, on).order_by("sdp_id")


def third_parties_for_ldc(ldc: Any) -> QuerySet[ThirdParty]:
    return ThirdParty.objects.for_ldc(ldc).select_related("application").order_by("name")


def consents_for_user(user: Any) -> QuerySet[Consent]:
    return (
        Consent.objects.filter(user=user)
        .select_related("third_party", "ldc")
        .prefetch_related("sdps")
        .order_by("-granted_at")
    )


def consent_of_token(access_token: Any) -> Consent | None:
    """The consent an OAuth access token was issued for (through its refresh token's family)."""
    family = (
        type(access_token)
        .objects.filter(pk=access_token.pk)
        .values_list("refresh_token__token_family", flat=True)
        .first()
    )
    if family is None:
        return None
    return (
        Consent.objects.filter(
            token_family=family, third_party__application=access_token.application
        )
        .select_related("third_party", "ldc")
        .first()
    )


@dataclass(frozen=True)
class Reach:
    """What one live consent may read now: SDPs and the UTC instants [first_s, after_s)."""

    consent: Consent
    sdps: tuple[ServiceDeliveryPoint, ...]
    start: dt.date  # local dates
    end: dt.date


def reach(consent: Consent, now: dt.datetime | None = None) -> Reach | None:
    """The SDPs and local dates a consent reaches now; None once it is not live."""
    now = now or timezone.now()
    if not consent.is_live(now):
        return None
    held = set(customer_sdps(consent.user, consent.ldc_id).values_list("pk", flat=True))
    sdps = tuple(
        sdp
        for sdp in consent.sdps.select_related("ldc").order_by("sdp_id")
        if sdp.pk in held  # moved out: that SDP is no longer shared
    )
    tz = ZoneInfo(consent.ldc.time_zone)
    end = min(now, consent.expires_at).astimezone(tz).date()
    return Reach(consent=consent, sdps=sdps, start=consent.data_from, end=end)


def audit_for_third_party(party: ThirdParty, limit: int = 200) -> QuerySet[AuditEvent]:
    """Every audited grant, use, revocation and change of one third party (the LDC's view)."""
    return (
        AuditEvent.objects.for_ldc(party.ldc_id)
        .filter(action__startswith="connect.", object_repr__endswith=f"[{party.public_id}]")
        .order_by("-at")[:limit]
    )
