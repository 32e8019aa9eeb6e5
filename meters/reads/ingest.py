"""Read files, top-down: receive, ingest, report.

receive: hash and store the delivery; a file already received is answered as a duplicate.
ingest: parse the whole file into a spool on disk (meters.reads.spool; a malformed file is
rejected before anything is stored), then batch by batch, one transaction each: resolve its
meters and check the business rules (meters.reads.resolve), merge with the stored days (pure
numpy, meters.reads.day_arrays), write in bulk (meters.reads.day_store), record the batch done,
and queue its VEE. report: the file's figures and rejected records.
Resumable and idempotent: a redelivered task resumes after the last committed batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from meters.models import ReadFile, ReadFileBatch, ReadRejection, RegisterRead, VeeFailure
from meters.reads import day_store, heap, runs
from meters.reads.day_arrays import incoming_block, merge, merge_new
from meters.reads.interfaces import INTERFACES, keys_by_last_segment
from meters.reads.interfaces.base import IntervalBatch, ReadFileError, RegisterBatch
from meters.reads.resolve import (
    MeterResolver,
    Reason,
    check_rules,
    duplicates,
    group_rejections,
)
from meters.reads.spool import Spool, SpooledBatch, batch_figures, file_figures, parse_to_spool
from portal.access import Actor
from portal.audit import audit
from portal.queue import INGEST_READ_FILE, VEE_DAYS, enqueue
from portal.tenancy import LDC

Status = ReadFile.Status
UNFINISHED = (Status.RECEIVED, Status.PARSING, Status.LOADING)
# Tries of one batch that collides with a day stored meanwhile (see _load).
BATCH_ATTEMPTS = 3


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    """Hex digest and size of a stream, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


class _HashedCopy(File):
    """A delivered file's copy (see _copy_hashed): a file system storage renames it into place
    instead of copying it again."""

    def temporary_file_path(self) -> str:
        return str(getattr(self.file, "name", ""))


def _copy_hashed(stream: IO[bytes], limit: int) -> tuple[str, int, Path]:
    """Hex sha256 and size of ``stream``, and a copy of it (when not over ``limit`` bytes) in a
    temporary file beside the stored read files: the upload is read once, and the hash runs in a
    second thread while the copy is written (hashlib lets go of the GIL), 0.15 s instead of
    0.3-0.5 s for 182 MB."""
    try:
        directory = Path(default_storage.path("read_files/.incoming"))
    except NotImplementedError:  # not on a file system: a local copy, which save() will read
        directory = Path(tempfile.gettempdir())
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    digest, size = hashlib.sha256(), 0
    try:
        with (
            ThreadPoolExecutor(1, thread_name_prefix="sha256") as pool,
            os.fdopen(handle, "wb") as out,
        ):
            hashed: Future[None] | None = None
            stream.seek(0)
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                size += len(chunk)
                if hashed is not None:
                    hashed.result()  # in order, one chunk at a time
                hashed = pool.submit(digest.update, chunk)
                if size <= limit:
                    out.write(chunk)
            if hashed is not None:
                hashed.result()
        stream.seek(0)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size, Path(name)


