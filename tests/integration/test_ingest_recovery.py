"""The recovery paths the fault scenarios found, made deterministic: a day VEE stored between a
batch's read and its insert, and a batch whose VEE was never queued (its worker died just after
the commit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meters.models import ReadFile, ReadFileBatch
from meters.reads import day_store, ingest
from tests.integration.harness import cmep, deliver, registered_ldc
from tests.integration.invariants import assert_accounted, assert_not_doubled


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_day_stored_meanwhile_makes_the_batch_read_again_not_fail(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL new days are COPYed in: a day another transaction stored after the batch
    read the days (VEE estimating it) breaks the unique key; the batch rolls back and is merged
    again over what is now stored, instead of failing the file."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPENMDMR_INGEST_BATCH_READS = 500
    settings.OPENMDMR_VEE_AFTER_INGEST = False
    ldc = registered_ldc("race", 20)
    first, _ = deliver(ldc, cmep(ldc, tmp_path, "first.txt", range(20), 1), queue=False)
    ingest.read_file_ingest(read_file=first)
    real, blinded = day_store.fetch_days, []

    def fetch_days_blind_once(ldc_: Any, keys: Any) -> dict[int, Any]:
        if not blinded:  # the first read misses the stored days, as a racing reader would
            blinded.append(True)
            return {}
        return real(ldc_, keys)

    monkeypatch.setattr(day_store, "fetch_days", fetch_days_blind_once)
    corrected, _ = deliver(ldc, cmep(ldc, tmp_path, "again.txt", range(20), 1, seed=3), queue=False)
    corrected = ingest.read_file_ingest(read_file=corrected)
    assert blinded and corrected.status == ReadFile.Status.LOADED
    assert_accounted(ldc)
    assert_not_doubled(ldc)


@pytest.mark.django_db
def test_a_resumed_file_queues_again_the_vee_of_its_last_committed_batch(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPENMDMR_INGEST_BATCH_READS = 500
    settings.OPENMDMR_INGEST_LOADERS = 1  # one batch at a time: the last one is requeued
    ldc = registered_ldc("resume", 20)
    read_file, _ = deliver(ldc, cmep(ldc, tmp_path, "reads.txt", range(20), 4), queue=False)
    queued: list[tuple[list[int], int, int]] = []
    monkeypatch.setattr(
        ingest,
        "_queue_vee",
        lambda ldc, meters, first, last, **_: queued.append((meters, first, last)),
    )
    ingest.read_file_ingest(read_file=read_file)
    batches = list(queued)
    assert len(batches) >= 3
    # A worker died just after committing batch 2 and queuing its VEE, which went down with it:
    # undo the rest. (In this test's transaction no commit runs the marking of queued VEE: it is
    # set here.)
    read_file.refresh_from_db()
    ReadFileBatch.objects.filter(read_file=read_file, number__gte=2).delete()
    ReadFileBatch.objects.filter(read_file=read_file, number=0).update(vee_queued=True)
    ReadFileBatch.objects.filter(read_file=read_file, number=1).update(vee_queued=True)
    ReadFile.objects.filter(pk=read_file.pk).update(
        status=ReadFile.Status.LOADING, batches_done=2, lease_until=None
    )
    queued.clear()
    ingest.read_file_ingest(read_file=read_file)
    assert queued[0] == batches[1], "the VEE of the last committed batch was not queued again"
    assert queued[1:] == batches[2:]


@pytest.mark.django_db
def test_a_batch_another_worker_committed_but_never_queued_is_queued_before_the_file_ends(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a worker's lease runs out while it still works: another takes the file over,
    and both load. The first commits batch 1 and is killed before queuing its VEE; the second
    finds batch 1 loaded (its insert breaks one_load_per_batch) and goes on. Before the file is
    finished the second queues batch 1's VEE, else its days wait for the daily sweep."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPENMDMR_INGEST_BATCH_READS = 500
    settings.OPENMDMR_INGEST_LOADERS = 1
    ldc = registered_ldc("takeover", 20)
    read_file, _ = deliver(ldc, cmep(ldc, tmp_path, "reads.txt", range(20), 4), queue=False)
    queued: list[tuple[list[int], int, int]] = []
    monkeypatch.setattr(
        ingest,
        "_queue_vee",
        lambda ldc, meters, first, last, **_: queued.append((meters, first, last)),
    )
    real_load_batch = ingest._load_batch

    def other_worker_first(read_file: Any, number: int, *args: Any) -> Any:
        if number == 1 and not ReadFileBatch.objects.filter(read_file=read_file, number=1):
            real_load_batch(read_file, number, *args)  # committed; its worker dies: no VEE
        return real_load_batch(read_file, number, *args)

    monkeypatch.setattr(ingest, "_load_batch", other_worker_first)
    done = ingest.read_file_ingest(read_file=read_file)
    assert done.status == ReadFile.Status.LOADED
    batches = ReadFileBatch.objects.filter(read_file=read_file).count()
    assert batches >= 3
    # One VEE per batch this worker loaded, and one for batch 1, queued last.
    assert len(queued) == batches
    meters_of_batch_1 = queued[-1][0]
    assert meters_of_batch_1 and meters_of_batch_1 not in queued[:-1]
