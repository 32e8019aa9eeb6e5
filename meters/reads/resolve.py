"""The ingestion pipeline's parts: resolve meters, check business rules (the spool of a parsed
file is meters.reads.spool).

Phase 1 parses the whole file into a spool on disk (memory flat in file size); a parse error
rejects the file before anything is stored. Phase 2 merges the spool's load batches (every read
of a set of meters), one transaction each (meters.reads.ingest.read_file_ingest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import BooleanField, Model, Q
from django.db.models.expressions import RawSQL

from meters.models import Meter, MeterInstallation
from meters.reads import runs
from meters.reads.interfaces.base import IntervalBatch, Reason
from portal.calendar.localtime import day_number
from portal.tenancy import LDC


@dataclass
class Installations:
    """Each meter's SDP relationships as sorted local-day ranges, for a vectorised check."""

    key: np.ndarray  # meter pk * 2**20 + first day, sorted
    last_day: np.ndarray  # inclusive last local day (a large number while open)


# Several ids of one meter in one spool code (an IEC 61968-9 Meter's mRID and its Names), any of
# which may be the serial or the external_id: joined by this separator (never in an XML text).
ALTERNATIVES = "\x1f"


class MeterResolver:
    """Spool code -> meter pk and the linked-to-an-SDP rule, for one file's meters.

    A code (the meter as the file names it) resolves by the registry's ``external_id`` or its
    ``serial`` (either of the code's alternatives, see ALTERNATIVES). With ``last_segment`` (a
    Green Button UsagePoint key, ``User/9b6c7063/UsagePoint/01``) a key with neither resolves
    by serial equal to its last segment when no other key of the file ends so; keys that
    cannot be told apart, and codes that resolve to one meter, are ambiguous: never merged.
    """

    def __init__(self, ldc: LDC, serials: list[str], *, last_segment: bool = False) -> None:
        self.ldc = ldc
        alternatives = [s.split(ALTERNATIVES) for s in serials]
        tails = [s.rsplit("/", 1)[-1] if last_segment and "/" in s else "" for s in serials]
        shared = {t for t, n in _counts(tails).items() if n > 1}
        names = sorted(({a for alts in alternatives for a in alts} | set(tails)) - {""})
        by_serial, by_external = _meter_pks(ldc, names)
        pks: list[int] = []
        ambiguous: list[bool] = []
        for alts, tail in zip(alternatives, tails, strict=True):
            found = next((by_external[a] for a in alts if a in by_external), None)
            if found is None:
                found = next((by_serial[a] for a in alts if a in by_serial), None)
            if found is None and tail:
                if tail in shared:
                    ambiguous.append(True)
                    pks.append(-1)
                    continue
                found = by_serial.get(tail)
            ambiguous.append(False)
            pks.append(-1 if found is None else found)
        # Two codes of the file that resolve to one meter: neither is taken for it.
        twice = {pk for pk, n in _counts(pks).items() if n > 1 and pk >= 0}
        self.ambiguous_of_code = np.array(
            [a or pk in twice for a, pk in zip(ambiguous, pks, strict=True)], dtype=bool
        )
        self.pk_of_code = np.array(pks, dtype=np.int64)
        self.pk_of_code[self.ambiguous_of_code] = -1
        resolved = sorted({pk for pk in self.pk_of_code.tolist() if pk >= 0})
        rows = _installations(ldc, resolved)
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

    def ambiguous(self, code: np.ndarray) -> np.ndarray:
        """Whether each read's meter (by spool code) is ambiguous (see the class)."""
        return self.ambiguous_of_code[code] if len(code) else np.empty(0, bool)

    def linked(self, meter: np.ndarray, local_day: np.ndarray) -> np.ndarray:
        """Whether each (meter, local day) falls inside one of the meter's SDP relationships."""
        if not len(self.installs.key):
            return np.zeros(len(meter), bool)
        # Once per run of reads of one meter and local day (a record's worth).
        return runs.per_run(self._linked, meter * 2**20 + local_day)

    def _linked(self, probe: np.ndarray) -> np.ndarray:
        meter, local_day = probe >> 20, probe & (2**20 - 1)
        at = np.searchsorted(self.installs.key, probe, side="right") - 1
        safe = np.maximum(at, 0)
        same_meter = (self.installs.key[safe] >> 20) == meter
        return (at >= 0) & same_meter & (local_day <= self.installs.last_day[safe])