def read_file_receive(
    *,
    ldc: LDC,
    interface: str,
    upload: IO[bytes],
    name: str,
    actor: Actor | None,
    via: str,
    queue: bool = True,
) -> tuple[ReadFile, bool]:
    """Record a delivered file and queue its ingestion; a file already received is a duplicate.

    Returns (read file, created); ``queue=False`` leaves ingestion to the caller (a command).
    Two deliveries of the same file at once: one wins the unique
    (ldc, sha256) constraint, the other is answered as the duplicate.
    """
    if interface not in INTERFACES:
        raise ValidationError(f"Unknown interface '{interface}': one of {', '.join(INTERFACES)}.")
    limit = settings.OPENMDMR_MAX_READ_FILE_BYTES
    digest, size, copy = _copy_hashed(upload, limit)
    try:
        if size > limit:
            raise ValidationError(f"{name}: {size} bytes is over the limit of {limit} bytes.")
        existing = ReadFile.objects.for_ldc(ldc).filter(sha256=digest).first()
        if existing is not None:
            return existing, False
        with copy.open("rb") as content:  # moved into place by a file system storage
            stored = default_storage.save(
                f"read_files/{ldc.slug}/{digest[:2]}/{digest}", _HashedCopy(content)
            )
    finally:
        copy.unlink(missing_ok=True)
    try:
        with transaction.atomic():
            read_file = ReadFile.objects.create(
                ldc=ldc,
                interface=interface,
                sha256=digest,
                file=stored,
                original_name=os.path.basename(name)[:255],
                size_bytes=size,
                received_by=actor.user if actor else None,
                received_via=via,
            )
            audit(
                action="read_file.received",
                actor=actor,
                ldc=ldc,
                obj=read_file,
                after={"interface": interface, "sha256": digest, "bytes": size},
            )
            if queue:
                transaction.on_commit(lambda: _queue(read_file))
    except IntegrityError:
        winner = ReadFile.objects.for_ldc(ldc).get(sha256=digest)
        # Two deliveries racing can be given the same stored name: Django's file system storage
        # checks that the name is free, then renames into place (file_move_safe), so the second
        # rename replaces the first (same bytes: the name is the content's hash). The loser
        # removes its copy only when it is not the winner's file.
        if stored != winner.file.name:
            default_storage.delete(stored)
        return winner, False
    return read_file, True


def _queue(read_file: ReadFile) -> None:
    enqueue(INGEST_READ_FILE, ldc_id=read_file.ldc_id, read_file_id=read_file.pk)


def claim(read_file: ReadFile) -> bool:
    """Take the file for this worker unless it is finished or another worker's lease runs."""
    now = timezone.now()
    taken = (
        ReadFile.objects.filter(pk=read_file.pk, status__in=UNFINISHED)
        .exclude(lease_until__gt=now)
        .update(lease_until=now + lease(), attempts=F("attempts") + 1, started_at=now)
    )
    return taken == 1


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.OPENMDMR_INGEST_LEASE_S)


def read_files_stalled(now: dt.datetime | None = None) -> list[ReadFile]:
    """Files not finished whose worker's lease ran out (a lost or killed worker)."""
    now = now or timezone.now()
    return list(
        ReadFile.objects.filter(
            status__in=UNFINISHED, received_at__lt=now - dt.timedelta(minutes=1)
        ).exclude(lease_until__gt=now)
    )


def read_file_ingest(*, read_file: ReadFile) -> ReadFile:
    """Parse, check and merge a read file; resumable after a crash, idempotent when repeated."""
    if not claim(read_file):
        read_file.refresh_from_db()
        return read_file
    read_file.refresh_from_db()
    ldc = read_file.ldc
    tz = ZoneInfo(ldc.time_zone)
    ReadFile.objects.filter(pk=read_file.pk, status=Status.RECEIVED).update(status=Status.PARSING)
    try:
        spool = parse_to_spool(
            Path(read_file.file.path),
            interface=read_file.interface,
            filename=read_file.original_name,
            tz=tz,
            batch_reads=settings.OPENMDMR_INGEST_BATCH_READS,
        )
    except ReadFileError as exc:
        return read_file_reject(read_file=read_file, error=str(exc))
    try:
        _load(read_file, spool, tz)
    finally:
        spool.close()
        heap.trim()
    return _finish(read_file)


def read_file_reject(*, read_file: ReadFile, error: str) -> ReadFile:
    """A malformed file: rejected whole, nothing of it stored, the reason kept and shown."""
    with transaction.atomic():
        ReadFile.objects.filter(pk=read_file.pk).update(
            status=Status.REJECTED, error=error, finished_at=timezone.now(), lease_until=None
        )
        audit(
            action="read_file.rejected",
            actor=None,
            ldc=read_file.ldc,
            obj=read_file,
            after={"error": error},
        )
    read_file.refresh_from_db()
    return read_file


