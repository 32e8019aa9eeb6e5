"""Celery tasks of the coordinators' rollout: thin wrappers around its services. The task name
is explicit and stable (the beat schedule names it)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from portal.audit import audit_context


@shared_task(
    name="portal.tasks.rollout_snapshot_weekly",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
)
def rollout_snapshot_weekly(self) -> int:  # type: ignore[no-untyped-def]
    """This week's rollout snapshot (province and every LDC); idempotent within the week."""
    from ldc.sme.rollout import rollout_snapshot_take

    try:
        with audit_context(via="task"):
            return rollout_snapshot_take()
    except OperationalError as exc:  # the database went away: try again later
        raise self.retry(exc=exc, countdown=300) from exc


@shared_task(
    name="portal.tasks.smc_statements_monthly",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
)
def smc_statements_monthly(self) -> int:  # type: ignore[no-untyped-def]
    """On the 1st: every LDC's Smart Metering Charge statement of the month just ended."""
    import datetime as dt

    from django.utils import timezone

    from ldc.charges import statements_make

    last_month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    try:
        with audit_context(via="task"):
            return len(statements_make(month=last_month))
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=300) from exc
