"""The one helper every state-changing service calls to write its audit event."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models

from portal.access import Actor
from portal.models import AuditEvent

# Set per request by portal.middleware.RequestContextMiddleware; commands and tasks set "via".
_request_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "openmdmr_request_context", default=None
)


@contextmanager
def audit_context(*, client_address: str | None = None, via: str = "web") -> Iterator[None]:
    """Where the changes made inside this block come from (a request, a command, a task)."""
    token = _request_context.set({"client_address": client_address, "via": via})
    try:
        yield
    finally:
        _request_context.reset(token)


def audit(
    *,
    action: str,
    actor: Actor | None,
    ldc: Any = None,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_repr: str | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the change it records."""
    context = _request_context.get() or {}
    via = context.get("via", "system")
    if actor is not None and actor.token is not None:
        via = "api token"
    return AuditEvent.objects.create(
        actor=actor.user if actor is not None and actor.user is not None else None,
        actor_label=actor.label if actor is not None else "system",
        ldc=ldc,
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr if object_repr is not None else str(obj or ""))[:200],
        before=before,
        after=after,
        client_address=context.get("client_address"),
        via=via,
    )
