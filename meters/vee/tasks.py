"""Celery tasks of VEE: thin wrappers that re-scope by LDC and call the VEE service. Task names
are explicit and stable (queued messages and beat name them)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from meters.reads import day_store
from portal.audit import audit_context
from portal.queue import TRANSIENT

logger = logging.getLogger(__name__)


@shared_task(
    name="meters.tasks.vee_days",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=10,
)
def vee_days(  # type: ignore[no-untyped-def]
    self,
    *,
    ldc_id: int,
    meter_ids: list[int],
    first_day: int,
    last_day: int,
    read_file_id: int | None = None,
) -> int:
    """VEE of the meter-days an ingestion batch touched (idempotent: safe to run twice).

    A failure that is not transient (bad settings, a bug) never stops ingestion nor answers a
    500 to the upload that queued it (eager mode runs this inside the request): it is recorded
    as a VeeFailure, shown on the read file, and retried by beat (vee_failures_retry_all)."""
    from meters.vee.service import _reason, vee_failure_record, vee_run_days
    from portal.tenancy import LDC

    try:
        ldc = LDC.objects.get(pk=ldc_id)  # inside: a database outage here is retried too
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
    except Exception as exc:  # noqa: BLE001 - recorded, shown and retried; never lost
        logger.exception("VEE of %s meters failed for LDC %s", len(meter_ids), ldc_id)
        try:
            vee_failure_record(
                ldc=LDC.objects.get(pk=ldc_id),
                meter_ids=meter_ids,
                first_day=first_day,
                last_day=last_day,
                error=_reason(exc),
                read_file_id=read_file_id,
            )
        except TRANSIENT as again:  # the database went away meanwhile: the task is not lost
            raise self.retry(exc=again, countdown=min(60, 5 * 2**self.request.retries)) from again
        return 0
    return outcome.written


@shared_task(name="meters.tasks.vee_failures_retry_all")
def vee_failures_retry_all() -> int:
    """Run failed VEE again for every LDC that has some (scheduled by beat)."""
    from meters.models import VeeFailure
    from meters.vee.service import vee_failures_retry
    from portal.tenancy import LDC

    passed = 0
    ids = VeeFailure.objects.filter(resolved_at__isnull=True).values_list("ldc_id", flat=True)
    for ldc in LDC.objects.filter(pk__in=set(ids)):
        with audit_context(via="task"):
            passed += vee_failures_retry(ldc=ldc)[0]
    return passed


@shared_task(name="meters.tasks.vee_daily_sweep_all")
def vee_daily_sweep_all() -> int:
    """Yesterday's VEE for every LDC that sends reads (scheduled daily by beat)."""
    from meters.vee.service import vee_daily_sweep
    from portal.tenancy import LDC

    days = 0
    for ldc in LDC.objects.exclude(status=LDC.Status.INACTIVE):
        # One LDC's failure (its settings, its data) must not stop the others' sweep.
        try:
            with audit_context(via="task"):
                days += vee_daily_sweep(ldc=ldc).days
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - logged; the next sweep and the queue show it
            logger.exception("daily VEE sweep failed for LDC %s", ldc.pk)
    return days


@shared_task(name="meters.tasks.class_profiles_all")
def class_profiles_all() -> int:
    """Today's class load profiles (E5) for every LDC that sends reads (daily, by beat)."""
    from meters.vee.profiles import class_profiles_compute
    from portal.tenancy import LDC

    made = 0
    for ldc in LDC.objects.exclude(status=LDC.Status.INACTIVE):
        made += len(class_profiles_compute(ldc=ldc))
    return made
