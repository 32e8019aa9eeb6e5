"""What the fault scenarios share: a registered LDC, synthetic CMEP deliveries, waiting for the
workers to settle (every file finished, the broker's queue empty) while the database may be down."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import redis
from django.db import DatabaseError, connections

from meters.models import ReadFile
from meters.reads import ingest
from meters.reads.synthetic import write_cmep
from meters.registry.sync import registry_sync
from portal.tenancy import LDC
from tests.factories import LdcFactory

T = TypeVar("T")
FIRST_DAY = dt.date(2026, 2, 2)
# Short leases and visibility: a lost worker's file and task are taken over in seconds.
FAST = {
    "OPENMDMR_INGEST_BATCH_READS": "1000",
    "CELERY_VISIBILITY_TIMEOUT": "2",
    "OPENMDMR_INGEST_LEASE_S": "2",
}


def registered_ldc(slug: str, meters: int) -> LDC:
    """An LDC with ``meters`` meters, each installed at its own SDP (serials {SLUG}-MTR-i)."""
    ldc = LdcFactory(slug=slug, name=f"{slug.title()} Fault Hydro")
    rows = [
        (
            i + 2,
            {
                "sdp_id": f"{slug.upper()}-SDP-{i}",
                "meter_id": serial(ldc, i),
                "rate_class": "residential",
                "commodity_rate_class": "tou",
                "postal_code": "M5V 2T6",
                "service_multiplier": "1",
                "ami_headend": "HE",
                "billing_agent": "AG",
                "bidirectional": "false",
                "effective_from": "2025-01-01",
                "effective_to": "",
                # TOU-billed already (#19): quantities are computed only from an SDP's TOU start.
                "tou_billing_from": "2025-01-01",
            },
        )
        for i in range(meters)
    ]
    assert not registry_sync(ldc=ldc, rows=rows, actor=None, source="test").errors
    return ldc


def serial(ldc: LDC, i: int) -> str:
    return f"{ldc.slug.upper()}-MTR-{i}"


def cmep(
    ldc: LDC,
    folder: Path,
    name: str,
    meters: range,
    days: int,
    *,
    first: dt.date = FIRST_DAY,
    seed: int = 7,
    unknown: int = 0,
) -> Path:
    """A CMEP file for meters ``meters`` (plus ``unknown`` meters the LDC does not have, whose
    records are rejected) over ``days`` local days from ``first``."""
    path = folder / name
    serials = [serial(ldc, i) for i in meters] + [f"NOSUCH-{i}" for i in range(unknown)]
    write_cmep(path, serials, first, days, seed=seed)
    return path


def deliver(ldc: LDC, path: Path, *, queue: bool = True) -> tuple[ReadFile, bool]:
    """Receive a file as the upload page does (its ingestion queued unless ``queue=False``)."""
    with path.open("rb") as stream:
        return ingest.read_file_receive(
            ldc=ldc,
            interface="cmep",
            upload=stream,
            name=path.name,
            actor=None,
            via="test",
            queue=queue,
        )


def reconnect() -> None:
    """Drop this process's database connections (after the server restarted)."""
    for conn in connections.all():
        try:
            conn.close()
        except DatabaseError:
            conn.connection = None


def db(query: Callable[[], T], default: T) -> T:
    """Run a query, or answer ``default`` while the database is unreachable."""
    try:
        return query()
    except DatabaseError:
        reconnect()
        return default


def wait_for(condition: Callable[[], bool], timeout: float = 90.0, what: str = "it") -> float:
    """Poll until true (a database error counts as not yet); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if db(condition, False):
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def unfinished(ldc: LDC) -> int:
    return (
        ReadFile.objects.for_ldc(ldc)
        .exclude(status__in=[ReadFile.Status.LOADED, ReadFile.Status.REJECTED])
        .count()
    )


def queue_empty(broker_url: str) -> bool:
    """No task waiting in the broker and none delivered but not yet acknowledged (acks_late:
    a task stays unacknowledged while it runs or waits for its retry's countdown)."""
    client = redis.Redis.from_url(broker_url)
    try:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0
    except redis.RedisError:
        return False
    finally:
        client.close()


def settle(ldc: LDC, broker_url: str, workers: list[Any], timeout: float = 120.0) -> float:
    """Wait until every file is finished and the queue has stayed empty for a second."""
    quiet_since: list[float] = []

    def settled() -> bool:
        for worker in workers:
            assert worker.poll() is None, f"worker {worker.pid} died"
        if unfinished(ldc) or not queue_empty(broker_url):
            quiet_since.clear()
            return False
        quiet_since.append(time.monotonic())
        return quiet_since[-1] - quiet_since[0] >= 1.0

    return wait_for(settled, timeout, "the workers to finish every file and task")
