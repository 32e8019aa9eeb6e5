"""Celery tasks of meter data: thin wrappers that load by id inside the tenant and call services."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from meters import services, store
from meters.models import ReadFile
from portal.audit import audit_context

# The database or the broker went away mid-task (a restart, a failover): try again later. The
# work is idempotent, so a retry resumes from what was committed. Raw driver cursors (COPY)
# raise the driver's own errors, not Django's wrappers.
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    connection.Database.OperationalError,
    connection.Database.InterfaceError,
    BrokerError,
)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=20)
def ingest_read_file(self, *, ldc_id: int, read_file_id: int) -> str:  # type: ignore[no-untyped-def]
    """Ingest one read file; idempotent, so redelivery after a crash resumes safely."""
    try:
        read_file = ReadFile.objects.for_ldc(ldc_id).get(pk=read_file_id)
        with audit_context(via="task"):
            read_file = services.read_file_ingest(read_file=read_file)
    except TRANSIENT as exc:
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

    try:
        ldc = LDC.objects.get(pk=ldc_id)
        # One transaction holding the meters' locks from the read to the write: otherwise an
        # ingestion batch (or another VEE) committing in between is overwritten with stale
        # values, or collides with a day VEE estimated.
        with audit_context(via="task"), transaction.atomic():
            store.lock_meters(ldc, meter_ids)
            outcome = vee_run_days(
                ldc=ldc, meter_ids=meter_ids, first_day=first_day, last_day=last_day
            )
        from meters.vee_service import vee_ran

        # Billing of these meter-days is queued from here: a broker error retries the whole
        # (idempotent) task rather than dropping the billing refresh.
        vee_ran.send(
            sender=vee_days, ldc=ldc, meter_ids=meter_ids, first_day=first_day, last_day=last_day
        )
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
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
