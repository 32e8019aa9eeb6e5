"""The spool: a parsed file on disk, regrouped by meter for loading (no Django here), and the
data-collection figures of its load batches.

Phase 1 of ingestion parses the whole file into the spool (memory flat in file size; a parse
error rejects the file before anything is stored). Line-independent formats (``parse_chunk`` in
their module: CMEP) are parsed by worker processes, a chunk of whole lines each, on every core.
"""

from __future__ import annotations

import collections
import importlib
import multiprocessing
import os
import tempfile
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads import runs
from meters.reads.interfaces import INTERFACES, get_parser
from meters.reads.interfaces._textfile import raw_block_bounds
from meters.reads.interfaces.base import (
    IntervalBatch,
    ParsedBatch,
    Quality,
    ReadFileError,
    RegisterBatch,
)
from portal.calendar.localtime import local_day_bounds, local_days

OBLIGATION_PCT = 98.0
# Files from this size are parsed by worker processes (when the format allows), in chunks of
# whole lines of about CHUNK_BYTES; below it, starting the workers costs more than it saves.
PARALLEL_MIN_BYTES = 32 << 20
CHUNK_BYTES = 8 << 20


@dataclass
class Completeness:
    """Per meter and local day, how many intervals the file delivered with a value.

    Kept as int64 keys (meter code, local day, interval length) with counts, merged now and
    then, so memory stays near 16 bytes per meter-day however large the file.
    """

    keys: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    missing: int = 0
    estimated: int = 0
    intervals: int = 0

    def add(self, batch: IntervalBatch, code: np.ndarray, local_day: np.ndarray) -> None:
        """Count the batch's intervals per meter (its spool code), local day and length; a read
        the parser or the duplicate rule rejected is not counted (read success <= 100 %)."""
        if batch.reason is not None and batch.reason.any():
            keep = batch.reason == 0
            batch, code, local_day = batch.take(keep), code[keep], local_day[keep]
        if not len(batch):
            return
        self.intervals += len(batch)
        self.missing += int((batch.quality == Quality.MISSING).sum())
        self.estimated += int((batch.quality == Quality.ESTIMATED).sum())
        key = (code.astype(np.int64) << 32) | (local_day << 12) | batch.minutes.astype(np.int64)
        keys, position = runs.unique_inverse(key)
        valued = np.bincount(
            position, weights=batch.quality != Quality.MISSING, minlength=len(keys)
        )
        self.keys.append(keys)
        self.counts.append(valued.astype(np.int64))
        if len(self.keys) > 16:
            self.compact()

    def compact(self) -> None:
        keys, position = np.unique(np.concatenate(self.keys), return_inverse=True)
        counts = np.bincount(position, weights=np.concatenate(self.counts), minlength=len(keys))
        self.keys, self.counts = [keys], [counts.astype(np.int64)]

    def report(self, tz: ZoneInfo, meters: int) -> dict[str, Any]:
        """The data-collection figures; ``meters`` is the number of spool codes."""
        if self.keys:
            self.compact()
        keys = self.keys[0] if self.keys else np.empty(0, np.int64)
        counts = self.counts[0] if self.counts else np.empty(0, np.int64)
        meter, day, minutes = keys >> 32, (keys >> 12) & 0xFFFFF, keys & 0xFFF
        # Expected intervals of each local day (23 or 25 hours on DST days), once per day.
        days, position = np.unique(day, return_inverse=True)
        seconds = [np.subtract(*local_day_bounds(tz, d)[::-1]) for d in days.tolist()]
        length = np.array(seconds, np.int64)[position] if len(day) else day
        expected = length // (minutes * 60) if len(day) else day
        complete = counts >= expected
        days_per_meter = np.bincount(meter, minlength=meters)
        complete_per_meter = np.bincount(meter, weights=complete, minlength=meters)
        seen = days_per_meter > 0
        return {
            "meters": int(seen.sum()),
            "meter_days": int(len(keys)),
            "complete_meter_days": int(complete.sum()),
            "meters_with_complete_days": int((seen & (complete_per_meter == days_per_meter)).sum()),
            "intervals_expected": int(expected.sum()),
            "intervals_with_value": self.intervals - self.missing,
            "intervals_missing": self.missing,
            "intervals_estimated": self.estimated,
        }


