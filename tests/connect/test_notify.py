"""Notifications: new reads of a consent's SDP POST a BatchList to the third party's notify URI
(a local HTTP server here), queued, retried, audited; nothing for ended consents or other LDCs."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.utils import timezone

from connect import notify, scopes, services
from connect.models import Consent, Notification
from meters.models import ReadFile
from meters.signals import reads_stored
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests.connect.conftest import register


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, str]] = []
        self.status = 204


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            got.bodies.append((self.headers["Content-Type"], self.rfile.read(length).decode()))
            self.send_response(got.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got, f"http://127.0.0.1:{server.server_port}/notify"
    server.shutdown()


@pytest.fixture
def granted(world: Any, receiver: tuple[Receiver, str]) -> Consent:
    party = register(world.north, world.user("north", "ldc_admin"), notify_uri=receiver[1])
    return services.consent_grant(
        party=party.model,
        actor=actor_for_user(world.customer),
        sdps=[world.objects["north_sdp"]],
        scope=scopes.USAGE,
        months=12,
        data_from=dt.date(2025, 1, 1),
    )


def _stored(world: Any, tag: str = "north") -> None:
    reads_stored.send(
        sender=ReadFile,
        ldc=getattr(world, tag),
        meter_ids=[world.objects[f"{tag}_meter"].pk],
        first_day=20500,
        last_day=20501,
    )


def test_new_reads_post_a_batch_list(
    world: Any,
    granted: Consent,
    receiver: tuple[Receiver, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    import xmlschema

    from tests.espi import SCHEMAS

    with django_capture_on_commit_callbacks(execute=True):
        _stored(world)
    got, _uri = receiver
    assert len(got.bodies) == 1
    kind, body = got.bodies[0]
    assert kind.startswith("application/atom+xml")
    xmlschema.XMLSchema(str(SCHEMAS / "espi.xsd")).validate(body)
    assert f"/espi/1_1/resource/Batch/Subscription/{granted.public_id}</resources>" in body
    note = Notification.objects.get()
    assert note.status == "sent" and note.attempts == 1
    actions = set(
        AuditEvent.objects.filter(action__startswith="connect.notification").values_list(
            "action", flat=True
        )
    )
    assert actions == {"connect.notification_queued", "connect.notification_sent"}


def test_a_failed_notification_is_retried_then_given_up(
    world: Any,
    granted: Consent,
    receiver: tuple[Receiver, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    got, _uri = receiver
    got.status = 503
    with django_capture_on_commit_callbacks(execute=True):
        _stored(world)
        _stored(world)  # while one waits, no second one
    note = Notification.objects.get()
    assert note.status == "queued" and note.attempts == 1 and note.last_error == "HTTP 503"
    assert note.next_attempt_at > timezone.now()
    assert notify.due() == []  # not yet due
    for _ in range(notify.MAX_ATTEMPTS - 1):
        Notification.objects.update(next_attempt_at=timezone.now())
        notify.notification_send(note=Notification.objects.get())
    note.refresh_from_db()
    assert note.status == "failed" and note.attempts == notify.MAX_ATTEMPTS
    assert len(got.bodies) == notify.MAX_ATTEMPTS
    assert AuditEvent.objects.filter(action="connect.notification_retry").count() == 5
    assert AuditEvent.objects.filter(action="connect.notification_failed").count() == 1


def test_retry_sweep_resends_what_is_due(
    world: Any,
    granted: Consent,
    receiver: tuple[Receiver, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from connect.tasks import retry_notifications

    got, _uri = receiver
    got.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        _stored(world)
    got.status = 200
    Notification.objects.update(next_attempt_at=timezone.now())
    assert retry_notifications() == 1
    assert Notification.objects.get().status == "sent"


def test_no_notification_for_ended_consents_or_other_ldcs(
    world: Any,
    granted: Consent,
    receiver: tuple[Receiver, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _stored(world, "south")
    assert not Notification.objects.exists()
    services.consent_revoke(consent=granted, actor=actor_for_user(world.customer))
    with django_capture_on_commit_callbacks(execute=True):
        _stored(world)
    assert not Notification.objects.exists() and receiver[0].bodies == []


def test_a_consent_ended_while_queued_is_not_sent(
    world: Any,
    granted: Consent,
    receiver: tuple[Receiver, str],
) -> None:
    notify.notifications_queue(ldc=world.north, meter_ids=[world.objects["north_meter"].pk])
    Consent.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    notify.notification_send(note=Notification.objects.get())
    assert Notification.objects.get().status == "failed" and receiver[0].bodies == []
