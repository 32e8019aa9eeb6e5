"""Celery tasks of meter data: thin wrappers that load by id inside the tenant and call services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from meters import services
from meters.models import ReadFile
from portal.audit import audit_context


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=20)
def ingest_read_file(self, *, ldc_id: int, read_file_id: int) -> str:  # type: ignore[no-untyped-def]
    """Ingest one read file; idempotent, so redelivery after a crash resumes safely."""
    read_file = ReadFile.objects.for_ldc(ldc_id).get(pk=read_file_id)
    try:
        with audit_context(via="task"):
            read_file = services.read_file_ingest(read_file=read_file)
    except OperationalError as exc:  # the database went away: try again later
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    if not read_file.is_finished:
        # Another worker holds the file (a duplicate delivery): look again when its lease ends.
        wait = (
            (read_file.lease_until - timezone.now()).total_seconds() if read_file.lease_until else 5
        )
        raise self.retry(countdown=max(1, int(wait) + 1))
    return read_file.status


@shared_task
def resume_stalled_read_files() -> int:
    """Queue again the files whose worker was lost (scheduled every 5 minutes by beat)."""
    stalled = services.read_files_stalled()
    for read_file in stalled:
        ingest_read_file.delay(ldc_id=read_file.ldc_id, read_file_id=read_file.pk)
    return len(stalled)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=10)
def vee_days(self, *, ldc_id: int, meter_ids: list[int], first_day: int, last_day: int) -> int:  # type: ignore[no-untyped-def]
    """VEE of the meter-days an ingestion batch touched (idempotent: safe to run twice)."""
    from ldc.models import LDC
    from meters.vee_service import vee_run_days

    ldc = LDC.objects.get(pk=ldc_id)
    try:
        with audit_context(via="task"):
            outcome = vee_run_days(
                ldc=ldc, meter_ids=meter_ids, first_day=first_day, last_day=last_day
            )
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    from meters.vee_service import vee_ran

    vee_ran.send(
        sender=vee_days, ldc=ldc, meter_ids=meter_ids, first_day=first_day, last_day=last_day
    )
    return outcome.written


@shared_task
def vee_daily_sweep_all() -> int:
    """Yesterday's VEE for every LDC that sends reads (scheduled daily by beat)."""
    from ldc.models import LDC
    from meters.vee_service import vee_daily_sweep

    days = 0
    for ldc in LDC.objects.exclude(status=LDC.Status.INACTIVE):
        with audit_context(via="task"):
            days += vee_daily_sweep(ldc=ldc).days
    return days
