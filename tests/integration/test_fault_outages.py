"""PostgreSQL stopped (immediate: a crash) during ingestion and during billing, and Redis killed
and restarted mid-run: the workers retry, every file and quantity completes once, and the four
invariants hold."""

from __future__ import annotations

import datetime as dt
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Q

from billing.models import BillingQuantity, BillingQuantityRequest
from billing.services import billing_requests_ensure
from billing.tasks import refresh_requests
from meters.models import ReadFile, ServiceDeliveryPoint
from portal.testing.services import MissingService, PostgresServer, RedisServer
from tests.conftest import service_missing
from tests.integration.conftest import drop_broker_connections
from tests.integration.harness import (
    FAST,
    FIRST_DAY,
    cmep,
    db,
    deliver,
    reconnect,
    registered_ldc,
    settle,
    wait_for,
)
from tests.integration.invariants import assert_invariants, loaded_files

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def crash_and_restart(server: PostgresServer, down_s: float = 1.0) -> None:
    """Stop PostgreSQL as a crash does (every backend killed, recovery on start), then start."""
    server.stop("immediate")
    time.sleep(down_s)
    server.restart()
    reconnect()


def test_postgres_crash_during_ingest_and_during_billing(
    pg_server: PostgresServer, start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    meters = 200
    ldc = registered_ldc("pgcrash", meters)
    queue = broker["CELERY_BROKER_URL"]
    # Persistent database connections, as in production (DB_CONN_MAX_AGE defaults to 60 s): the
    # workers must drop the dead ones after the restart.
    persistent = FAST | {"DB_CONN_MAX_AGE": "60"}
    workers = [start_worker("p1", **persistent), start_worker("p2", **persistent)]
    deliver(ldc, cmep(ldc, tmp_path, "before.txt", range(meters), 2, unknown=2))
    settle(ldc, queue, workers)
    loaded_before = loaded_files(ldc)

    # 1. During ingestion: two files loading on two workers.
    files = [
        deliver(ldc, cmep(ldc, tmp_path, f"during{i}.txt", range(meters), 3, first=first))[0]
        for i, first in enumerate([FIRST_DAY + dt.timedelta(2), FIRST_DAY + dt.timedelta(5)])
    ]
    wait_for(
        lambda: (
            sum(
                ReadFile.objects.filter(pk__in=[f.pk for f in files]).values_list(
                    "batches_done", flat=True
                )
            )
            >= 3
        ),
        what="loading to be under way",
    )
    crash_and_restart(pg_server)
    settle(ldc, queue, workers, timeout=150)

    # 2. During billing: a billing batch of every SDP spread over the workers as tasks.
    sdps = list(ServiceDeliveryPoint.objects.for_ldc(ldc).order_by("pk"))
    requests = billing_requests_ensure(
        ldc=ldc, sdps=sdps, start=FIRST_DAY + dt.timedelta(1), end=FIRST_DAY + dt.timedelta(4)
    )
    for lo in range(0, len(requests), 5):
        refresh_requests.delay(ldc_id=ldc.pk, request_ids=[r.pk for r in requests[lo : lo + 5]])
    computed = BillingQuantity.objects.for_ldc(ldc)
    wait_for(lambda: computed.count() >= 20, what="billing to be under way")
    at_crash = db(computed.count, -1)
    crash_and_restart(pg_server)
    settle(ldc, queue, workers, timeout=150)
    print(f"billing crashed after {at_crash}/{len(requests)} quantities")

    retried = sum(p.read_text().count("Retry in") for p in tmp_path.glob("p*.log"))
    assert retried, "no task saw the database go away"
    assert at_crash < len(requests), "billing was over before the crash"
    without = BillingQuantityRequest.objects.for_ldc(ldc).filter(quantities__isnull=True)
    assert not without.exists(), "requests left without quantities"
    assert computed.count() == len(requests) and not computed.filter(~Q(version=1)).exists()
    print(f"invariants held over {assert_invariants(ldc, loaded_before)}; {retried} retries")


@pytest.fixture
def broker_redis() -> Iterator[RedisServer]:
    """A Redis of its own that keeps an append-only file, as a production broker does, so that
    queued tasks survive its restart."""
    folder = Path(tempfile.mkdtemp(prefix="openmdmr-redis-"))
    try:
        server = RedisServer.start(datadir=folder)
    except MissingService as exc:
        service_missing(exc)
    yield server
    server.stop()


def test_redis_killed_and_restarted_mid_run(
    broker_redis: RedisServer, start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    meters = 120
    ldc = registered_ldc("redisfault", meters)
    workers = [start_worker("q1", **FAST), start_worker("q2", **FAST)]
    deliver(ldc, cmep(ldc, tmp_path, "before.txt", range(meters), 2))
    settle(ldc, broker["CELERY_BROKER_URL"], workers)
    loaded_before = loaded_files(ldc)
    files = [
        deliver(ldc, cmep(ldc, tmp_path, f"during{i}.txt", range(meters), 4, first=first))[0]
        for i, first in enumerate(FIRST_DAY + dt.timedelta(d) for d in (2, 6))
    ]
    wait_for(
        lambda: ReadFile.objects.filter(pk__in=[f.pk for f in files], batches_done__gte=2).exists(),
        what="loading to be under way",
    )
    os.kill(broker_redis.process.pid, signal.SIGKILL)
    broker_redis.process.wait(timeout=10)
    time.sleep(1.0)
    broker_redis.restart()
    drop_broker_connections()
    settle(ldc, broker["CELERY_BROKER_URL"], workers, timeout=150)
    logs = "".join(p.read_text() for p in tmp_path.glob("q*.log"))
    assert "Connection to broker lost" in logs, "the workers did not see Redis go away"
    print(f"invariants held over {assert_invariants(ldc, loaded_before)}")
