"""Effective-dated SDP terms (meters.models.SdpTerms): the commodity rate class (plan),
distributor rate class, service multiplier, billing cycle and billing agent in effect on each
local day; a customer's plan choice, which takes effect at the start of the SDP's next billing
period; and the rows a registry sync records.

A change is a new row from its date: the past keeps the terms it was billed by. An SDP with no
row (made before #19's migration gave every SDP one, or straight into the table) has its own
columns on every day. The SDP's columns mirror the newest row that has started.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from meters.models import BillingCycle, CommodityRateClass, SdpTerms, ServiceDeliveryPoint
from portal.access import Actor
from portal.audit import audit

IN_CHUNK = 5000
FIELDS = (
    "rate_class",
    "commodity_rate_class",
    "service_multiplier",
    "billing_cycle_id",
    "billing_agent_id",
)
FAR_PAST = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Terms:
    """One SDP's terms from ``effective_from`` on (the values of an SdpTerms row)."""

    effective_from: dt.date
    rate_class: str
    commodity_rate_class: str
    service_multiplier: Decimal
    billing_cycle_id: int | None
    billing_agent_id: int | None

    @property
    def multiplier(self) -> float:
        return float(self.service_multiplier)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


def terms_by_sdp(
    *, ldc: Any, sdp_ids: Iterable[int], last_day: dt.date | None = None
) -> dict[int, list[Terms]]:
    """SDP pk -> its terms in date order (rows from on or before ``last_day``), for every SDP
    asked for; one query per 5,000 SDPs, and one more for the SDPs that have no row."""
    ids = sorted(set(sdp_ids))
    out: dict[int, list[Terms]] = {}
    rows = SdpTerms.objects.for_ldc(ldc)
    if last_day is not None:
        rows = rows.filter(effective_from__lte=last_day)
    for lo in range(0, len(ids), IN_CHUNK):
        found = rows.filter(sdp_id__in=ids[lo : lo + IN_CHUNK]).order_by("sdp_id", "effective_from")
        for sdp_id, *values in found.values_list("sdp_id", "effective_from", *FIELDS):
            out.setdefault(sdp_id, []).append(Terms(*values))
    lacking = [pk for pk in ids if pk not in out]
    sdps = ServiceDeliveryPoint.objects.for_ldc(ldc)
    for lo in range(0, len(lacking), IN_CHUNK):
        chunk = lacking[lo : lo + IN_CHUNK]
        for pk, rate, commodity, multiplier, cycle in sdps.filter(pk__in=chunk).values_list(
            "pk", "rate_class", "commodity_rate_class", "service_multiplier", "billing_cycle_id"
        ):
            out[pk] = [Terms(FAR_PAST, rate, commodity, multiplier, cycle, None)]
    return out


def terms_on(rows: list[Terms], day: dt.date) -> Terms | None:
    """The terms in effect on local ``day`` (None: before the first row)."""
    found = None
    for row in rows:
        if row.effective_from > day:
            break
        found = row
    return found


def spans(
    rows: list[Terms], first: dt.date, last: dt.date
) -> list[tuple[dt.date, dt.date, Terms | None]]:
    """Local days first..last cut where the terms change, each part with the terms in effect
    (the first row's terms before it: the SDP had no other)."""
    out: list[tuple[dt.date, dt.date, Terms | None]] = []
    start, current = first, terms_on(rows, first) or (rows[0] if rows else None)
    for row in rows:
        if first < row.effective_from <= last:
            if row.values() != (current.values() if current else None):
                out.append((start, row.effective_from - dt.timedelta(days=1), current))
                start = row.effective_from
            current = row
    out.append((start, last, current))
    return out


