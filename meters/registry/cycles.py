"""Billing cycles of an LDC (meters.models.BillingCycle): made and changed on the LDC's Billing
cycles page (audited), no longer only in the Django admin. Which SDPs a cycle bills is one of
their effective-dated terms (meters.registry.terms)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from meters.models import BillingCycle
from portal.access import Actor
from portal.audit import audit


@transaction.atomic
def billing_cycle_save(
    *, ldc: Any, code: str, name: str, read_day: int, actor: Actor | None
) -> BillingCycle:
    """Add a cycle, or change the name and read day of the one with this code. Audited."""
    code = code.strip()
    if not code or len(code) > 40:
        raise ValidationError("A cycle needs a code of 1 to 40 characters.")
    if not 1 <= read_day <= 31:
        raise ValidationError("The read day is a day of the month, 1 to 31.")
    row = BillingCycle.objects.for_ldc(ldc).filter(code=code).first()
    before = {"name": row.name, "read_day": row.read_day} if row else None
    row = row or BillingCycle(ldc=ldc, code=code)
    row.name, row.read_day = name.strip()[:200], read_day
    row.save()
    audit(
        action="billing_cycle.saved",
        actor=actor,
        ldc=ldc,
        obj=row,
        before=before,
        after={"code": code, "name": row.name, "read_day": read_day},
    )
    return row