# The columns of a spooled interval or register read (33 and 28 bytes): the meter as its code
# in the part's serial table, and that serial's hash, which decides the load batch. A part is
# one raw file per kind with its columns one after the other (hash first): a batch reads its
# rows of each column as one contiguous slice, and every array it gets is contiguous.
_COLUMNS: dict[str, dict[str, np.dtype[Any]]] = {
    "i": {
        "hash": np.dtype("<u4"),
        "code": np.dtype("<i4"),
        "start": np.dtype("<i8"),
        "wh": np.dtype("<i8"),
        "line": np.dtype("<i4"),
        "minutes": np.dtype("<i2"),
        "quality": np.dtype("u1"),
        "channel": np.dtype("u1"),
        "reason": np.dtype("u1"),  # the parser's Reason code (0: a candidate)
    },
    "r": {
        "hash": np.dtype("<u4"),
        "code": np.dtype("<i4"),
        "read_at": np.dtype("<i8"),
        "wh": np.dtype("<i8"),
        "line": np.dtype("<i4"),
        "channel": np.dtype("u1"),
    },
}


def _part_file(path: Path, kind: str) -> Path:
    return path.with_name(f"{kind}{path.name}.bin")


@dataclass
class SpooledBatch:
    """One load batch: every read of a set of meters in the whole file, in file order per meter,
    with each read's meter code (an index into ``Spool.serials``)."""

    intervals: IntervalBatch
    registers: RegisterBatch
    interval_code: np.ndarray
    register_code: np.ndarray
    _local_days: np.ndarray | None = None

    def local_days(self, tz: ZoneInfo) -> np.ndarray:
        """Local date of each interval's start (once: the rules and the figures both need it)."""
        if self._local_days is None:
            self._local_days = local_days(self.intervals.start, tz)
        return self._local_days


class Serials:
    """Codes for meter serials in order of first appearance, with each serial's hash (its
    CRC-32: the same in every process and every run, so a retried file is cut the same way)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._hashes: list[np.ndarray] = []  # per group of serials added at once
        self._code: dict[str, int] = {}

    @property
    def hash(self) -> np.ndarray:
        """uint32 hash of each serial, by code."""
        if len(self._hashes) != 1:
            self._hashes = [np.concatenate([np.empty(0, np.uint32), *self._hashes])]
        return self._hashes[0]

    def encode(self, meter: np.ndarray) -> np.ndarray:
        """The code of each read's serial; one dictionary step per run of equal serials."""
        if not len(meter):
            return np.empty(0, np.int32)
        return runs.per_run(self._codes, meter)

    def _codes(self, meter: np.ndarray) -> np.ndarray:
        serials = [str(s) for s in meter.tolist()]
        return self.codes_of(serials, np.int32)

    def codes_of(self, serials: list[str], dtype: Any = np.int64) -> np.ndarray:
        """The code of each serial; new ones coded in order of first appearance."""
        known = self._code
        self._add([s for s in dict.fromkeys(serials) if s not in known])
        # Looked up by the dictionary itself (no Python call per serial).
        return np.fromiter(map(known.__getitem__, serials), dtype, len(serials))

    def _add(self, new: list[str]) -> None:
        if new:
            first = len(self.names)
            self.names.extend(new)
            self._code.update(zip(new, range(first, first + len(new)), strict=True))
            hashes = [zlib.crc32(serial.encode("utf-8")) for serial in new]
            self._hashes.append(np.array(hashes, np.uint32))


@dataclass
class Part:
    """What writing one part of the spool gives back: its counts, per serial code."""

    records: int = 0
    intervals: int = 0
    registers: int = 0
    reads: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per code


