"""The ingestion pipeline's parts: spool a parsed file, resolve meters, check business rules.

Phase 1 parses the whole file into spooled batches on disk (memory flat in file size); a parse
error rejects the file before anything is stored. Phase 2 merges the spooled batches, one
transaction each (meters.services.read_file_ingest).
"""

from __future__ import annotations

import datetime as dt
import tempfile
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

_INTERVAL_FIELDS = ("meter", "start", "minutes", "wh", "quality", "channel", "line")
_REGISTER_FIELDS = ("meter", "read_at", "wh", "channel", "line")
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

    Kept as int64 keys (meter index, local day, interval length) with counts, merged now and
    then, so memory stays near 16 bytes per meter-day however large the file.
    """

    meters: dict[str, int] = field(default_factory=dict)
    keys: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    missing: int = 0
    estimated: int = 0
    intervals: int = 0

    def add(self, batch: IntervalBatch, tz: ZoneInfo) -> None:
        """Count the batch's intervals per meter, local day and length (vectorised)."""
        if not len(batch):
            return
        self.intervals += len(batch)
        self.missing += int((batch.quality == Quality.MISSING).sum())
        self.estimated += int((batch.quality == Quality.ESTIMATED).sum())
        serials, meter = np.unique(batch.meter.astype(str), return_inverse=True)
        index = np.array(
            [self.meters.setdefault(m, len(self.meters)) for m in serials.tolist()], dtype=np.int64
        )
        key = (index[meter] << 32) | (local_days(batch.start, tz) << 12) | batch.minutes
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

    def report(self, tz: ZoneInfo) -> dict[str, Any]:
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
        days_per_meter = np.bincount(meter, minlength=len(self.meters))
        complete_per_meter = np.bincount(meter, weights=complete, minlength=len(self.meters))
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


class Spool:
    """Parsed batches saved as .npz files in a temporary directory."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="openmdmr-spool-")
        self.path = Path(self._dir.name)
        self.batches = 0
        self.records = 0
        self.intervals = 0
        self.registers = 0
        self.serials: set[str] = set()

    def add(self, batch: ParsedBatch) -> None:
        iv, rg = batch.intervals, batch.registers
        arrays = {f"i_{n}": _storable(getattr(iv, n)) for n in _INTERVAL_FIELDS}
        arrays |= {f"r_{n}": _storable(getattr(rg, n)) for n in _REGISTER_FIELDS}
        np.savez(self.path / f"{self.batches:06d}.npz", **arrays)
        self.batches += 1
        self.records += batch.records
        self.intervals += len(iv)
        self.registers += len(rg)
        self.serials.update(np.unique(iv.meter.astype(str)).tolist())
        self.serials.update(np.unique(rg.meter.astype(str)).tolist())

    def __iter__(self) -> Iterator[ParsedBatch]:
        for i in range(self.batches):
            with np.load(self.path / f"{i:06d}.npz", allow_pickle=False) as data:
                iv = IntervalBatch(**{n: data[f"i_{n}"] for n in _INTERVAL_FIELDS})
                rg = RegisterBatch(**{n: data[f"r_{n}"] for n in _REGISTER_FIELDS})
            yield ParsedBatch(iv, rg)

    def close(self) -> None:
        self._dir.cleanup()


def _storable(values: np.ndarray) -> np.ndarray:
    return values.astype(str) if values.dtype == object else values


def parse_to_spool(
    path: Path, *, interface: str, filename: str, tz: ZoneInfo, batch_reads: int
) -> tuple[Spool, Completeness]:
    """Phase 1: parse the whole file (ReadFileError on any malformed record)."""
    spool, completeness = Spool(), Completeness()
    parse = get_parser(interface)
    try:
        with path.open("rb") as stream:
            for batch in parse(stream, filename=filename, tz=tz, batch_reads=batch_reads):
                spool.add(batch)
                completeness.add(batch.intervals, tz)
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
    """Serial -> meter pk and the linked-to-an-SDP rule, for the meters one file names."""

    def __init__(self, ldc: LDC, serials: set[str]) -> None:
        self.ldc = ldc
        self.pk: dict[str, int] = {}
        for chunk in _chunks(sorted(serials), 2000):
            self.pk.update(
                Meter.objects.for_ldc(ldc).filter(serial__in=chunk).values_list("serial", "pk")
            )
        rows = list(
            MeterInstallation.objects.for_ldc(ldc)
            .filter(meter_id__in=list(self.pk.values()))
            .values_list("meter_id", "effective_from", "effective_to")
        )
        rows.sort(key=lambda r: (r[0], r[1]))
        self.installs = Installations(
            key=np.array([m * 2**20 + day_number(f) for m, f, _ in rows], dtype=np.int64),
            last_day=np.array(
                [day_number(t) if t else 2**20 - 1 for _, _, t in rows], dtype=np.int64
            ),
        )

    def meter_ids(self, serials: np.ndarray) -> np.ndarray:
        """pk of each serial, -1 where the LDC has no such meter."""
        unique, inverse = np.unique(serials.astype(str), return_inverse=True)
        pks = np.array([self.pk.get(s, -1) for s in unique.tolist()], dtype=np.int64)
        return pks[inverse] if len(unique) else np.empty(0, np.int64)

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
    batch: IntervalBatch, resolver: MeterResolver, tz: ZoneInfo, now: dt.datetime
) -> Checked:
    """Apply the record-level business rules (each rejected record is listed, the rest load)."""
    pk = resolver.meter_ids(batch.meter)
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