def _counts(values: list[Any]) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _meter_pks(ldc: LDC, names: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """The LDC's meters among ``names``: by serial, and by external_id."""
    by_serial: dict[str, int] = {}
    by_external: dict[str, int] = {}
    meters = Meter.objects.for_ldc(ldc)
    for condition in _one_of(Meter, "serial", names, "text"):
        by_serial.update(meters.filter(condition).values_list("serial", "pk"))
    for condition in _one_of(Meter, "external_id", names, "text"):
        by_external.update(meters.filter(condition).values_list("external_id", "pk"))
    by_external.pop("", None)
    return by_serial, by_external


def _installations(ldc: LDC, meters: list[int]) -> list[tuple[Any, ...]]:
    """(meter, effective from, effective to) of the LDC's SDP relationships of ``meters``."""
    rows: list[tuple[Any, ...]] = []
    for condition in _one_of(MeterInstallation, "meter_id", meters, "bigint"):
        rows += (
            MeterInstallation.objects.for_ldc(ldc)
            .filter(condition)
            .values_list("meter_id", "effective_from", "effective_to")
        )
    return rows


def _one_of(model: type[Model], column: str, values: list[Any], sql_type: str) -> Iterator[Any]:
    """Conditions "``column`` is one of ``values``", each for one query.

    On PostgreSQL one condition, ``= ANY`` of all the values as one array parameter (10,000
    bound values cost ~0.1 s on the client): a filter or index condition whatever the planner
    believes. ``IN (SELECT unnest(...))`` made it a join, planned as a nested loop over both
    sides when an LDC's meters were just registered (the statistics say it has none): 3.5 s
    for 10,000 meters, growing with the square. Elsewhere ``__in`` lists of 2,000.
    """
    if connection.vendor == "postgresql":
        name = f'"{model._meta.db_table}"."{column}"'  # a model's column, a type name: no input
        sql = f"{name} = ANY(%s::{sql_type}[])"
        yield RawSQL(sql, [values], output_field=BooleanField())  # noqa: S611
        return
    for i in range(0, len(values), 2000):
        yield Q(**{f"{column}__in": values[i : i + 2000]})


@dataclass
class Checked:
    """A batch's intervals after the business rules: pks, and a reason code where rejected."""

    meter_pk: np.ndarray
    reason: np.ndarray  # uint8: Reason.ACCEPTED, else the Reason.CODE of why not


def check_rules(
    batch: IntervalBatch,
    code: np.ndarray,
    resolver: MeterResolver,
    local_day: np.ndarray,
    now: dt.datetime,
) -> Checked:
    """Apply the record-level business rules (each rejected record is listed, the rest load);
    ``code`` is each read's meter as its spool code, ``local_day`` the local date of its start."""
    pk = resolver.meter_ids(code)
    parsed = batch.reason  # the parser's own rejections win over the rules below
    reason = np.zeros(len(batch), np.uint8)
    minutes = batch.minutes
    # One interval length (the usual case) is a number, not an array, in the two rules below.
    single = len(minutes) > 0 and bool((minutes == minutes[0]).all())
    seconds = int(minutes[0]) * 60 if single else minutes.astype(np.int64) * 60
    reason[batch.start > int(now.timestamp()) - seconds] = Reason.CODE[Reason.FUTURE]
    reason[batch.start % seconds != 0] = Reason.CODE[Reason.OFF_GRID]
    linked = resolver.linked(pk, local_day)
    reason[(pk >= 0) & ~linked] = Reason.CODE[Reason.NOT_LINKED]
    reason[pk < 0] = Reason.CODE[Reason.UNKNOWN_METER]
    reason[resolver.ambiguous(code)] = Reason.CODE[Reason.AMBIGUOUS]
    if parsed is not None and parsed.any():
        reason = np.where(parsed != 0, parsed, reason).astype(np.uint8)
    return Checked(pk, reason)


def group_rejections(batch: IntervalBatch, reason: np.ndarray) -> list[dict[str, Any]]:
    """Rejected intervals grouped by reason, meter and source line (one Python step per group)."""
    bad = np.flatnonzero(reason != Reason.ACCEPTED)
    if not len(bad):
        return []
    why, meter = reason[bad], batch.meter[bad].astype(str)
    line, start = batch.line[bad], batch.start[bad]
    order = np.lexsort((start, line, meter, why))
    why, meter, line, start = why[order], meter[order], line[order], start[order]
    head = np.flatnonzero(
        np.r_[True, (why[1:] != why[:-1]) | (meter[1:] != meter[:-1]) | (line[1:] != line[:-1])]
    )
    tail = np.r_[head[1:], len(why)] - 1
    return [
        {
            "reason": Reason.NAMES[why[h]],
            "meter": str(meter[h]),
            "line": int(line[h]),
            "intervals": int(t - h + 1),
            "first": int(start[h]),
            "last": int(start[t]),
        }
        for h, t in zip(head.tolist(), tail.tolist(), strict=True)
    ]
