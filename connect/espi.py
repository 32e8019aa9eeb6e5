"""ESPI resources of a consent (NAESB REQ.21), built from the Green Button writer's entries.

A consent is one Subscription: its UsagePoints are the meters installed at its SDPs (the
writer's UsagePoint is a meter, its serial the last segment, as our green_button reader reads
it), each with one MeterReading per interval length, that MeterReading's IntervalBlocks (one per
local day) and its ReadingType. Only the consent's reach (connect.selectors.reach: its SDPs
still held, from its first date to now or its end) is ever read from the database, so nothing
outside it can be written into a response.

Query parameters (ESPI; the Green Button Alliance's API documentation): ``published-min`` /
``published-max`` bound an IntervalBlock's published time, which here is the start of its local
day; ``updated-min`` / ``updated-max`` bound the time its stored days were last written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import numpy as np
from django.utils import timezone

from connect.models import Consent, ThirdParty
from connect.scopes import allowed_for
from connect.selectors import Reach
from customers import greenbutton, occupancy, selectors
from customers.greenbutton import Entry
from customers.summaries import usage_summary_entries
from meters.models import IntervalDay
from meters.reads.intervals import local_range_utc
from portal.calendar.localtime import day_number, utc_offsets

DAY_S = 86_400


@dataclass
class Window:
    """What a request asks for inside the consent: ESPI's published/updated bounds."""

    published_min: dt.datetime | None = None
    published_max: dt.datetime | None = None
    updated_min: dt.datetime | None = None
    updated_max: dt.datetime | None = None
    serials: set[str] | None = field(default=None)  # one UsagePoint, else all
    blocks: bool = True  # False: the UsagePoint, MeterReading, ReadingType entries only


def subscription_href(base: str, consent: Consent) -> str:
    return f"{base}/Subscription/{consent.public_id}"


def _dates(reach: Reach, tz: ZoneInfo, window: Window) -> tuple[dt.date, dt.date] | None:
    start, end = reach.start, reach.end
    if window.published_min is not None:
        # a block is published at its local midnight: the first midnight at or after the bound
        day = window.published_min.astimezone(tz)
        start = max(start, day.date() + dt.timedelta(days=int(day.time() != dt.time(0))))
    if window.published_max is not None:
        end = min(end, window.published_max.astimezone(tz).date())
    return (start, end) if start <= end else None


