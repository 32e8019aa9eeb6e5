"""ESPI notifications (NAESB REQ.21 "Notification"; FB_39): when new reads of a consent's SDPs
are stored, the third party's notify URI gets a BatchList naming the consent's Batch/Subscription
resource; the third party then fetches it (with ``updated-min`` for what changed).

Queued once per consent while one is waiting (new reads while it waits are covered by it), sent
by a Celery task, retried with growing waits by a sweep (beat), given up after MAX_ATTEMPTS;
queueing, each failure and the delivery are audited. The BatchList names resources, never data:
a notification to a third party whose consent has ended since is dropped unsent.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connect import espi
from connect.models import Consent, Notification
from portal.access import Actor
from portal.audit import audit
from portal.queue import enqueue

SEND_TASK = "connect.tasks.send_notification"
MAX_ATTEMPTS = 6
BACKOFF_S = (60, 300, 1800, 7200, 43200)  # after the 1st, 2nd, ... failure
LEASE_S = 120  # a sender holds a notification this long (another may then try)


def _system() -> Actor:
    return Actor(ldc=None, role=None, user=None)


def consents_of_meters(ldc: Any, meter_ids: list[int], now: dt.datetime) -> list[Consent]:
    """Live consents with a notify URI whose SDPs had one of these meters installed."""
    return list(
        Consent.objects.for_ldc(ldc)
        .filter(
            status=Consent.Status.ACTIVE,
            expires_at__gt=now,
            third_party__status="active",
            sdps__installs__meter_id__in=meter_ids,
        )
        .exclude(third_party__notify_uri="")
        .select_related("third_party", "ldc")
        .distinct()
    )


def notifications_queue(*, ldc: Any, meter_ids: list[int]) -> list[Notification]:
    """Queue a notification for each live consent these meters' new reads belong to."""
    now = timezone.now()
    base = settings.OPENMDMR_PUBLIC_URL.rstrip("/") + "/espi/1_1/resource"
    queued = []
    for consent in consents_of_meters(ldc, meter_ids, now):
        with transaction.atomic():
            if Notification.objects.filter(consent=consent, status="queued").exists():
                continue  # the waiting one announces these reads too
            note = Notification.objects.create(
                ldc_id=consent.ldc_id,
                consent=consent,
                body=espi.batch_list([f"{base}/Batch/Subscription/{consent.public_id}"]),
            )
            audit(
                ldc=consent.ldc,
                actor=_system(),
                action="connect.notification_queued",
                obj=note,
                object_repr=_repr(consent, "notification queued"),
            )
            transaction.on_commit(_sender(note))
            queued.append(note)
    return queued


def _sender(note: Notification) -> Callable[[], None]:
    def send() -> None:
        enqueue(SEND_TASK, ldc_id=note.ldc_id, notification_id=note.pk)

    return send


def _repr(consent: Consent, what: str) -> str:
    return f"{consent.third_party.name}: {what} [{consent.third_party.public_id}]"


def _claim(note: Notification, now: dt.datetime) -> bool:
    """Take the notification for one attempt (a conditional UPDATE: one sender at a time)."""
    return bool(
        Notification.objects.filter(pk=note.pk, status="queued", next_attempt_at__lte=now).update(
            next_attempt_at=now + dt.timedelta(seconds=LEASE_S)
        )
    )


def post(uri: str, body: str) -> int:
    """POST the BatchList; the HTTP status (a network failure raises OSError)."""
    request = urllib.request.Request(  # noqa: S310  (http(s) only: the form validated the URI)
        uri,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/atom+xml; charset=utf-8"},
    )
    if not uri.startswith(("https://", "http://")):
        raise OSError(f"not an http(s) URI: {uri!r}")
    timeout = settings.OPENMDMR_CONNECT_NOTIFY_TIMEOUT_S
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def notification_send(*, note: Notification) -> str:
    """One attempt at delivering a queued notification; its status afterwards."""
    now = timezone.now()
    if not _claim(note, now):
        return note.status
    note.refresh_from_db()
    consent = Consent.objects.select_related("third_party", "ldc").get(pk=note.consent_id)
    if not consent.is_live(now):
        return _finish(note, consent, "failed", "consent no longer live: not sent", now)
    try:
        status = post(consent.third_party.notify_uri, note.body)
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    if not error:
        return _finish(note, consent, "sent", "", now)
    note.attempts += 1
    if note.attempts >= MAX_ATTEMPTS:
        return _finish(note, consent, "failed", error, now)
    wait = BACKOFF_S[min(note.attempts - 1, len(BACKOFF_S) - 1)]
    with transaction.atomic():
        note.last_error, note.next_attempt_at = error, now + dt.timedelta(seconds=wait)
        note.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        audit(
            ldc=consent.ldc,
            actor=_system(),
            action="connect.notification_retry",
            obj=note,
            object_repr=_repr(consent, f"attempt {note.attempts} failed: {error}"),
        )
    return note.status


def _finish(note: Notification, consent: Consent, status: str, error: str, now: dt.datetime) -> str:
    with transaction.atomic():
        note.status, note.last_error = status, error
        fields = ["status", "last_error", "attempts"]
        if status == "sent":
            note.attempts += 1
            note.sent_at = now
            fields.append("sent_at")
            Consent.objects.filter(pk=consent.pk).update(last_notified_at=now)
        note.save(update_fields=fields)
        audit(
            ldc=consent.ldc,
            actor=_system(),
            action=f"connect.notification_{status}",
            obj=note,
            object_repr=_repr(consent, f"notification {status} {error}".strip()),
        )
    return status


def due(now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """(ldc id, notification id) of queued notifications whose next attempt is due."""
    return list(
        Notification.objects.filter(status="queued", next_attempt_at__lte=now or timezone.now())
        .order_by("next_attempt_at")
        .values_list("ldc_id", "pk")[:500]
    )
