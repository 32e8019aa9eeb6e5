"""Celery tasks of billing: thin wrappers that re-scope by LDC and call the services.

``refresh_for_meters`` is what to chain after VEE of an ingestion batch (late actuals): e.g.
``chain(vee_days.si(ldc_id=..., meter_ids=..., first_day=..., last_day=...),
refresh_for_meters.si(ldc_id=..., meter_ids=..., first_day=..., last_day=...))``. It recomputes
the pending and released quantities of those meters over those UTC days; a released quantity
whose figures change gets a new version and a replacement notice. Idempotent.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from portal.audit import audit_context


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=10)
def refresh_for_meters(  # type: ignore[no-untyped-def]
    self, ldc_id: int, meter_ids: list[int], first_day: int, last_day: int
) -> int:
    """Recompute the billing quantities of meters over UTC days [first_day, last_day]."""
    from billing.services import billing_quantities_refresh
    from ldc.models import LDC

    ldc = LDC.objects.get(pk=ldc_id)
    try:
        with audit_context(via="task"):
            outcome = billing_quantities_refresh(
                ldc=ldc,
                meter_ids=[int(m) for m in meter_ids],
                first_day=first_day,
                last_day=last_day,
                reason="late reads",
            )
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    return outcome.replaced
