"""The ingestion pipeline's parts: spool a parsed file, resolve meters, check business rules.

Phase 1 parses the whole file into a spool on disk (memory flat in file size); a parse error
rejects the file before anything is stored. Phase 2 merges the spool's load batches (every read
of a set of meters), one transaction each (meters.services.read_file_ingest).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ldc.models import LDC
from meters.interfaces import get_parser
from meters.interfaces.base import IntervalBatch, ParsedBatch, Quality, RegisterBatch
from meters.localtime import day_number, local_day_bounds, local_days
from meters.models import Meter, MeterInstallation

OBLIGATION_PCT = 98.0


class Reason:
    """Why a well-formed record was not stored (business rules; the file still loads)."""

    UNKNOWN_METER = "unknown_meter"
    NOT_LINKED = "not_linked"
    FUTURE = "future"
    OFF_GRID = "off_grid"
    LENGTH_CHANGED = "length_changed"

    TEXT = {
        UNKNOWN_METER: "meter is not registered for this LDC",
        NOT_LINKED: "meter is not linked to an SDP on that day",
        FUTURE: "interval is in the future",
        OFF_GRID: "interval does not start on its interval grid",
        LENGTH_CHANGED: "interval length differs from the reads already stored for that day",
    }


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

    def add(self, batch: IntervalBatch, code: np.ndarray, tz: ZoneInfo) -> None:
        """Count the batch's intervals per meter (its spool code), local day and length."""
        if not len(batch):
            return
        self.intervals += len(batch)
        self.missing += int((batch.quality == Quality.MISSING).sum())
        self.estimated += int((batch.quality == Quality.ESTIMATED).sum())
        key = (
            (code.astype(np.int64) << 32)
            | (local_days(batch.start, tz) << 12)
            | batch.minutes.astype(np.int64)
        )
        keys, position = np.unique(key, return_inverse=True)
        valued = np.bincount(
            position, weights=batch.quality != Quality.MISSING, minlength=len(keys)
        )
        self.keys.append(keys)
        self.counts.append(valued.astype(np.int64))
        if len(self.keys) > 16:
            self._compact()

    def _compact(self) -> None:
        keys, position = np.unique(np.concatenate(self.keys), return_inverse=True)
        counts = np.bincount(position, weights=np.concatenate(self.counts), minlength=len(keys))
        self.keys, self.counts = [keys], [counts.astype(np.int64)]

    def report(self, tz: ZoneInfo, meters: int) -> dict[str, Any]:
        """The data-collection figures; ``meters`` is the number of spool codes."""
        if self.keys:
            self._compact()
        keys = self.keys[0] if self.keys else np.empty(0, np.int64)
        counts = self.counts[0] if self.counts else np.empty(0, np.int64)
        meter, day, minutes = keys >> 32, (keys >> 12) & 0xFFFFF, keys & 0xFFF
        # Expected intervals of each local day (23 or 25 hours on DST days), once per day.
        seconds = {d: np.subtract(*local_day_bounds(tz, d)[::-1]) for d in np.unique(day).tolist()}
        length = np.array([seconds[d] for d in day.tolist()], np.int64) if len(day) else day
        expected = length // (minutes * 60) if len(day) else day
        complete = counts >= expected
        days_per_meter = np.bincount(meter, minlength=meters)
        complete_per_meter = np.bincount(meter, weights=complete, minlength=meters)
        seen = days_per_meter > 0
        expected_total = int(expected.sum())
        delivered = self.intervals - self.missing
        pct = round(100.0 * delivered / expected_total, 2) if expected_total else 0.0
        return {
            "meters": int(seen.sum()),
            "meter_days": int(len(keys)),
            "complete_meter_days": int(complete.sum()),
            "meters_with_complete_days": int((seen & (complete_per_meter == days_per_meter)).sum()),
            "intervals_expected": expected_total,
            "intervals_with_value": delivered,
            "intervals_missing": self.missing,
            "intervals_estimated": self.estimated,
            "read_success_pct": pct,
            "obligation_pct": OBLIGATION_PCT,
            "meets_obligation": pct >= OBLIGATION_PCT,
        }


# One spooled interval or register read (32 and 28 bytes): the meter as the file's code for its
# serial and that serial's hash, which decides the load batch.
_INTERVAL_DTYPE = np.dtype(
    [
        ("hash", "<u4"),
        ("code", "<i4"),
        ("start", "<i8"),
        ("wh", "<i8"),
        ("line", "<i4"),
        ("minutes", "<i2"),
        ("quality", "u1"),
        ("channel", "u1"),
    ]
)
_REGISTER_DTYPE = np.dtype(
    [
        ("hash", "<u4"),
        ("code", "<i4"),
        ("read_at", "<i8"),
        ("wh", "<i8"),
        ("line", "<i4"),
        ("channel", "u1"),
    ]
)
_HASH_END = 1 << 32


