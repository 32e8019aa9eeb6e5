"""Celery tasks of VEE: thin wrappers that re-scope by LDC and call the VEE service. Task names
are explicit and stable (queued messages and beat name them)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from meters.reads import day_store
from portal.audit import audit_context
from portal.queue import TRANSIENT


@shared_task(
    name="meters.tasks.vee_days",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=10,
)
def vee_days(self, *, ldc_id: int, meter_ids: list[int], first_day: int, last_day: int) -> int:  # type: ignore[no-untyped-def]
    """VEE of the meter-days an ingestion batch touched (idempotent: safe to run twice)."""
    from meters.vee.service import vee_run_days
    from portal.tenancy import LDC

    try:
        ldc = LDC.objects.get(pk=ldc_id)
        # One transaction holding the meters' locks from the read to the write: otherwise an
        # ingestion batch (or another VEE) committing in between is overwritten with stale
        # values, or collides with a day VEE estimated.
        with audit_context(via="task"), transaction.atomic():
            day_store.lock_meters(ldc, meter_ids)
            outcome = vee_run_days(
                ldc=ldc, meter_ids=meter_ids, first_day=first_day, last_day=last_day
            )
        from meters.signals import vee_ran

        # Billing of these meter-days is queued from here: a broker error retries the whole
        # (idempotent) task rather than dropping the billing refresh.
        vee_ran.send(
            sender=vee_days, ldc=ldc, meter_ids=meter_ids, first_day=first_day, last_day=last_day
        )
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    return outcome.written


@shared_task(name="meters.tasks.vee_daily_sweep_all")
def vee_daily_sweep_all() -> int:
    """Yesterday's VEE for every LDC that sends reads (scheduled daily by beat)."""
    from meters.vee.service import vee_daily_sweep
    from portal.tenancy import LDC

    days = 0
    for ldc in LDC.objects.exclude(status=LDC.Status.INACTIVE):
        with audit_context(via="task"):
            days += vee_daily_sweep(ldc=ldc).days
    return days
