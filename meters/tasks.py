"""Celery tasks of meter data: thin wrappers that load by id inside the tenant and call services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from meters import services
from meters.models import ReadFile
from portal.audit import audit_context


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=10)
def ingest_read_file(self, *, ldc_id: int, read_file_id: int) -> str:  # type: ignore[no-untyped-def]
    """Ingest one read file; idempotent, so redelivery after a crash resumes safely."""
    read_file = ReadFile.objects.for_ldc(ldc_id).get(pk=read_file_id)
    try:
        with audit_context(via="task"):
            read_file = services.read_file_ingest(read_file=read_file)
    except OperationalError as exc:  # the database went away: try again later
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    return read_file.status