def _updated_days(
    ldc_id: int, meters: list[int], window: Window, first_s: int, after_s: int, tz: ZoneInfo
) -> np.ndarray | None:
    """Local day numbers touched by stored days written inside the updated bounds."""
    if window.updated_min is None and window.updated_max is None:
        return None
    rows = IntervalDay.objects.for_ldc(ldc_id).filter(meter_id__in=meters, channel=1)
    if window.updated_min is not None:
        rows = rows.filter(updated_at__gte=window.updated_min)
    if window.updated_max is not None:
        rows = rows.filter(updated_at__lte=window.updated_max)
    utc_days = np.array([day_number(d) for d in rows.values_list("day", flat=True)], np.int64)
    if not utc_days.size:
        return np.empty(0, np.int64)
    # A UTC day overlaps two local days; each of them is sent whole (ESPI replaces a block).
    edges = np.concatenate([utc_days * DAY_S, utc_days * DAY_S + DAY_S - 1])
    edges = edges[(edges >= first_s) & (edges < after_s)]
    return np.unique((edges + utc_offsets(edges, tz)) // DAY_S)


def entries(
    reach: Reach, *, base: str, window: Window | None = None, now: dt.datetime | None = None
) -> list[Entry]:
    """Every entry of a consent's Subscription (LocalTimeParameters first), inside ``window``."""
    window = window or Window()
    now = now or timezone.now()
    tz = ZoneInfo(reach.consent.ldc.time_zone)
    stamp = greenbutton.atom_time(now)
    out = [greenbutton.local_time_entry(tz, base=base, stamp=stamp, year=now.year)]
    if not reach.consent.usage:
        return out
    dates = _dates(reach, tz, window)
    if dates is None:
        return out
    first, after = local_range_utc(dates[0], dates[1], tz)
    subscription = subscription_href(base, reach.consent)
    for sdp in reach.sdps:
        periods = occupancy.user_periods(reach.consent.user, sdp)
        spans = [
            s
            for s in occupancy.occupied_meter_spans(periods, sdp, first, after)
            if window.serials is None or s[1] in window.serials
        ]
        if not spans:
            continue
        rows = selectors.stored_rows(sdp.ldc_id, spans, first, after)
        keep = _updated_days(sdp.ldc_id, [s[0] for s in spans], window, first, after, tz)
        if not window.blocks:
            keep = np.empty(0, np.int64)
        label = f"{sdp.ldc.name} SDP {sdp.sdp_id}"
        for days in selectors.export_days(rows, spans):
            out += greenbutton.meter_entries(
                days,
                subscription=subscription,
                sdp_label=label,
                tz=tz,
                base=base,
                stamp=stamp,
                blocks_of=keep,
            )
    return out


def authorization_entry(consent: Consent, *, base: str, now: dt.datetime) -> Entry:
    """ESPI Authorization: the consent's state, its periods, where its data is."""
    tz = ZoneInfo(consent.ldc.time_zone)
    first, _after = local_range_utc(consent.data_from, consent.data_from, tz)
    granted = int(consent.granted_at.timestamp())
    expires = int(consent.expires_at.timestamp())
    live = consent.is_live(now)
    href = f"{base}/Authorization/{consent.public_id}"
    content = (
        '<Authorization xmlns="http://naesb.org/espi">'
        f"<authorizedPeriod><duration>{max(expires - granted, 0)}</duration>"
        f"<start>{granted}</start></authorizedPeriod>"
        f"<publishedPeriod><duration>{max(expires - first, 0)}</duration>"
        f"<start>{first}</start></publishedPeriod>"
        f"<status>{1 if live else 0}</status><expires_at>{expires}</expires_at>"
        "<grant_type>authorization_code</grant_type>"
        f"<scope>{escape(consent.scope)}</scope><token_type>Bearer</token_type>"
        f"<resourceURI>{base}/Batch/Subscription/{consent.public_id}</resourceURI>"
        f"<authorizationURI>{href}</authorizationURI></Authorization>"
    )
    return greenbutton._entry(
        "Authorization",
        href,
        f"{base}/Authorization",
        content,
        stamp=greenbutton.atom_time(now),
        base=base,
        title=consent.third_party.name,
    )


def application_entry(party: ThirdParty, *, base: str, server: str, now: dt.datetime) -> Entry:
    """ESPI ApplicationInformation of a third party (its registration at the LDC)."""
    app: Any = party.application
    href = f"{base}/ApplicationInformation/{app.client_id}"
    status = 2 if party.is_active else 3  # Production (live) / On hold
    scopes = "".join(f"<scope>{escape(s)}</scope>" for s in _scopes(party))
    redirects = "".join(
        f"<redirect_uri>{escape(u)}</redirect_uri>" for u in app.redirect_uris.split()
    )
    content = (
        '<ApplicationInformation xmlns="http://naesb.org/espi">'
        f"<dataCustodianId>{escape(party.ldc.slug)}</dataCustodianId>"
        f"<dataCustodianApplicationStatus>{status}</dataCustodianApplicationStatus>"
        f"<thirdPartyNotifyUri>{escape(party.notify_uri or server)}</thirdPartyNotifyUri>"
        f"<authorizationServerAuthorizationEndpoint>{server}/oauth/authorize/"
        "</authorizationServerAuthorizationEndpoint>"
        f"<authorizationServerTokenEndpoint>{server}/oauth/token/"
        "</authorizationServerTokenEndpoint>"
        f"<dataCustodianBulkRequestURI>{base}/Batch/Bulk</dataCustodianBulkRequestURI>"
        f"<dataCustodianResourceEndpoint>{base}</dataCustodianResourceEndpoint>"
        # Only the secret's hash is kept: it was shown once, at registration.
        "<client_secret>(kept hashed; shown once at registration)</client_secret>"
        f"<client_name>{escape(party.name)}</client_name>{redirects}"
        f"<client_id>{escape(app.client_id)}</client_id>"
        "<software_id>unknown</software_id><software_version>unknown</software_version>"
        f"<client_id_issued_at>{int(party.created_at.timestamp())}</client_id_issued_at>"
        "<client_secret_expires_at>0</client_secret_expires_at>"
        f"<contacts>{escape(party.contact_email)}</contacts>"
        f"<token_endpoint_auth_method>client_secret_basic</token_endpoint_auth_method>{scopes}"
        "<grant_types>authorization_code</grant_types><grant_types>refresh_token</grant_types>"
        "<response_types>code</response_types>"
        f"<registration_client_uri>{href}</registration_client_uri>"
        "<registration_access_token>none</registration_access_token>"
        "</ApplicationInformation>"
    )
    return greenbutton._entry(
        "ApplicationInformation",
        href,
        f"{base}/ApplicationInformation",
        content,
        stamp=greenbutton.atom_time(now),
        base=base,
        title=party.name,
    )


def _scopes(party: ThirdParty) -> list[str]:
    return list(allowed_for(party.application))


def _occupied(periods: Any, sdp: Any) -> Callable[[int, int], list[tuple[int, str, int, int]]]:
    def spans(first_s: int, after_s: int) -> list[tuple[int, str, int, int]]:
        return occupancy.occupied_meter_spans(periods, sdp, first_s, after_s)

    return spans


def usage_summaries(reach: Reach, *, base: str, serial: str, now: dt.datetime) -> list[Entry]:
    """ESPI UsageSummary per local month of one UsagePoint inside the consent's reach."""
    usage_point = greenbutton.usage_point_of(subscription_href(base, reach.consent), serial)
    out: list[Entry] = []
    for sdp in reach.sdps:
        periods = occupancy.user_periods(reach.consent.user, sdp)
        out += usage_summary_entries(
            sdp,
            reach.start,
            reach.end,
            serial=serial,
            usage_point=usage_point,
            base=base,
            now=now,
            spans=_occupied(periods, sdp),
        )
    return out


def batch_list(hrefs: list[str]) -> str:
    """ESPI BatchList: the resources a notification announces."""
    items = "".join(f"<resources>{escape(h)}</resources>" for h in hrefs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<BatchList xmlns="http://naesb.org/espi">{items}</BatchList>\n'
    )