def write_part(path: Path, serials: Serials, batch: ParsedBatch) -> Part:
    """Write a parsed batch as part files (``_part_file``) sorted by serial hash (a stable sort
    keeps the file's order among one meter's reads: a later mention wins)."""
    iv, rg = batch.intervals, batch.registers
    code, reg_code = serials.encode(iv.meter), serials.encode(rg.meter)
    hashes = serials.hash
    for kind, reads, codes in (("i", iv, code), ("r", rg, reg_code)):
        hash_of_read = hashes[codes]
        starts, lengths = runs.sorted_runs(hash_of_read)  # whole records move: runs
        with _part_file(path, kind).open("wb") as out:
            for name, dtype in _COLUMNS[kind].items():
                values = {"hash": hash_of_read, "code": codes}.get(name)
                if kind == "i" and name == "reason":
                    values = iv.reasons()
                values = getattr(reads, name) if values is None else values
                runs.take_runs(np.asarray(values, dtype), starts, lengths).tofile(out)
    counts = np.bincount(np.r_[code, reg_code], minlength=len(serials.names)).astype(np.int64)
    return Part(batch.records, len(iv), len(rg), counts)


class Spool:
    """A parsed file on disk, regrouped so that each load batch holds all the reads of its meters.

    Phase 1 writes each parsed part sorted by a hash of the meter serial (raw column files);
    ``finish`` cuts the hash range into load batches of about ``batch_reads`` reads, never
    splitting a meter. A file ordered by day (every meter's day, then the next day) thus stores
    each meter-day once instead of writing it and then updating it, and a batch's meters are
    locked once. Memory stays flat: one part, then one load batch, is in memory at a time.
    The cut depends only on the file and ``batch_reads``, so a retried file gets the same
    batches (the progress recorded per batch stays valid).
    """

    def __init__(self, batch_reads: int) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="openmdmr-spool-")
        self.path = Path(self._dir.name)
        self.batch_reads = max(int(batch_reads), 1)
        self.parts = 0
        self.records = 0
        self.intervals = 0
        self.registers = 0
        self._serials = Serials()
        self._reads = np.zeros(0, np.int64)  # reads per code (intervals and registers)
        self._lows = np.zeros(0, np.int64)  # first hash of each load batch
        self._sizes: list[tuple[int, int]] = []  # (intervals, registers) of each part
        self._code_maps: list[np.ndarray | None] = []  # a worker's part: its codes -> ours
        self._rows: dict[str, list[np.ndarray]] = {}  # kind -> per part, each batch's first row

    @property
    def serials(self) -> list[str]:
        return self._serials.names

    @property
    def batches(self) -> int:
        return int(self._lows.shape[0])

    def next_part_path(self) -> Path:
        return self.path / f"{len(self._sizes):06d}"

    def add(self, batch: ParsedBatch) -> None:
        """Spool a parsed batch (its serials coded here)."""
        self._count(write_part(self.next_part_path(), self._serials, batch), None)

    def adopt(self, part: Part, serials: Serials) -> None:
        """Take a part a worker wrote at ``next_part_path()`` with its own serial codes."""
        codes = self._serials.codes_of(serials.names)
        reads = np.zeros(len(self.serials), np.int64)
        np.add.at(reads, codes, part.reads)
        self._count(Part(part.records, part.intervals, part.registers, reads), codes)

    def _count(self, part: Part, codes: np.ndarray | None) -> None:
        grown = np.zeros(len(self.serials), np.int64)
        grown[: len(self._reads)] = self._reads
        grown[: len(part.reads)] += part.reads
        self._reads = grown
        self._sizes.append((part.intervals, part.registers))
        self._code_maps.append(codes)
        self.parts += 1
        self.records += part.records
        self.intervals += part.intervals
        self.registers += part.registers

    def finish(self) -> None:
        """Cut the serials' hashes into load batches of about ``batch_reads`` reads."""
        hashes = self._serials.hash.astype(np.int64)
        if not len(hashes):
            self._lows = np.zeros(1 if self.parts else 0, np.int64)
            return
        values, group = np.unique(hashes, return_inverse=True)
        reads = np.bincount(group, weights=self._reads, minlength=len(values)).astype(np.int64)
        before = np.cumsum(reads) - reads
        batch = before // self.batch_reads
        first = np.flatnonzero(np.r_[True, batch[1:] != batch[:-1]])
        self._lows = values[first]
        self._lows[0] = 0
        for kind in ("i", "r"):
            self._rows[kind] = [
                np.r_[0, np.searchsorted(self._hashes(kind, i), self._lows[1:]), size]
                if (size := self._size(kind, i))
                else np.zeros(self.batches + 1, np.int64)
                for i in range(len(self._sizes))
            ]

    def _size(self, kind: str, part: int) -> int:
        """Reads of ``kind`` ("i" intervals, "r" registers) in part ``part``."""
        return self._sizes[part][0 if kind == "i" else 1]

    def _hashes(self, kind: str, part: int) -> np.ndarray:
        path = _part_file(self.path / f"{part:06d}", kind)
        return np.fromfile(path, _COLUMNS[kind]["hash"], count=self._size(kind, part))  # 1st

    def load(self, number: int) -> SpooledBatch:
        """Load batch ``number``: every spooled read whose serial hash is in its range."""
        rows = self._gather("i", number)
        regs = self._gather("r", number)
        serials = np.array(self.serials, dtype=object)
        intervals = IntervalBatch(
            meter=serials[rows["code"]],
            start=rows["start"],
            minutes=rows["minutes"].astype(np.int32),
            wh=rows["wh"],
            quality=rows["quality"],
            channel=rows["channel"],
            line=rows["line"],
            reason=rows["reason"],
        )
        registers = RegisterBatch(
            meter=serials[regs["code"]],
            read_at=regs["read_at"],
            wh=regs["wh"],
            channel=regs["channel"],
            line=regs["line"],
        )
        return SpooledBatch(
            intervals, registers, rows["code"].astype(np.int64), regs["code"].astype(np.int64)
        )

    def _gather(self, kind: str, number: int) -> dict[str, np.ndarray]:
        """Batch ``number``'s rows of every part, column by column (read, not mapped: nothing
        of the spool stays in this process's memory between batches), each column read straight
        into its place in the batch's array (no concatenation). The hash is not read: it only
        decided the batch."""
        columns = _COLUMNS[kind]
        spans = [
            (i, int(offsets[number]), int(offsets[number + 1]))
            for i, offsets in enumerate(self._rows.get(kind, []))
            if offsets[number + 1] > offsets[number]
        ]
        total = sum(b - a for _, a, b in spans)
        out = {name: np.empty(total, dtype) for name, dtype in columns.items() if name != "hash"}
        at = 0
        for i, a, b in spans:
            size, count = self._size(kind, i), b - a
            path = _part_file(self.path / f"{i:06d}", kind)
            handle = os.open(path, os.O_RDONLY)
            try:
                begin = 0
                for name, dtype in columns.items():
                    if name in out:
                        _read_into(handle, out[name][at : at + count], begin + a * dtype.itemsize)
                    begin += size * dtype.itemsize
            finally:
                os.close(handle)
            codes = self._code_maps[i]
            if codes is not None:
                out["code"][at : at + count] = codes[out["code"][at : at + count]]
            at += count
        return out

    def __iter__(self) -> Iterator[SpooledBatch]:
        for number in range(self.batches):
            yield self.load(number)

    def close(self) -> None:
        self._dir.cleanup()