@dataclass
class SpooledBatch:
    """One load batch: every read of a set of meters in the whole file, in file order per meter,
    with each read's meter code (an index into ``Spool.serials``)."""

    intervals: IntervalBatch
    registers: RegisterBatch
    interval_code: np.ndarray
    register_code: np.ndarray


class Spool:
    """A parsed file on disk, regrouped so that each load batch holds all the reads of its meters.

    Phase 1 writes each parsed part sorted by a hash of the meter serial (mmap-able .npy files);
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
        self.serials: list[str] = []
        self._code: dict[str, int] = {}
        self._hash: list[int] = []
        self._reads = np.zeros(0, np.int64)  # reads per code (intervals and registers)
        self._lows = np.zeros(0, np.int64)  # first hash of each load batch
        self._maps: dict[str, np.ndarray] = {}

    @property
    def batches(self) -> int:
        return int(self._lows.shape[0])

    def encode(self, meter: np.ndarray) -> np.ndarray:
        """The code of each read's serial; one dictionary step per run of equal serials."""
        n = int(meter.shape[0])
        if not n:
            return np.empty(0, np.int32)
        heads = np.flatnonzero(np.r_[True, meter[1:] != meter[:-1]])
        codes = np.array([self._serial_code(str(s)) for s in meter[heads].tolist()], np.int32)
        return np.repeat(codes, np.diff(np.r_[heads, n]))

    def _serial_code(self, serial: str) -> int:
        code = self._code.get(serial)
        if code is None:
            code = self._code[serial] = len(self.serials)
            self.serials.append(serial)
            self._hash.append(zlib.crc32(serial.encode("utf-8")))
        return code

    def add(self, batch: ParsedBatch) -> np.ndarray:
        """Spool a parsed part; returns the intervals' meter codes."""
        iv, rg = batch.intervals, batch.registers
        code, reg_code = self.encode(iv.meter), self.encode(rg.meter)
        hashes = np.array(self._hash, np.uint32)
        rows = np.empty(len(iv), _INTERVAL_DTYPE)
        rows["hash"], rows["code"] = hashes[code], code
        for name in ("start", "wh", "line", "minutes", "quality", "channel"):
            rows[name] = getattr(iv, name)
        regs = np.empty(len(rg), _REGISTER_DTYPE)
        regs["hash"], regs["code"] = hashes[reg_code], reg_code
        for name in ("read_at", "wh", "line", "channel"):
            regs[name] = getattr(rg, name)
        # A stable sort keeps the file's order among one meter's reads (a later mention wins).
        np.save(self.path / f"i{self.parts:06d}.npy", rows[np.argsort(rows["hash"], kind="stable")])
        np.save(self.path / f"r{self.parts:06d}.npy", regs[np.argsort(regs["hash"], kind="stable")])
        reads = np.bincount(np.r_[code, reg_code], minlength=len(self.serials))
        self._reads = np.r_[self._reads, np.zeros(len(reads) - len(self._reads), np.int64)] + reads
        self.parts += 1
        self.records += batch.records
        self.intervals += len(iv)
        self.registers += len(rg)
        return code

    def finish(self) -> None:
        """Cut the serials' hashes into load batches of about ``batch_reads`` reads."""
        hashes = np.array(self._hash, np.int64)
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

    def load(self, number: int) -> SpooledBatch:
        """Load batch ``number``: every spooled read whose serial hash is in its range."""
        low = int(self._lows[number])
        high = int(self._lows[number + 1]) if number + 1 < self.batches else _HASH_END
        rows = self._gather("i", _INTERVAL_DTYPE, low, high)
        regs = self._gather("r", _REGISTER_DTYPE, low, high)
        serials = np.array(self.serials, dtype=object)
        intervals = IntervalBatch(
            meter=serials[rows["code"]],
            start=rows["start"],
            minutes=rows["minutes"].astype(np.int32),
            wh=rows["wh"],
            quality=rows["quality"],
            channel=rows["channel"],
            line=rows["line"],
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

    def _gather(self, kind: str, dtype: np.dtype, low: int, high: int) -> np.ndarray:
        parts = []
        for i in range(self.parts):
            name = f"{kind}{i:06d}.npy"
            data = self._maps.get(name)
            if data is None:
                data = self._maps[name] = np.load(self.path / name, mmap_mode="r")
            if not data.shape[0]:
                continue
            hashes = data["hash"]
            a = int(np.searchsorted(hashes, low, side="left"))
            b = len(hashes) if high >= _HASH_END else int(np.searchsorted(hashes, high, "left"))
            if b > a:
                parts.append(np.array(data[a:b]))
        return np.concatenate(parts) if parts else np.empty(0, dtype)

    def __iter__(self) -> Iterator[SpooledBatch]:
        for number in range(self.batches):
            yield self.load(number)

    def close(self) -> None:
        self._maps.clear()
        self._dir.cleanup()


def parse_to_spool(
    path: Path, *, interface: str, filename: str, tz: ZoneInfo, batch_reads: int
) -> tuple[Spool, Completeness]:
    """Phase 1: parse the whole file (ReadFileError on any malformed record)."""
    spool, completeness = Spool(batch_reads), Completeness()
    parse = get_parser(interface)
    try:
        with path.open("rb") as stream:
            for batch in parse(stream, filename=filename, tz=tz, batch_reads=batch_reads):
                code = spool.add(batch)
                completeness.add(batch.intervals, code, tz)
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return spool, completeness


@dataclass
class Installations:
    """Each meter's SDP relationships as sorted local-day ranges, for a vectorised check."""

    key: np.ndarray  # meter pk * 2**20 + first day, sorted
    last_day: np.ndarray  # inclusive last local day (a large number while open)


class MeterResolver:
    """Spool code (serial) -> meter pk and the linked-to-an-SDP rule, for one file's meters."""

    def __init__(self, ldc: LDC, serials: list[str]) -> None:
        self.ldc = ldc
        pk: dict[str, int] = {}
        for chunk in _chunks(sorted(set(serials)), 2000):
            pk.update(
                Meter.objects.for_ldc(ldc).filter(serial__in=chunk).values_list("serial", "pk")
            )
        self.pk_of_code = np.array([pk.get(s, -1) for s in serials], dtype=np.int64)
        rows = list(
            MeterInstallation.objects.for_ldc(ldc)
            .filter(meter_id__in=list(pk.values()))
            .values_list("meter_id", "effective_from", "effective_to")
        )
        rows.sort(key=lambda r: (r[0], r[1]))
        self.installs = Installations(
            key=np.array([m * 2**20 + day_number(f) for m, f, _ in rows], dtype=np.int64),
            last_day=np.array(
                [day_number(t) if t else 2**20 - 1 for _, _, t in rows], dtype=np.int64
            ),
        )

    def meter_ids(self, code: np.ndarray) -> np.ndarray:
        """pk of each read's meter (by spool code), -1 where the LDC has no such meter."""
        return self.pk_of_code[code] if len(code) else np.empty(0, np.int64)

    def linked(self, meter: np.ndarray, local_day: np.ndarray) -> np.ndarray:
        """Whether each (meter, local day) falls inside one of the meter's SDP relationships."""
        if not len(self.installs.key):
            return np.zeros(len(meter), bool)
        probe = meter * 2**20 + local_day
        at = np.searchsorted(self.installs.key, probe, side="right") - 1
        safe = np.maximum(at, 0)
        same_meter = (self.installs.key[safe] >> 20) == meter
        return (at >= 0) & same_meter & (local_day <= self.installs.last_day[safe])


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class Checked:
    """A batch's intervals after the business rules: pks, and a reason code where rejected."""

    meter_pk: np.ndarray
    reason: np.ndarray  # object array: "" accepted, else a Reason code


def check_rules(
    batch: IntervalBatch,
    code: np.ndarray,
    resolver: MeterResolver,
    tz: ZoneInfo,
    now: dt.datetime,
) -> Checked:
    """Apply the record-level business rules (each rejected record is listed, the rest load);
    ``code`` is each read's meter as its spool code."""
    pk = resolver.meter_ids(code)
    reason = np.full(len(batch), "", dtype=object)
    end = batch.start + batch.minutes.astype(np.int64) * 60
    reason[end > int(now.timestamp())] = Reason.FUTURE
    reason[batch.start % (batch.minutes.astype(np.int64) * 60) != 0] = Reason.OFF_GRID
    linked = resolver.linked(pk, local_days(batch.start, tz))
    reason[(pk >= 0) & ~linked] = Reason.NOT_LINKED
    reason[pk < 0] = Reason.UNKNOWN_METER
    return Checked(pk, reason)


def group_rejections(batch: IntervalBatch, reason: np.ndarray) -> list[dict[str, Any]]:
    """Rejected intervals grouped by reason, meter and source line (one Python step per group)."""
    bad = np.flatnonzero(reason != "")
    if not len(bad):
        return []
    why, meter = reason[bad].astype(str), batch.meter[bad].astype(str)
    line, start = batch.line[bad], batch.start[bad]
    order = np.lexsort((start, line, meter, why))
    why, meter, line, start = why[order], meter[order], line[order], start[order]
    head = np.flatnonzero(
        np.r_[True, (why[1:] != why[:-1]) | (meter[1:] != meter[:-1]) | (line[1:] != line[:-1])]
    )
    tail = np.r_[head[1:], len(why)] - 1
    return [
        {
            "reason": str(why[h]),
            "meter": str(meter[h]),
            "line": int(line[h]),
            "intervals": int(t - h + 1),
            "first": int(start[h]),
            "last": int(start[t]),
        }
        for h, t in zip(head.tolist(), tail.tolist(), strict=True)
    ]