def _load(read_file: ReadFile, spool: Spool, tz: ZoneInfo) -> None:
    ReadFile.objects.filter(pk=read_file.pk).update(
        status=Status.LOADING,
        batches_total=spool.batches,
        records=spool.records,
        intervals_total=spool.intervals,
    )
    resolver = MeterResolver(
        read_file.ldc, spool.serials, last_segment=keys_by_last_segment(read_file.interface)
    )
    now = timezone.now()
    done = list(
        ReadFileBatch.objects.for_ldc(read_file.ldc)
        .filter(read_file=read_file)
        .order_by("loaded_at")
        .values_list("number", "vee_queued")
    )
    loaded = {number for number, _ in done}
    # Committed by an earlier attempt, which died (or lost the broker) before it queued the
    # batch's VEE, or just after: the last batches' VEE messages may have gone down with the
    # worker that had taken them (a killed worker's prefetched messages are not always given
    # back). Queue them again (VEE is idempotent).
    last = {number for number, _ in done[-max(1, settings.OPENMDMR_INGEST_LOADERS) :]}
    for number, vee_queued in done:
        if not vee_queued or number in last:
            _requeue_vee(read_file, number, spool.load(number), resolver)

    def load(number: int) -> Loaded:
        batch = _without_duplicates(spool.load(number))
        return _load_number(read_file, number, batch, resolver, tz, now)

    def committed(number: int, outcome: Loaded) -> None:
        # In the calling thread, after the batch's commit: say which days it stored (read
        # success is counted again) and queue its VEE (a worker killed before this leaves
        # vee_queued false, and the retry does both).
        if outcome.touched is not None:
            _announce_stored(read_file.ldc, *outcome.touched)
        if outcome.vee is not None:
            _queue_vee(read_file.ldc, *outcome.vee, read_file_id=read_file.pk)
            _mark_vee_queued(read_file, number)
            queued.add(number)
        day_store.STATISTICS.added(outcome.new_days)

    queued: set[int] = set()
    todo = [n for n in range(spool.batches) if n not in loaded]
    with heap.reused():
        if _loaders() > 1 and len(todo) > 1:
            _in_threads(todo, load, committed, _loaders())
        else:
            for number in todo:
                committed(number, load(number))
    # A batch committed meanwhile by another worker (whose lease ran out while it still worked,
    # so that this one took the file over) that died before queuing the batch's VEE: nobody else
    # will queue it, and the file is about to be finished. Queue it (VEE is idempotent).
    late = (
        ReadFileBatch.objects.for_ldc(read_file.ldc)
        .filter(read_file=read_file, vee_queued=False)
        .exclude(number__in=queued | loaded)
        .values_list("number", flat=True)
    )
    for number in late:
        _requeue_vee(read_file, number, spool.load(number), resolver)


def _without_duplicates(batch: SpooledBatch) -> SpooledBatch:
    """A batch's reads with the duplicate rule applied (meters.reads.resolve.duplicates)."""
    keep, reason = duplicates(batch.intervals, batch.interval_code)
    if keep.all() and reason is batch.intervals.reason:
        return batch
    return batch.take(keep, reason)


@dataclass
class Loaded:
    """What loading one batch did: the UTC day of each day stored new, the VEE it needs."""

    new_days: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    vee: tuple[list[int], int, int] | None = None
    touched: tuple[list[int], int, int] | None = None  # meters, first and last UTC day


