"""What every app's Celery tasks share: the errors worth a retry, and queueing a task by name.

A service starts its side effects with ``enqueue(name, ...)`` inside ``transaction.on_commit``, so
that it never imports its own app's task module (which imports the service: a circle). The names
are the tasks' explicit ``name=``, stable across module moves, so messages already queued and the
beat schedule keep working.
"""

from __future__ import annotations

from typing import Any, cast

from celery import current_app
from django.db import InterfaceError, OperationalError, connection
from kombu.exceptions import OperationalError as BrokerError

# The database or the broker went away mid-task (a restart, a failover): try again later. The
# work is idempotent, so a retry resumes from what was committed. Raw driver cursors (COPY)
# raise the driver's own errors, not Django's wrappers.
_DRIVER = cast(Any, connection).Database  # the DB-API module of the backend (psycopg, sqlite3)
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    _DRIVER.OperationalError,
    _DRIVER.InterfaceError,
    BrokerError,
)

INGEST_READ_FILE = "meters.tasks.ingest_read_file"
VEE_DAYS = "meters.tasks.vee_days"


def enqueue(name: str, **kwargs: Any) -> None:
    """Queue the registered task ``name`` (run at once in eager mode, like ``delay``)."""
    current_app.tasks[name].delay(**kwargs)