def _read_into(handle: int, target: np.ndarray, offset: int) -> None:
    """Fill ``target`` (contiguous) with the file's bytes from ``offset``."""
    view = memoryview(target).cast("B")  # type: ignore[arg-type]  # ndarray is a buffer
    while view.nbytes:
        got = os.preadv(handle, [view], offset)
        if got <= 0:
            raise OSError(f"spool part ends {view.nbytes} bytes early")
        view, offset = view[got:], offset + got


def parse_to_spool(
    path: Path, *, interface: str, filename: str, tz: ZoneInfo, batch_reads: int
) -> Spool:
    """Phase 1: parse the whole file (ReadFileError on any malformed record)."""
    spool = Spool(batch_reads)
    try:
        if _workers(path, interface) > 1:
            _parse_in_workers(spool, path, interface, filename, tz)
        else:
            parse = get_parser(interface)
            with path.open("rb") as stream:
                for batch in parse(stream, filename=filename, tz=tz, batch_reads=batch_reads):
                    spool.add(batch)
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return spool


def _workers(path: Path, interface: str) -> int:
    """Processes to parse with: the cores, for a large file of a line-independent format, unless
    this process may not have children (a daemonic worker process)."""
    module = importlib.import_module(INTERFACES[interface])
    if not hasattr(module, "parse_chunk") or path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    if multiprocessing.current_process().daemon:
        return 1
    return min(len(os.sched_getaffinity(0)), int(os.environ.get("OPENMDMR_PARSE_WORKERS", 8)))


