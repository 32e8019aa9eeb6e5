"""What the benchmarks share: a PostgreSQL to run on, Django set up on it, a registered LDC and
synthetic stored days."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def postgres_url() -> Iterator[str]:
    """DATABASE_URL when it names PostgreSQL, else a throwaway server for the run."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        yield url
        return
    from portal.testing.services import PostgresServer

    server = PostgresServer.start()
    try:
        yield server.url
    finally:
        server.cleanup()


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    # Each bench times its own stage: VEE after ingestion is measured by bench/vee.py.
    os.environ.setdefault("OPENMDMR_VEE_AFTER_INGEST", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["OPENMDMR_VAR_DIR"] = tempfile.mkdtemp(prefix="openmdmr-bench-")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def register(ldc_slug: str, meters: int) -> object:
    from meters.models import Meter, MeterInstallation, ServiceDeliveryPoint
    from portal.tenancy import LDC

    ldc = LDC.objects.create(slug=ldc_slug, name=f"Bench {ldc_slug}")
    sdps = ServiceDeliveryPoint.objects.bulk_create(
        [
            ServiceDeliveryPoint(
                ldc=ldc,
                sdp_id=f"BS{m:07d}",
                rate_class="residential",
                commodity_rate_class="tou",
                postal_code="M5V 2T6",
                tou_billing_from=dt.date(2020, 1, 1),  # TOU-billed: quantities computed (#19)
            )
            for m in range(meters)
        ],
        batch_size=5000,
    )
    mtrs = Meter.objects.bulk_create(
        [Meter(ldc=ldc, serial=f"BM{m:07d}") for m in range(meters)], batch_size=5000
    )
    MeterInstallation.objects.bulk_create(
        [
            MeterInstallation(ldc=ldc, sdp=s, meter=m, effective_from=dt.date(2020, 1, 1))
            for s, m in zip(sdps, mtrs, strict=True)
        ],
        batch_size=5000,
    )
    return ldc


def store_days(
    ldc: object, meters: int, days: int, first_day: int, *, seed: int, validated: bool = False
) -> int:
    """Hourly days for every meter straight into the interval table (load shapes, 0.1 % gaps,
    a few spikes); ``validated`` flags them as VEE leaves them. Returns the intervals stored."""
    from meters.models import Meter
    from meters.reads import day_store
    from meters.reads.day_arrays import FLAGS_OF_QUALITY, DayBlock, IntervalFlag, day_key
    from meters.reads.interfaces.base import Quality
    from meters.reads.synthetic import hourly_shape

    rng = np.random.default_rng(seed)
    pks = np.array(sorted(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True)), np.int64)
    shape = hourly_shape(rng, meters)
    for d in range(days):
        wh = np.rint(shape * rng.gamma(8, 1 / 8, (meters, 24)) * 1000).astype(np.int32)
        quality = np.full((meters, 24), Quality.ACTUAL, np.uint8)
        gaps = rng.random((meters, 24)) < 0.001
        quality[gaps], wh[gaps] = Quality.MISSING, 0
        wh[rng.random((meters, 24)) < 0.0005] *= 6
        flags = FLAGS_OF_QUALITY[quality].copy()
        if validated:
            flags[~gaps] |= np.uint8(IntervalFlag.VALIDATED)
        keys = day_key(pks, 1, np.full(meters, first_day + d))
        block = DayBlock(keys, 60, wh, flags, wh.copy(), quality, np.ones(meters, np.int64))
        day_store.ensure_partitions(block.day)
        day_store.save_days(ldc, block)
    return meters * days * 24


class TreeMemory:
    """Peak memory of this process and its descendants (the parsing workers), sampled every
    50 ms as proportional set size (Linux: /proc/PID/smaps_rollup): pages two processes share
    count half to each, so the sum is what the tree really holds."""

    def __init__(self) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, sum(_pss_mb(pid) for pid in _tree(os.getpid())))


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
