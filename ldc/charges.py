"""The Smart Metering Charge (SMC): rates, each LDC's monthly statement and the yearly rebate.

The SME (the IESO) recovers the MDM/R's costs through the OEB-approved Smart Metering Charge per
meter per month (EB-2012-0100 from 2013-05-01; EB-2022-0137: $0.42 from 2023-01-01 to
2027-12-31), billed to each LDC on its IESO settlement statement under charge type 9980 'Smart
Metering Charge'. A surplus of the SME is rebated under the same charge type, "split based on
the number of smart meters installed by each LDC" (IESO news, 2023-09-14).

Meter-count rule: an LDC's meters for a month are the distinct meters installed at one of its
SDPs (a ``MeterInstallation`` row in effect) on the month's last day. A meter removed before the
last day, or installed after it, is not counted; an exchange on the last day counts the new
meter only if the old installation ended the day before. Counted in one grouped SQL query.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q

from ldc.models import SmcRate, SmcRebate, SmcStatement
from meters.models import MeterInstallation
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC

CHARGE_TYPE = "9980"  # IESO settlement charge type 'Smart Metering Charge'
CENT = Decimal("0.01")


def parse_month(text: str) -> dt.date:
    """'YYYY-MM' -> the month's first day (ValidationError naming the value otherwise)."""
    try:
        year, month = text.strip().split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValidationError(f"'{text}' is not a month: write YYYY-MM, e.g. 2026-11.") from None


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def rate_on(day: dt.date) -> SmcRate:
    """The SMC rate in effect on ``day``."""
    rate = (
        SmcRate.objects.filter(effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))
        .order_by("-effective_from")
        .first()
    )
    if rate is None:
        raise ValidationError(f"No Smart Metering Charge rate is in effect on {day:%Y-%m-%d}.")
    return rate


def meters_on(day: dt.date, ldcs: list[LDC] | None = None) -> dict[int, int]:
    """Distinct meters installed at an SDP on ``day``, per LDC id (one grouped query)."""
    rows = MeterInstallation.objects.filter(effective_from__lte=day).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=day)
    )
    if ldcs is not None:
        rows = rows.filter(ldc__in=ldcs)
    counted = rows.values("ldc_id").annotate(n=Count("meter_id", distinct=True))
    return {r["ldc_id"]: r["n"] for r in counted}


@transaction.atomic
def statements_make(*, month: dt.date, ldcs: list[LDC] | None = None) -> list[SmcStatement]:
    """Make (or remake) the month's statement of every LDC, or of ``ldcs``; idempotent."""
    month = month.replace(day=1)
    last = month_end(month)
    rate = rate_on(last)
    targets = list(ldcs) if ldcs is not None else list(LDC.objects.order_by("slug"))
    counts = meters_on(last, targets)
    made = []
    for ldc in targets:
        meters = counts.get(ldc.pk, 0)
        amount = (rate.rate * meters).quantize(CENT, ROUND_HALF_UP)
        row, created = SmcStatement.objects.update_or_create(
            ldc=ldc,
            month=month,
            defaults={
                "meters": meters,
                "rate": rate.rate,
                "amount": amount,
                "charge_type": CHARGE_TYPE,
                "smc_rate": rate,
            },
        )
        audit(
            action="smc_statement.made" if created else "smc_statement.remade",
            actor=None,
            ldc=ldc,
            obj=row,
            after={"month": f"{month:%Y-%m}", "meters": meters, "amount": str(amount)},
        )
        row.ldc = ldc
        made.append(row)
    return made


def statements_for(actor: Actor) -> list[SmcStatement]:
    """Coordinators see every LDC's statements; an LDC's staff only their own."""
    rows = SmcStatement.objects.select_related("ldc").order_by("-month", "ldc__slug")
    if actor.is_coordinator:
        return list(rows)
    if actor.ldc is None:
        return []
    return list(rows.filter(ldc=actor.ldc))


def _share(surplus: Decimal, counts: dict[int, int]) -> dict[int, Decimal]:
    """Split ``surplus`` by meter count to the cent; the cents left by rounding down go to the
    largest remainders, so the shares add up to the surplus exactly."""
    total = sum(counts.values())
    cents = int((surplus / CENT).to_integral_value())
    exact = {k: Decimal(cents) * n / total for k, n in counts.items()}
    shares = {k: int(v.to_integral_value(ROUND_DOWN)) for k, v in exact.items()}
    left = cents - sum(shares.values())
    for k in sorted(exact, key=lambda k: (shares[k] - exact[k], k))[:left]:
        shares[k] += 1
    return {k: Decimal(c) * CENT for k, c in shares.items()}


@transaction.atomic
def rebate_record(*, year: int, surplus: Decimal, actor: Actor) -> list[SmcRebate]:
    """Record the SME's surplus for ``year`` rebated to the LDCs by their meters on 31 December."""
    if actor is None or not actor.is_coordinator:
        raise PermissionDenied("Only SME coordinators record a rebate.")
    if surplus <= 0:
        raise ValidationError("The surplus to rebate must be more than $0.")
    if SmcRebate.objects.filter(year=year).exists():
        raise ValidationError(f"The rebate for {year} is already recorded.")
    counts = {k: n for k, n in meters_on(dt.date(year, 12, 31)).items() if n}
    if not counts:
        raise ValidationError(f"No LDC had a meter installed on {year}-12-31: nothing to share.")
    total = sum(counts.values())
    shares = _share(surplus, counts)
    ldcs = LDC.objects.in_bulk(list(counts))
    rows = SmcRebate.objects.bulk_create(
        SmcRebate(
            ldc_id=k,
            year=year,
            surplus=surplus,
            meters=n,
            total_meters=total,
            amount=shares[k],
            charge_type=CHARGE_TYPE,
        )
        for k, n in sorted(counts.items())
    )
    for row in rows:
        audit(
            action="smc_rebate.recorded",
            actor=actor,
            ldc=ldcs[row.ldc_id],
            obj=row,
            after={"year": year, "meters": row.meters, "amount": str(row.amount)},
        )
    return rows


CSV_HEADER = ["ldc", "month", "meters", "rate", "amount"]


def csv_rows(rows: list[SmcStatement]) -> list[list[str]]:
    return [
        [r.ldc.slug, f"{r.month:%Y-%m}", str(r.meters), f"{r.rate:.2f}", f"{r.amount:.2f}"]
        for r in rows
    ]
