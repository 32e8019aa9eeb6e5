"""Deliveries that repeat: the same file twice at once, a task delivered twice, a corrected file.

Real Celery workers on Redis and PostgreSQL; each scenario ends with the four invariants."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import connection

from billing.models import BillingQuantity, ReplacementNotice, Status
from billing.services import (
    billing_quantities_refresh,
    billing_quantity_release,
    billing_requests_ensure,
)
from meters.models import (
    IntervalDay,
    IntervalDayVersion,
    Meter,
    ReadFile,
    ServiceDeliveryPoint,
)
from meters.reads import ingest
from meters.reads.day_arrays import unpack_rows
from meters.reads.tasks import ingest_read_file
from tests.integration.harness import (
    FAST,
    FIRST_DAY,
    cmep,
    deliver,
    registered_ldc,
    settle,
    wait_for,
)
from tests.integration.invariants import assert_invariants, loaded_files, parse_file

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_the_same_file_delivered_twice_at_once_is_loaded_once(
    start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    ldc = registered_ldc("twice", 40)
    paths = [
        cmep(ldc, tmp_path, f"same{i}.txt", range(40), 2, first=FIRST_DAY + dt.timedelta(2 * i))
        for i in range(4)
    ]
    outcomes: list[tuple[str, int, bool]] = []
    lock = threading.Lock()

    def receive(path: Path, barrier: threading.Barrier) -> None:
        data = path.read_bytes()
        barrier.wait()
        try:
            read_file, created = ingest.read_file_receive(
                ldc=ldc,
                interface="cmep",
                upload=io.BytesIO(data),
                name=path.name,
                actor=None,
                via="test",
            )
            with lock:
                outcomes.append((path.name, read_file.pk, created))
        finally:
            connection.close()

    for path in paths:  # three deliveries of each file race each other
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=receive, args=(path, barrier)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for path in paths:
        mine = [o for o in outcomes if o[0] == path.name]
        assert len(mine) == 3 and sum(created for _, _, created in mine) == 1, mine
        assert len({pk for _, pk, _ in mine}) == 1, "the duplicates were answered another file"
    assert ReadFile.objects.for_ldc(ldc).count() == len(paths)
    media = Path(broker["MEDIA_ROOT"])
    stored = {str(p.relative_to(media)) for p in (media / "read_files").rglob("*") if p.is_file()}
    kept = set(ReadFile.objects.for_ldc(ldc).values_list("file", flat=True))
    assert stored == kept, "the losing deliveries' uploads were not removed"
    worker = start_worker("d1", **FAST)
    settle(ldc, broker["CELERY_BROKER_URL"], [worker])
    assert_invariants(ldc)


def test_a_task_delivered_twice_loads_the_file_once(
    start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    """A worker stalls (SIGSTOP) mid-file past the visibility timeout: Redis hands its task to a
    second worker, which takes the file over when the lease runs out; then the first wakes up
    and carries on. The same task is also sent twice at once. Each batch commits once."""
    ldc = registered_ldc("redeliver", 200)
    slow = cmep(ldc, tmp_path, "slow.txt", range(200), 6)
    twice = cmep(ldc, tmp_path, "twice.txt", range(200), 2, first=FIRST_DAY + dt.timedelta(6))
    first = start_worker("r1", **FAST)
    read_file, _ = deliver(ldc, slow)
    wait_for(
        lambda: ReadFile.objects.get(pk=read_file.pk).batches_done >= 1,
        what="the first worker to start loading",
    )
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = start_worker("r2", **FAST)
        wait_for(
            lambda: "ingest_read_file" in (tmp_path / "r2.log").read_text(),
            what="the stalled worker's task to be handed to the second worker",
        )
        # It takes the file over when the lease runs out (unless the first stalled inside a
        # batch's transaction, holding the file's row: then it waits for it to wake up).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and read_file_attempts(read_file.pk) < 2:
            time.sleep(0.2)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    other, _ = deliver(ldc, twice, queue=False)
    for _ in range(2):  # the same task sent twice at once
        ingest_read_file.delay(ldc_id=ldc.pk, read_file_id=other.pk)
    settle(ldc, broker["CELERY_BROKER_URL"], [first, second])
    logs = "".join(p.read_text() for p in tmp_path.glob("r*.log"))
    received = Counter(re.findall(r"ingest_read_file\[([0-9a-f-]+)\] received", logs))
    assert received.most_common(1)[0][1] >= 2, f"no task was delivered twice: {received}"
    for rf in ReadFile.objects.for_ldc(ldc):
        assert rf.status == ReadFile.Status.LOADED
    print(f"invariants held over {assert_invariants(ldc)}")


def read_file_attempts(pk: int) -> int:
    return ReadFile.objects.get(pk=pk).attempts


def _stored_raw(ldc: Any) -> dict[tuple[int, int, int], int]:
    out = {}
    for meter, channel, day, raw_wh, raw_q in IntervalDay.objects.for_ldc(ldc).values_list(
        "meter_id", "channel", "day", "raw_wh", "raw_quality"
    ):
        wh = unpack_rows([raw_wh], "<i4", 24)[0]
        base = (day - dt.date(1970, 1, 1)).days * 86_400
        quality = unpack_rows([raw_q], "u1", 24)[0]
        for slot in np.flatnonzero(quality != 255).tolist():
            out[(meter, channel, base + slot * 3600)] = int(wh[slot])
    return out


def test_a_corrected_file_wins_keeps_versions_and_doubles_nothing(
    start_worker: Any, broker: dict[str, str], tmp_path: Path
) -> None:
    meters, days = 30, 4
    ldc = registered_ldc("corrected", meters)
    sdps = list(ServiceDeliveryPoint.objects.for_ldc(ldc))
    requests = billing_requests_ensure(
        ldc=ldc, sdps=sdps, start=FIRST_DAY, end=FIRST_DAY + dt.timedelta(days - 1)
    )
    billing_quantities_refresh(ldc=ldc, requests=requests, reason="requested")
    # One day more on each side: billing needs the whole local days (UTC rows span them).
    first = cmep(ldc, tmp_path, "first.txt", range(meters), days + 2, first=FIRST_DAY)
    worker = start_worker("c1", **FAST)
    deliver(ldc, first)
    settle(ldc, broker["CELERY_BROKER_URL"], [worker])
    complete = BillingQuantity.objects.for_ldc(ldc).filter(status=Status.COMPLETE)
    assert complete.count() >= meters // 2, "too few quantities complete to release"
    for quantity in complete:
        billing_quantity_release(quantity=quantity, actor=None)
    released = set(
        BillingQuantity.objects.for_ldc(ldc)
        .filter(status=Status.RELEASED)
        .values_list("pk", flat=True)
    )
    before = loaded_files(ldc)
    # The head-end's corrected file: the same meters and days, other values (another seed).
    corrected = cmep(ldc, tmp_path, "corrected.txt", range(meters), days + 2, seed=99)
    rf, created = deliver(ldc, corrected)
    assert created
    settle(ldc, broker["CELERY_BROKER_URL"], [worker])
    stored = _stored_raw(ldc)
    new = parse_file(ReadFile.objects.get(pk=rf.pk)).intervals
    pk_of = dict(Meter.objects.for_ldc(ldc).values_list("serial", "pk"))
    actual = new.quality <= 1
    wins = [
        stored[(pk_of[str(m)], int(c), int(s))] == int(w)
        for m, c, s, w in zip(
            new.meter[actual], new.channel[actual], new.start[actual], new.wh[actual], strict=True
        )
    ]
    assert all(wins), f"{wins.count(False)} intervals kept the first file's value"
    versions = IntervalDayVersion.objects.for_ldc(ldc)
    # The first file's days were kept as versions, superseded by the corrected file (a day whose
    # records straddle two batches gets a version per batch).
    assert versions.exists() and not versions.exclude(superseded_by_file=rf.pk).exists()
    # Each released quantity was replaced by exactly one new version, with one notice.
    for old in BillingQuantity.objects.for_ldc(ldc).filter(pk__in=released):
        assert old.status == Status.RELEASED and old.superseded_by_id is not None
        assert old.superseded_by.version == old.version + 1
        assert ReplacementNotice.objects.filter(replaces=old).count() == 1
    assert_invariants(ldc, before)
