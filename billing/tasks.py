"""Celery tasks of billing: thin wrappers that re-scope by LDC and call the services.

``refresh_for_meters`` is what to chain after VEE of an ingestion batch (late actuals): e.g.
``chain(vee_days.si(ldc_id=..., meter_ids=..., first_day=..., last_day=...),
refresh_for_meters.si(ldc_id=..., meter_ids=..., first_day=..., last_day=...))``. It recomputes
the pending and released quantities of those meters over those UTC days; a released quantity
whose figures change gets a new version and a replacement notice. Idempotent.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from meters.reads import day_store
from portal.audit import audit_context
from portal.queue import TRANSIENT


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=10)
def refresh_for_meters(  # type: ignore[no-untyped-def]
    self, ldc_id: int, meter_ids: list[int], first_day: int, last_day: int
) -> int:
    """Recompute the billing quantities of meters over UTC days [first_day, last_day]."""
    from billing.services import billing_quantities_refresh
    from portal.tenancy import LDC

    try:
        ldc = LDC.objects.get(pk=ldc_id)
        # Under the meters' locks: two refreshes of the same quantities on two workers would
        # otherwise let the one that read older reads write last.
        with audit_context(via="task"), transaction.atomic():
            day_store.lock_meters(ldc, meter_ids)
            outcome = billing_quantities_refresh(
                ldc=ldc,
                meter_ids=[int(m) for m in meter_ids],
                first_day=first_day,
                last_day=last_day,
                reason="late reads",
            )
    except TRANSIENT as exc:  # the database or broker went away: the refresh is idempotent
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    return outcome.replaced


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=10)
def refresh_requests(self, *, ldc_id: int, request_ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    """Compute (or recompute) the quantities of the given requests, e.g. a billing batch split
    across workers. Idempotent: pending quantities are updated in place, released ones get a
    new version only when their figures change."""
    from billing.models import BillingQuantityRequest
    from billing.services import billing_quantities_refresh
    from portal.tenancy import LDC

    try:
        ldc = LDC.objects.get(pk=ldc_id)
        requests = list(
            BillingQuantityRequest.objects.for_ldc(ldc)
            .filter(pk__in=[int(r) for r in request_ids])
            .select_related("sdp")
            .order_by("pk")
        )
        with audit_context(via="task"):
            outcome = billing_quantities_refresh(ldc=ldc, requests=requests, reason="requested")
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    return outcome.created + outcome.updated
