"""Workers killed (SIGKILL) at random points mid-ingest, again and again: every file still loads
once, with nothing lost or doubled, and the four invariants hold.

The seed of the random kill points is printed; OPENMDMR_FAULT_SEED replays a run and
OPENMDMR_FAULT_KILLS changes how many kills (default 10)."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from meters.models import ReadFile
from tests.integration.harness import (
    FAST,
    FIRST_DAY,
    cmep,
    deliver,
    registered_ldc,
    settle,
    unfinished,
    wait_for,
)
from tests.integration.invariants import assert_invariants, loaded_files

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
KILLS = int(os.environ.get("OPENMDMR_FAULT_KILLS", "10"))


def test_workers_killed_at_random_points_lose_and_double_nothing(
    start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    seed = int(os.environ.get("OPENMDMR_FAULT_SEED") or time.time_ns() % 2**31)
    print(f"kill points: OPENMDMR_FAULT_SEED={seed}")
    rng = random.Random(seed)
    meters, days = 100, 8
    ldc = registered_ldc("kill", meters)

    def next_file(i: int) -> Path:
        """Files of 100 meters x 8 days (~20 batches); every other one names unknown meters
        too, whose records are listed as rejected."""
        first = FIRST_DAY + dt.timedelta(days * i)
        return cmep(ldc, tmp_path, f"kill{i}.txt", range(meters), days, first=first, unknown=i % 2)

    delivered, kills = 0, []
    loaded_before: dict[str, tuple[int, int, int]] = {}
    worker = start_worker("k0", **FAST)
    while len(kills) < KILLS:
        since = timezone.now()
        if not unfinished(ldc):
            assert delivered < 3 * KILLS, "every file loaded before the kills were done"
            deliver(ldc, next_file(delivered))
            delivered += 1
        wait_for(
            lambda since=since: (
                ReadFile.objects.for_ldc(ldc).filter(started_at__gte=since).exists()
            ),
            timeout=60,
            what="a worker to take up a file",
        )
        # A random point of the work: once the file is past a random one of its ~20 batches
        # (0: still parsing), and a little into the next. A random delay alone missed too often:
        # a file of 100 meters x 8 days loads in well under a second.
        target = rng.randrange(0, 20)
        wait_for(
            lambda target=target: (
                not (
                    ReadFile.objects.for_ldc(ldc)
                    .exclude(status__in=["loaded", "rejected"])
                    .filter(batches_done__lt=target)
                    .exists()
                )
            ),
            timeout=60,
            what=f"the file to pass batch {target}",
        )
        time.sleep(rng.uniform(0.0, 0.05))
        loaded_before = loaded_files(ldc)
        progress = list(
            ReadFile.objects.for_ldc(ldc)
            .exclude(status__in=["loaded", "rejected"])
            .values_list("original_name", "status", "batches_done", "batches_total")
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        if progress:  # mid-ingest (else it died in VEE or billing work: not counted)
            kills.append(progress)
        worker = start_worker(f"k{len(kills) + 1}", **FAST)
    print(f"{len(kills)} kills mid-ingest at (file, status, batches done/total): {kills}")
    settle(ldc, broker["CELERY_BROKER_URL"], [worker], timeout=180)
    totals = assert_invariants(ldc, loaded_before)
    print(f"invariants held over {totals}")
    attempts = list(ReadFile.objects.for_ldc(ldc).values_list("attempts", flat=True))
    # Each kill mid-ingest made another worker take the file up again (a kill landing just as a
    # file finished does not: allow a few).
    assert sum(attempts) >= len(attempts) + len(kills) // 2, "the kills did not interrupt work"
