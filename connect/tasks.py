"""Celery tasks of Connect My Data (thin: load by id inside the tenant, call the service)."""

from __future__ import annotations

from celery import shared_task

from connect import notify
from connect.models import Notification
from portal.queue import TRANSIENT


@shared_task(bind=True, name=notify.SEND_TASK, acks_late=True, max_retries=3)
def send_notification(self, *, ldc_id: int, notification_id: int) -> str:  # type: ignore[no-untyped-def]
    note = Notification.objects.for_ldc(ldc_id).filter(pk=notification_id).first()
    if note is None:
        return "gone"
    try:
        return notify.notification_send(note=note)
    except TRANSIENT as exc:  # the database went away: the sweep or this retry resumes it
        raise self.retry(exc=exc, countdown=30) from exc


@shared_task(name="connect.tasks.retry_notifications")
def retry_notifications() -> int:
    """Beat: every due notification gets its next attempt (failures wait longer each time)."""
    due = notify.due()
    for ldc_id, pk in due:
        send_notification.delay(ldc_id=ldc_id, notification_id=pk)
    return len(due)