def _loaders() -> int:
    """Batches loaded at once: each on its own connection, on PostgreSQL outside a transaction
    (rows a caller has not committed are not visible to other connections)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, settings.OPENMDMR_INGEST_LOADERS)


def _in_threads(
    numbers: list[int],
    work: Callable[[int], Loaded],
    done: Callable[[int, Loaded], None],
    threads: int,
) -> None:
    """Run ``work`` on each number, ``threads`` at a time, and ``done`` on each result in this
    thread (messages to the broker are sent from here only). The first error stops the rest
    and is raised. Each thread closes its own database connection."""
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for number in numbers:
        pending.put(number)
    results: queue.SimpleQueue[tuple[int, Loaded | BaseException | None]] = queue.SimpleQueue()
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                try:
                    number = pending.get_nowait()
                except queue.Empty:
                    return
                results.put((number, work(number)))
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            results.put((-1, exc))
        finally:
            connection.close()
            results.put((-1, None))  # this thread is finished

    workers = [threading.Thread(target=run, name=f"ingest-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    error: BaseException | None = None
    running = len(workers)
    while running:
        number, outcome = results.get()
        if outcome is None:
            running -= 1
        elif isinstance(outcome, BaseException):
            error = error or outcome
            stop.set()
        elif error is None:
            done(number, outcome)
    for worker in workers:
        worker.join()
    if error is not None:
        raise error


def _load_number(
    read_file: ReadFile,
    number: int,
    batch: SpooledBatch,
    resolver: MeterResolver,
    tz: ZoneInfo,
    now: dt.datetime,
) -> Loaded:
    """Load one batch (retried when a day was stored meanwhile)."""
    day_store.ensure_partitions(batch.intervals.start // 86_400)
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return _load_batch(read_file, number, batch, resolver, tz, now)
        except (IntegrityError, cast(Any, connection).Database.IntegrityError):
            batches = ReadFileBatch.objects.for_ldc(read_file.ldc)
            if batches.filter(read_file=read_file, number=number).exists():
                return Loaded()  # another worker loaded this batch meanwhile
            # A VEE run outside the meters' locks (the daily sweep, an edit) stored an
            # estimated day this batch saw as new, between our read and our insert: the
            # batch rolled back whole; read the days again and merge over the estimate.
            if attempt == BATCH_ATTEMPTS:
                raise
    return Loaded()


def _load_batch(
    read_file: ReadFile,
    number: int,
    batch: SpooledBatch,
    resolver: MeterResolver,
    tz: ZoneInfo,
    now: dt.datetime,
) -> Loaded:
    """Merge batch ``number`` and record it done, in one transaction."""
    with transaction.atomic():
        counts = merge_batch(read_file, batch, resolver, tz, now)
        vee, touched = counts.pop("vee"), counts.pop("touched")
        stored = counts.pop("stored")
        ReadFileBatch.objects.create(
            ldc=read_file.ldc,
            read_file=read_file,
            number=number,
            intervals_accepted=counts["accepted"],
            intervals_rejected=counts["rejected"],
            vee_queued=vee is None,
            figures=batch_figures(batch, tz, stored),
        )  # a second load of the batch breaks one_load_per_batch: rolled back
        ReadFile.objects.filter(pk=read_file.pk).update(
            batches_done=F("batches_done") + 1,
            lease_until=timezone.now() + lease(),
            intervals_accepted=F("intervals_accepted") + counts["accepted"],
            intervals_rejected=F("intervals_rejected") + counts["rejected"],
            registers_accepted=F("registers_accepted") + counts["registers"],
        )
    return Loaded(counts["new_days"], vee, touched)


def _mark_vee_queued(read_file: ReadFile, number: int) -> None:
    """Once the batch's VEE is queued (after the commit), note it for a retry."""
    transaction.on_commit(
        lambda: (
            ReadFileBatch.objects.for_ldc(read_file.ldc)
            .filter(read_file=read_file, number=number)
            .update(vee_queued=True)
        )
    )


