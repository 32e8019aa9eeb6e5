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


def test_postgres_crash_during_ingest(
    pg_server: PostgresServer, start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    meters = 150
    ldc = registered_ldc("pgingest", meters)
    workers = [start_worker("p1", **FAST), start_worker("p2", **FAST)]
    deliver(ldc, cmep(ldc, tmp_path, "before.txt", range(meters), 2, unknown=2))
    settle(ldc, broker["CELERY_BROKER_URL"], workers)
    loaded_before = loaded_files(ldc)
    files = [
        deliver(ldc, cmep(ldc, tmp_path, f"during{i}.txt", range(meters), 5, first=first))[0]
        for i, first in enumerate([FIRST_DAY + dt.timedelta(2), FIRST_DAY + dt.timedelta(7)])
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
    settle(ldc, broker["CELERY_BROKER_URL"], workers, timeout=150)
    retried = sum(p.read_text().count("Retry in") for p in tmp_path.glob("p*.log"))
    assert retried, "no task saw the database go away"
    print(f"invariants held over {assert_invariants(ldc, loaded_before)}; {retried} retries")


def test_postgres_crash_during_billing(
    pg_server: PostgresServer, start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    meters, days = 300, 3
    ldc = registered_ldc("pgbill", meters)
    workers = [start_worker("b1", **FAST), start_worker("b2", **FAST)]
    deliver(ldc, cmep(ldc, tmp_path, "reads.txt", range(meters), days + 2))
    settle(ldc, broker["CELERY_BROKER_URL"], workers)
    loaded_before = loaded_files(ldc)
    sdps = list(ServiceDeliveryPoint.objects.for_ldc(ldc).order_by("pk"))
    requests = billing_requests_ensure(
        ldc=ldc, sdps=sdps, start=FIRST_DAY, end=FIRST_DAY + dt.timedelta(days - 1)
    )
    for lo in range(0, len(requests), 10):  # a billing batch spread over the workers
        refresh_requests.delay(ldc_id=ldc.pk, request_ids=[r.pk for r in requests[lo : lo + 10]])
    computed = BillingQuantity.objects.for_ldc(ldc)
    wait_for(lambda: computed.count() >= 20, what="billing to be under way")
    at_crash = db(computed.count, -1)
    crash_and_restart(pg_server)
    settle(ldc, broker["CELERY_BROKER_URL"], workers, timeout=150)
    assert at_crash < len(requests), "billing was over before the crash"
    without = BillingQuantityRequest.objects.for_ldc(ldc).filter(quantities__isnull=True)
    assert not without.exists(), "requests left without quantities"
    assert computed.count() == len(requests)
    assert not computed.filter(~Q(version=1)).exists()
    print(f"crash after {at_crash}/{len(requests)} quantities")
    print(f"invariants held over {assert_invariants(ldc, loaded_before)}")


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
    meters = 150
    ldc = registered_ldc("redisfault", meters)
    workers = [start_worker("q1", **FAST), start_worker("q2", **FAST)]
    deliver(ldc, cmep(ldc, tmp_path, "before.txt", range(meters), 2))
    settle(ldc, broker["CELERY_BROKER_URL"], workers)
    loaded_before = loaded_files(ldc)
    files = [
        deliver(ldc, cmep(ldc, tmp_path, f"during{i}.txt", range(meters), 4, first=first))[0]
        for i, first in enumerate(FIRST_DAY + dt.timedelta(d) for d in (2, 6, 10))
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
    print(f"invariants held over {assert_invariants(ldc, loaded_before)}")