def next_period_start(read_day: int | None, day: dt.date) -> dt.date:
    """The first day of the billing period after the one holding ``day``: a cycle's periods end
    on its read day (clamped to the month's last day); no cycle: calendar months."""
    read = read_day or 31
    month_end = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    end = day.replace(day=min(read, month_end.day))
    if end < day:  # this month's read day has passed: the period ends next month
        following = month_end + dt.timedelta(days=1)
        nxt_end = (following.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(
            days=1
        )
        end = following.replace(day=min(read, nxt_end.day))
    return end + dt.timedelta(days=1)


def _mirror(sdp: ServiceDeliveryPoint, terms: Terms) -> None:
    """The SDP's own columns follow the newest terms that have started."""
    sdp.rate_class = terms.rate_class
    sdp.commodity_rate_class = terms.commodity_rate_class
    sdp.service_multiplier = terms.service_multiplier
    sdp.billing_cycle_id = terms.billing_cycle_id
    sdp.save(
        update_fields=[
            "rate_class",
            "commodity_rate_class",
            "service_multiplier",
            "billing_cycle",
            "updated_at",
        ]
    )


@transaction.atomic
def sdp_plan_choose(
    *, sdp: ServiceDeliveryPoint, plan: str, chosen_on: dt.date, actor: Actor | None
) -> SdpTerms:
    """A customer's choice of RPP plan (TOU, ULO, tiered), made on ``chosen_on``: new terms
    from the start of the SDP's next billing period (OEB Standard Supply Service Code: a switch
    takes effect at the start of a billing period). Audited."""
    if plan not in CommodityRateClass.values:
        raise ValueError(f"unknown plan '{plan}': one of {', '.join(CommodityRateClass.values)}")
    rows = terms_by_sdp(ldc=sdp.ldc_id, sdp_ids=[sdp.pk])[sdp.pk]
    now = terms_on(rows, chosen_on) or rows[0]
    cycle = BillingCycle.objects.filter(pk=now.billing_cycle_id).first()
    start = next_period_start(cycle.read_day if cycle else None, chosen_on)
    after = terms_on(rows, start) or now
    row, _ = SdpTerms.objects.update_or_create(
        ldc_id=sdp.ldc_id,
        sdp=sdp,
        effective_from=start,
        defaults={**after.values(), "commodity_rate_class": plan, "source": "plan choice"},
    )
    audit(
        action="sdp.plan_chosen",
        actor=actor,
        ldc=sdp.ldc,
        obj=sdp,
        before={"commodity_rate_class": after.commodity_rate_class},
        after={
            "commodity_rate_class": plan,
            "chosen_on": chosen_on.isoformat(),
            "effective_from": start.isoformat(),
        },
    )
    return row


def terms_record(
    *, ldc: Any, wanted: dict[tuple[int, dt.date], dict[str, Any]], source: str
) -> tuple[int, int]:
    """Record the terms a registry sync gives, (SDP pk, effective_from) -> values: a new row
    where the terms in effect that day differ, a corrected row where one starts that day and
    differs; (created, corrected). Bulk: one read per 5,000 SDPs, one write per kind."""
    stored = _stored_rows(ldc, {pk for pk, _ in wanted})
    have: dict[int, list[Terms]] = {}
    for (pk, _), row in sorted(stored.items()):
        have.setdefault(pk, []).append(_terms(row))
    new, fixed = [], []
    for (pk, day), values in sorted(wanted.items()):
        row = stored.get((pk, day))
        if row is not None:
            if any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.source = source
                fixed.append(row)
            continue
        current = terms_on(have.get(pk, []), day)
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            continue  # the same terms again (a meter exchange row, a file loaded twice)
        row = SdpTerms(ldc_id=_ldc_pk(ldc), sdp_id=pk, effective_from=day, source=source)
        # What the file does not give (a billing cycle) carries on from the terms in effect.
        for k, v in {**(current.values() if current else {}), **values}.items():
            setattr(row, k, v)
        new.append(row)
        have.setdefault(pk, []).append(_terms(row))
        have[pk].sort(key=lambda t: t.effective_from)
    SdpTerms.objects.bulk_create(new, batch_size=2000)
    SdpTerms.objects.bulk_update(fixed, [*FIELDS, "source"], batch_size=2000)
    return len(new), len(fixed)


def _terms(row: SdpTerms) -> Terms:
    return Terms(row.effective_from, *(getattr(row, name) for name in FIELDS))


def _ldc_pk(ldc: Any) -> int:
    return ldc if isinstance(ldc, int) else ldc.pk


def _stored_rows(ldc: Any, pks: set[int]) -> dict[tuple[int, dt.date], SdpTerms]:
    ids = sorted(pks)
    out: dict[tuple[int, dt.date], SdpTerms] = {}
    for lo in range(0, len(ids), IN_CHUNK):
        for row in SdpTerms.objects.for_ldc(ldc).filter(sdp_id__in=ids[lo : lo + IN_CHUNK]):
            out[(row.sdp_id, row.effective_from)] = row
    return out


def sdps_in_cycle(
    *, ldc: Any, cycle_id: int, start: dt.date, end: dt.date
) -> list[tuple[int, str]]:
    """(SDP pk, commodity rate class on ``start``) of the LDC's active SDPs whose terms on
    ``end`` name the billing cycle (SDPs without terms rows: their own column). Two queries."""
    on_start: dict[int, str] = {}
    on_end: dict[int, int | None] = {}
    rows = SdpTerms.objects.for_ldc(ldc).filter(effective_from__lte=end)
    for sdp_id, day, commodity, cycle in rows.order_by("sdp_id", "effective_from").values_list(
        "sdp_id", "effective_from", "commodity_rate_class", "billing_cycle_id"
    ):
        if day <= start or sdp_id not in on_start:
            on_start[sdp_id] = commodity
        on_end[sdp_id] = cycle
    active = ServiceDeliveryPoint.objects.for_ldc(ldc).filter(
        status=ServiceDeliveryPoint.Status.ACTIVE
    )
    out = []
    for pk, cycle, commodity in active.values_list(
        "pk", "billing_cycle_id", "commodity_rate_class"
    ):
        if on_end.get(pk, cycle) == cycle_id:
            out.append((pk, on_start.get(pk, commodity)))
    return out
