"""Celery tasks of read files: thin wrappers that load by id inside the tenant and call the
ingest service. Task names are explicit and stable (queued messages and beat name them)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from meters.models import ReadFile
from meters.reads import ingest
from portal.audit import audit_context
from portal.queue import TRANSIENT


@shared_task(
    name="meters.tasks.ingest_read_file",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=20,
)
def ingest_read_file(self, *, ldc_id: int, read_file_id: int) -> str:  # type: ignore[no-untyped-def]
    """Ingest one read file; idempotent, so redelivery after a crash resumes safely."""
    try:
        read_file = ReadFile.objects.for_ldc(ldc_id).get(pk=read_file_id)
        with audit_context(via="task"):
            read_file = ingest.read_file_ingest(read_file=read_file)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
    if not read_file.is_finished:
        # Another worker holds the file (a duplicate delivery): look again when its lease ends.
        wait = (
            (read_file.lease_until - timezone.now()).total_seconds() if read_file.lease_until else 5
        )
        raise self.retry(countdown=max(1, int(wait) + 1))
    return read_file.status


@shared_task(name="meters.tasks.resume_stalled_read_files")
def resume_stalled_read_files() -> int:
    """Queue again the files whose worker was lost (scheduled every 5 minutes by beat)."""
    stalled = ingest.read_files_stalled()
    for read_file in stalled:
        ingest_read_file.delay(ldc_id=read_file.ldc_id, read_file_id=read_file.pk)
    return len(stalled)
