"""Measurement Canada seal tracking of an LDC's meters: seal expiry, the re-verification list and
compliance-sampling lots (models: meters/models/seals.py).

A meter's seal expires at the end of ``seal_year + period`` where the period is its type's
initial seal period (``SealPeriod``, E-26; the ``'*'`` row for types without their own), unless
its lot (same LDC, type and seal year) was sampled: a passed lot's seal expiry is extended by the
sampling plan's extension; a failed lot keeps its expiry and its meters are scheduled for removal
by the end of that year (S-S-06 compliance sampling). Counts are grouped SQL, one query per kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from meters.models import Meter, SamplingLot, SamplingPlanRow, SealPeriod
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC

DUE = ("overdue", "this_year", "next_year")


def _require(actor: Actor, ldc: LDC) -> None:
    if actor is None or not actor.can("registry.write"):
        raise PermissionDenied("Your role does not allow this.")
    if not actor.is_coordinator and (actor.ldc is None or actor.ldc.pk != ldc.pk):
        raise PermissionDenied("Not your LDC.")


def periods() -> dict[str, int]:
    return dict(SealPeriod.objects.values_list("meter_type", "initial_years"))


def base_expiry(meter_type: str, seal_year: int, table: dict[str, int] | None = None) -> int:
    """The year the seal expires from the type's initial period (no sampling)."""
    table = periods() if table is None else table
    years = table.get(meter_type, table.get("*"))
    if years is None:
        raise ValidationError(f"No seal period is recorded for meter type '{meter_type}'.")
    return seal_year + years


@dataclass(frozen=True)
class Group:
    meter_type: str
    seal_year: int
    meters: int
    seal_expires: int
    due: str | None  # overdue, this_year, next_year or None (later)
    lot: SamplingLot | None


def groups(ldc: LDC, today: dt.date | None = None) -> list[Group]:
    """The LDC's meters by type and seal year with their seal expiry (one grouped query)."""
    year = (today or timezone.localdate()).year
    table = periods()
    lots = {(x.meter_type, x.seal_year): x for x in SamplingLot.objects.for_ldc(ldc)}
    rows = (
        Meter.objects.for_ldc(ldc)
        .filter(seal_year__isnull=False)
        .values("meter_type", "seal_year")
        .annotate(n=Count("pk"))
        .order_by("seal_year", "meter_type")
    )
    found = []
    for r in rows:
        lot = lots.get((r["meter_type"], r["seal_year"]))
        expires = lot.seal_expires if lot else base_expiry(r["meter_type"], r["seal_year"], table)
        due = (
            "overdue"
            if expires < year
            else "this_year"
            if expires == year
            else "next_year"
            if expires == year + 1
            else None
        )
        found.append(Group(r["meter_type"], r["seal_year"], r["n"], expires, due, lot))
    return found


def reverification_list(ldc: LDC, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Meters whose seal is overdue or expires this year or next, overdue first."""
    due = [g for g in groups(ldc, today) if g.due]
    if not due:
        return []
    where = Q()
    for g in due:
        where |= Q(meter_type=g.meter_type, seal_year=g.seal_year)
    by_key = {(g.meter_type, g.seal_year): g for g in due}
    meters = (
        Meter.objects.for_ldc(ldc).filter(where).values_list("serial", "meter_type", "seal_year")
    )
    rows = [
        {
            "meter_id": serial,
            "meter_type": kind,
            "seal_year": year,
            "seal_expires": by_key[(kind, year)].seal_expires,
            "due": by_key[(kind, year)].due,
            "removal_by": by_key[(kind, year)].lot.removal_by if by_key[(kind, year)].lot else None,
        }
        for serial, kind, year in meters
    ]
    rows.sort(key=lambda r: (DUE.index(r["due"]), r["seal_expires"], r["meter_id"]))
    return rows


def plan_for(lot_size: int) -> SamplingPlanRow:
    row = (
        SamplingPlanRow.objects.filter(lot_min__lte=lot_size)
        .filter(Q(lot_max__isnull=True) | Q(lot_max__gte=lot_size))
        .first()
    )
    if row is None:
        raise ValidationError(f"The sampling plan has no row for a lot of {lot_size} meters.")
    return row


@transaction.atomic
def lot_create(*, ldc: LDC, meter_type: str, seal_year: int, actor: Actor) -> SamplingLot:
    """Form the lot of the LDC's meters of one type and seal year; sample size from the plan."""
    _require(actor, ldc)
    size = Meter.objects.for_ldc(ldc).filter(meter_type=meter_type, seal_year=seal_year).count()
    if size == 0:
        raise ValidationError(f"No meter of type '{meter_type}' sealed in {seal_year}.")
    if SamplingLot.objects.for_ldc(ldc).filter(meter_type=meter_type, seal_year=seal_year).exists():
        raise ValidationError(f"The lot '{meter_type}' sealed {seal_year} already exists.")
    plan = plan_for(size)
    lot = SamplingLot.objects.create(
        ldc=ldc,
        meter_type=meter_type,
        seal_year=seal_year,
        lot_size=size,
        sample_size=min(plan.sample_size, size),
        acceptance_number=plan.acceptance_number,
        seal_expires=base_expiry(meter_type, seal_year),
    )
    audit(
        action="sampling_lot.created",
        actor=actor,
        ldc=ldc,
        obj=lot,
        after={"lot_size": size, "sample_size": lot.sample_size, "ac": lot.acceptance_number},
    )
    return lot


@transaction.atomic
def lot_record_result(*, lot: SamplingLot, nonconforming: int, actor: Actor) -> SamplingLot:
    """The sample's result: at most Ac non-conforming meters passes (the lot's seal is extended
    by the plan's extension), more fails (the lot's meters are scheduled for removal by the end
    of the seal's expiry year, or of this year when that is past)."""
    _require(actor, lot.ldc)
    lot = SamplingLot.objects.select_for_update().get(pk=lot.pk)
    if lot.result != SamplingLot.Result.PENDING:
        raise ValidationError(f"The lot's result is already recorded ({lot.result}).")
    if nonconforming < 0 or nonconforming > lot.sample_size:
        raise ValidationError(
            f"Non-conforming meters must be between 0 and the sample size ({lot.sample_size})."
        )
    before = {"seal_expires": lot.seal_expires}
    lot.nonconforming = nonconforming
    if nonconforming <= lot.acceptance_number:
        lot.result = SamplingLot.Result.PASSED
        lot.seal_expires += plan_for(lot.lot_size).extension_years
    else:
        lot.result = SamplingLot.Result.FAILED
        year = max(lot.seal_expires, timezone.localdate().year)
        lot.removal_by = dt.date(year, 12, 31)
    lot.decided_at = timezone.now()
    lot.save()
    audit(
        action=f"sampling_lot.{lot.result}",
        actor=actor,
        ldc=lot.ldc,
        obj=lot,
        before=before,
        after={
            "nonconforming": nonconforming,
            "seal_expires": lot.seal_expires,
            "removal_by": lot.removal_by.isoformat() if lot.removal_by else None,
        },
    )
    return lot