def merge_batch(
    read_file: ReadFile,
    batch: SpooledBatch,
    resolver: MeterResolver,
    tz: ZoneInfo,
    now: dt.datetime,
) -> dict[str, Any]:
    """Merge one batch inside the caller's transaction; returns its counts, the meters and UTC
    days its accepted reads touched (meters, first and last UTC day, or None) and the VEE it
    needs (the same, or None when VEE does not follow ingestion)."""
    ldc, intervals = read_file.ldc, batch.intervals
    checked = check_rules(intervals, batch.interval_code, resolver, batch.local_days(tz), now)
    ok = checked.reason == Reason.ACCEPTED
    meters = runs.unique(checked.meter_pk if ok.all() else checked.meter_pk[ok]).tolist()
    day_store.lock_meters(ldc, meters)
    accepted, new_days = _merge_intervals(read_file, intervals, checked, ok)
    rejections = group_rejections(intervals, checked.reason)
    _save_rejections(read_file, rejections)
    ok = checked.reason == Reason.ACCEPTED  # the merge may have rejected more (length changed)
    touched = None
    if ok.any():
        if not ok.all():
            meters = runs.unique(checked.meter_pk[ok]).tolist()
        start = intervals.start if ok.all() else intervals.start[ok]
        touched = (meters, int(start.min()) // 86_400, int(start.max()) // 86_400)
    return {
        "accepted": accepted,
        "rejected": sum(r["intervals"] for r in rejections),
        "registers": _save_registers(read_file, batch.registers, batch.register_code, resolver),
        "touched": touched,
        "vee": touched if settings.OPENMDMR_VEE_AFTER_INGEST else None,
        "new_days": new_days,
        "stored": ok,  # the reads stored: only they count as delivered (batch_figures)
    }


def _requeue_vee(
    read_file: ReadFile, number: int, batch: SpooledBatch, resolver: MeterResolver
) -> None:
    pk = resolver.meter_ids(batch.interval_code)
    known = pk >= 0
    if known.any():
        days = batch.intervals.start[known] // 86_400
        touched = (runs.unique(pk[known]).tolist(), int(days.min()), int(days.max()))
        _announce_stored(read_file.ldc, *touched)
        if settings.OPENMDMR_VEE_AFTER_INGEST:
            _queue_vee(read_file.ldc, *touched, read_file_id=read_file.pk)
    _mark_vee_queued(read_file, number)


def _announce_stored(ldc: LDC, meters: list[int], first_day: int, last_day: int) -> None:
    """Once the batch is committed: figures counted from the stored reads of those meters and
    UTC days (read success) are stale."""
    from meters.signals import reads_stored

    transaction.on_commit(
        lambda: reads_stored.send(
            sender=ReadFile, ldc=ldc, meter_ids=meters, first_day=first_day, last_day=last_day
        )
    )


def _queue_vee(
    ldc: LDC, meters: list[int], first_day: int, last_day: int, *, read_file_id: int
) -> None:
    """VEE of the touched meter-days, once the batch is committed (on any worker); a failure of
    it is recorded against the file (meters.vee.tasks.vee_days)."""
    transaction.on_commit(
        lambda: enqueue(
            VEE_DAYS,
            ldc_id=ldc.pk,
            meter_ids=meters,
            first_day=first_day,
            last_day=last_day,
            read_file_id=read_file_id,
        )
    )


def _merge_intervals(
    read_file: ReadFile, iv: IntervalBatch, checked: Any, ok: np.ndarray
) -> tuple[int, np.ndarray]:
    """Merge the accepted intervals into their stored days, per interval length; returns the
    intervals accepted and the UTC day of each day stored new."""
    lengths = runs.unique(iv.minutes[ok]).tolist()
    # The reads of each length (usually: every read, one length, nothing to select).
    selected = {m: ok if len(lengths) == 1 else ok & (iv.minutes == m) for m in lengths}
    incoming = {}
    for minutes, sel in selected.items():
        columns = (checked.meter_pk, iv.channel, iv.start, iv.wh, iv.quality)
        if not sel.all():
            columns = tuple(column[sel] for column in columns)
        incoming[int(minutes)] = incoming_block(*columns, int(minutes))
    if not incoming:
        return 0, np.empty(0, np.int64)
    stored = day_store.fetch_days(read_file.ldc, np.concatenate([b.key for b in incoming.values()]))
    accepted, new_days = 0, [np.empty(0, np.int64)]
    for minutes, block in incoming.items():
        sel = selected[minutes]
        clash = np.zeros(len(block), bool)
        for other, days in stored.items():
            if other != minutes:
                clash |= np.isin(block.key, days.block.key)
        if clash.any():
            key_of = _keys_of(checked.meter_pk, iv, sel)
            bad = np.flatnonzero(sel)[np.isin(key_of, block.key[clash])]
            checked.reason[bad] = Reason.CODE[Reason.LENGTH_CHANGED]
            block = block.take(np.flatnonzero(~clash))
        mine = stored.get(minutes)
        if mine is not None:
            wanted = np.isin(mine.block.key, block.key)
            if not wanted.all():
                mine = day_store.vee_take(mine, np.flatnonzero(wanted))
        layout = day_store.vee_layout(mine, block.key, minutes)
        before, exists = layout.block, layout.exists
        result = merge(before, block) if exists.any() else merge_new(block)
        new_days.append(result.merged.day[result.changed & ~exists])
        _, versions = day_store.write_merge(read_file.ldc, before, result, read_file, exists)
        if versions:
            audit(
                action="reads.actual_changed",
                actor=None,
                ldc=read_file.ldc,
                obj=read_file,
                after={"meter_days_versioned": versions},
            )
        accepted += int((checked.reason[sel] == Reason.ACCEPTED).sum())
    return accepted, np.concatenate(new_days)


def _keys_of(meter_pk: np.ndarray, iv: IntervalBatch, sel: np.ndarray) -> np.ndarray:
    from meters.reads.day_arrays import day_key

    return day_key(meter_pk[sel], iv.channel[sel], iv.start[sel] // 86_400)


def _save_rejections(read_file: ReadFile, groups: list[dict[str, Any]]) -> None:
    ReadRejection.objects.bulk_create(
        [
            ReadRejection(
                ldc=read_file.ldc,
                read_file=read_file,
                reason=g["reason"],
                meter_serial=g["meter"][:60],
                line=g["line"],
                intervals=g["intervals"],
                first_start=dt.datetime.fromtimestamp(g["first"], dt.UTC),
                last_start=dt.datetime.fromtimestamp(g["last"], dt.UTC),
                message=Reason.TEXT[g["reason"]],
            )
            for g in groups
        ],
        batch_size=2000,
    )


def _save_registers(
    read_file: ReadFile, rg: RegisterBatch, code: np.ndarray, resolver: MeterResolver
) -> int:
    if not len(rg):
        return 0
    known = _register_rules(read_file, rg, code, resolver)
    pk = resolver.meter_ids(code)
    RegisterRead.objects.bulk_create(
        [
            RegisterRead(
                ldc=read_file.ldc,
                meter_id=int(m),
                channel=int(c),
                read_at=dt.datetime.fromtimestamp(int(t), dt.UTC),
                wh=int(w),
                read_file=read_file,
            )
            for m, c, t, w in zip(
                pk[known], rg.channel[known], rg.read_at[known], rg.wh[known], strict=True
            )
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["ldc", "meter", "channel", "read_at"],
        update_fields=["wh"],
    )
    return int(known.sum())


# Register reads follow the intervals' business rules (issue 20): a read of a meter the LDC does
# not have, not linked to an SDP at that instant, or in the future is a rejected record, listed.
REGISTER_REASONS = {
    "register_unknown_meter": "register read: " + Reason.TEXT[Reason.UNKNOWN_METER],
    "register_not_linked": "register read: " + Reason.TEXT[Reason.NOT_LINKED],
    "register_future": "register read: read in the future",
}


def _register_rules(
    read_file: ReadFile, rg: RegisterBatch, code: np.ndarray, resolver: MeterResolver
) -> np.ndarray:
    """Which register reads may be stored; the others are saved as ReadRejection rows."""
    from portal.calendar.localtime import local_days

    pk = resolver.meter_ids(code)
    tz = ZoneInfo(read_file.ldc.time_zone)
    at = np.asarray(rg.read_at, np.int64)
    # A read at local midnight closes one day and opens the next: linked on either is linked.
    linked = resolver.linked(pk, local_days(at, tz)) | resolver.linked(pk, local_days(at - 1, tz))
    why = np.full(len(rg), "", dtype=object)
    why[at > int(timezone.now().timestamp())] = "register_future"
    why[(pk >= 0) & ~linked] = "register_not_linked"
    why[pk < 0] = "register_unknown_meter"
    bad = np.flatnonzero(why != "")
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i in bad.tolist():  # rejected register reads: few, one Python step each
        groups.setdefault((str(why[i]), str(rg.meter[i]), int(rg.line[i])), []).append(int(at[i]))
    ReadRejection.objects.bulk_create(
        [
            ReadRejection(
                ldc=read_file.ldc,
                read_file=read_file,
                reason=reason,
                meter_serial=meter[:60],
                line=line,
                intervals=len(times),
                first_start=dt.datetime.fromtimestamp(min(times), dt.UTC),
                last_start=dt.datetime.fromtimestamp(max(times), dt.UTC),
                message=REGISTER_REASONS[reason],
            )
            for (reason, meter, line), times in groups.items()
        ],
        batch_size=2000,
    )
    return why == ""


def _finish(read_file: ReadFile) -> ReadFile:
    read_file.refresh_from_db()
    if read_file.status != Status.LOADING or read_file.batches_done != read_file.batches_total:
        return read_file
    figures = list(
        ReadFileBatch.objects.for_ldc(read_file.ldc)
        .filter(read_file=read_file)
        .values_list("figures", flat=True)
    )
    report = file_figures(figures) | data_collection_counts(read_file)
    # VEE of a batch that failed (recorded by its task, eager or not yet): the file is loaded,
    # its reads kept, and it says that VEE failed and why until a retry passes (issue 20).
    failed = (
        VeeFailure.objects.for_ldc(read_file.ldc)
        .filter(read_file=read_file, resolved_at__isnull=True)
        .values_list("error", flat=True)
        .first()
    )
    with transaction.atomic():
        done = ReadFile.objects.filter(pk=read_file.pk, status=Status.LOADING).update(
            status=Status.LOADED if failed is None else Status.VEE_FAILED,
            error="" if failed is None else f"VEE failed: {failed}"[:2000],
            report=report,
            finished_at=timezone.now(),
            lease_until=None,
        )
        if done:
            audit(
                action="read_file.loaded",
                actor=None,
                ldc=read_file.ldc,
                obj=read_file,
                after={
                    "accepted": read_file.intervals_accepted,
                    "rejected": read_file.intervals_rejected,
                },
            )
    read_file.refresh_from_db()
    return read_file


def data_collection_counts(read_file: ReadFile) -> dict[str, Any]:
    """The file's totals and its rejections by reason (from the committed rows)."""
    by_reason: dict[str, int] = {}
    for reason, n in (
        ReadRejection.objects.for_ldc(read_file.ldc)
        .filter(read_file=read_file)
        .values_list("reason", "intervals")
    ):
        by_reason[reason] = by_reason.get(reason, 0) + n
    return {
        "records": read_file.records,
        "intervals": read_file.intervals_total,
        "intervals_accepted": read_file.intervals_accepted,
        "intervals_rejected": read_file.intervals_rejected,
        "rejected_by_reason": by_reason,
        "registers_accepted": read_file.registers_accepted,
    }