def _parse_in_workers(
    spool: Spool, path: Path, interface: str, filename: str, tz: ZoneInfo
) -> None:
    """Chunks of whole lines to worker processes, parts adopted in file order: the first error
    in file order is the one raised (later chunks' results are dropped)."""
    context = multiprocessing.get_context("forkserver")
    # The server imports the parsing modules once; each worker starts from it with them loaded
    # (otherwise each imports numpy and the parser: ~0.2 s of CPU per worker per file).
    context.set_forkserver_preload(["meters.reads.spool", INTERFACES[interface]])
    workers = _workers(path, interface)
    records = 0
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: collections.deque[Future[tuple[Part, Serials]]] = collections.deque()

        def adopt_oldest() -> None:
            nonlocal records
            part, serials = pending.popleft().result()  # raises its error
            spool.adopt(part, serials)
            records += part.records

        with path.open("rb") as stream:
            # Only where each chunk starts (its byte offset and first line) goes to a worker,
            # which reads the chunk itself.
            chunks = raw_block_bounds(stream, filename, CHUNK_BYTES)
            for index, where in enumerate(chunks):
                target = spool.path / f"{index:06d}"
                pending.append(
                    pool.submit(_parse_chunk, interface, filename, str(tz.key), path, target, where)
                )
                # A few chunks in flight, adopted in file order: memory flat in file size, and
                # the first error in file order is the one raised.
                if len(pending) > 2 * workers:
                    adopt_oldest()
        while pending:
            adopt_oldest()
    if not records:
        module = importlib.import_module(INTERFACES[interface])
        raise ReadFileError(module.NO_RECORDS_ERROR, file=filename, line=None)


def _parse_chunk(
    interface: str,
    filename: str,
    zone: str,
    path: Path,
    target: Path,
    where: tuple[int, int, int],
) -> tuple[Part, Serials]:
    """In a worker: parse a chunk of whole lines (byte offset, length, first line number) and
    write it as one spool part."""
    offset, length, first_line = where
    with path.open("rb") as stream:
        stream.seek(offset)
        raw = stream.read(length)
    tz = ZoneInfo(zone)
    module = importlib.import_module(INTERFACES[interface])
    batch = module.parse_chunk(raw, first_line=first_line, filename=filename, tz=tz)
    serials = Serials()
    return write_part(target, serials, batch), serials


# The data-collection figures that add up over load batches (each batch has all the reads of
# its meters: no meter-day is split between two).
ADDITIVE = (
    "meters",
    "meter_days",
    "complete_meter_days",
    "meters_with_complete_days",
    "intervals_expected",
    "intervals_with_value",
    "intervals_missing",
    "intervals_estimated",
)


def batch_figures(batch: SpooledBatch, tz: ZoneInfo) -> dict[str, int]:
    """The data-collection figures of one load batch (all its reads, before business rules)."""
    completeness = Completeness()
    completeness.add(batch.intervals, batch.interval_code, batch.local_days(tz))
    meters = int(batch.interval_code.max()) + 1 if len(batch.interval_code) else 0
    report = completeness.report(tz, meters)
    return {name: int(report[name]) for name in ADDITIVE}


def file_figures(batches: list[dict[str, int]]) -> dict[str, Any]:
    """A file's data-collection figures from its batches' (see batch_figures). Its read success
    counts actual reads as meters.read_success does: intervals with a value that the head-end
    did not estimate, against the intervals expected of its meter-days."""
    total = {name: sum(int(b.get(name, 0)) for b in batches) for name in ADDITIVE}
    expected = total["intervals_expected"]
    actual = total["intervals_with_value"] - total["intervals_estimated"]
    pct = round(100.0 * actual / expected, 2) if expected else 0.0
    return total | {
        "read_success_pct": pct,
        "obligation_pct": OBLIGATION_PCT,
        "meets_obligation": pct >= OBLIGATION_PCT,
    }
