"""Helpers to check a parser against ../shared/samples (the specification of the six layouts)."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from meters.reads.interfaces import get_parser
from meters.reads.interfaces.base import IntervalBatch, ParsedBatch, Quality

SAMPLES = Path(
    os.environ.get(
        "OPENMDMR_SAMPLES", Path(__file__).resolve().parents[2].parent / "shared" / "samples"
    )
)
TORONTO = ZoneInfo("America/Toronto")


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_path(interface: str, path: Path, **kwargs: object) -> list[ParsedBatch]:
    with path.open("rb") as stream:
        return list(get_parser(interface)(stream, filename=path.name, tz=TORONTO, **kwargs))


def interval_rows(batches: list[ParsedBatch]) -> list[tuple[str, str, str, str, str]]:
    """Rows in the shape of expected.csv, sorted by meter then start."""
    iv = IntervalBatch.concat([b.intervals for b in batches])
    rows = []
    for meter, start, minutes, wh, quality in zip(
        iv.meter, iv.start, iv.minutes, iv.wh, iv.quality, strict=True
    ):
        flag = Quality(int(quality)).name
        kwh = "" if flag == "MISSING" else f"{Decimal(int(wh)) / 1000:.3f}"
        rows.append((str(meter), iso(start), iso(int(start) + 60 * int(minutes)), kwh, flag))
    return sorted(rows)


def register_rows(batches: list[ParsedBatch]) -> list[tuple[str, str, str]]:
    rows = []
    for b in batches:
        r = b.registers
        for meter, at, wh in zip(r.meter, r.read_at, r.wh, strict=True):
            rows.append((str(meter), iso(at), f"{Decimal(int(wh)) / 1000:.3f}"))
    return sorted(rows)


def expected_interval_rows() -> list[tuple[str, str, str, str, str]]:
    with (SAMPLES / "expected.csv").open(newline="") as f:
        return sorted(tuple(r) for r in list(csv.reader(f))[1:])  # type: ignore[misc]


def expected_register_rows(interface: str) -> list[tuple[str, str, str]]:
    with (SAMPLES / "expected_registers.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return sorted(
        (r["meter_id"], r["read_time_utc"], r["register_kwh"])
        for r in rows
        if interface in r["carried_by"].split(";")
    )
