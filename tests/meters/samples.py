"""The sample sets the read-file tests run on, and helpers to check a parser against one.

- ``generated``: ``tests/data/samples``, written by ``tests/data/generate.py`` (always there).
- ``shared``: ``$OPENMDMR_SAMPLES`` when it is set (opt-in; nothing outside the repository is
  read otherwise): the same six layouts with other values, a cross-check that the tests hold for
  files this project did not write.

Each set brings its own ``expected.csv``, ``expected_registers.csv`` and ``registry.csv``; a test
compares a set's files with that set's expected rows. ``SAMPLES`` (the generated folder) serves
the tests that need one sample and no cross-check.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.interfaces import get_parser
from meters.reads.interfaces.base import IntervalBatch, ParsedBatch, Quality

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SAMPLES = DATA / "samples"
PUBLIC = DATA / "public"
TORONTO = ZoneInfo("America/Toronto")
INTERFACE_NAMES = ["cmep", "mv90_hhf", "green_button", "iec61968_9", "multispeak", "csv"]

IntervalRow = tuple[str, str, str, str, str]  # meter, start, end (UTC), kwh, flag
RegisterRow = tuple[str, str, str]  # meter, read time (UTC), kwh


@dataclass(frozen=True)
class SampleSet:
    """A folder in the layout of the samples README: one file per interface, bad/, expected."""

    name: str
    root: Path

    def file(self, interface: str) -> Path:
        """The one sample file of an interface."""
        files = sorted(p for p in (self.root / interface).iterdir() if p.is_file())
        assert len(files) == 1, files
        return files[0]

    def bad(self, interface: str, name: str) -> Path:
        return self.root / "bad" / interface / name

    def bad_names(self, interface: str) -> set[str]:
        return {p.name for p in (self.root / "bad" / interface).iterdir()}

    def bad_files(self) -> list[tuple[str, Path]]:
        """(interface, path) of every malformed file."""
        bad = self.root / "bad"
        return [(d.name, f) for d in sorted(bad.iterdir()) for f in sorted(d.iterdir())]

    @property
    def registry(self) -> Path:
        return self.root / "registry.csv"

    def expected_text(self) -> str:
        """expected.csv as text: what ``export_intervals --as-received`` prints for the set."""
        return (self.root / "expected.csv").read_text()

    def expected_intervals(self) -> list[IntervalRow]:
        with (self.root / "expected.csv").open(newline="") as f:
            return sorted(tuple(r) for r in list(csv.reader(f))[1:])  # type: ignore[misc]

    def expected_registers(self, interface: str) -> list[RegisterRow]:
        """The register reads whose ``carried_by`` names the interface."""
        with (self.root / "expected_registers.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        return sorted(
            (r["meter_id"], r["read_time_utc"], r["register_kwh"])
            for r in rows
            if interface in r["carried_by"].split(";")
        )

    def register_delta_wh(self, meter: str) -> int:
        """End minus start register read of a meter (CMEP carries both)."""
        reads = [r for r in self.expected_registers("cmep") if r[0] == meter]
        first, last = (round(Decimal(r[2]) * 1000) for r in (reads[0], reads[-1]))
        return last - first


def shared_samples() -> Path | None:
    """$OPENMDMR_SAMPLES (which must exist if set); None when unset: a clone reads only itself."""
    configured = os.environ.get("OPENMDMR_SAMPLES")
    if configured:
        path = Path(configured)
        if not (path / "expected.csv").is_file():
            raise FileNotFoundError(
                f"OPENMDMR_SAMPLES={configured} holds no expected.csv: point it at a sample set "
                "(the layout of tests/data/samples) or unset it"
            )
        return path
    return None


GENERATED = SampleSet("generated", SAMPLES)
_shared = shared_samples()
SAMPLE_SETS = [GENERATED] + (
    [SampleSet("shared", _shared)] if _shared and _shared.resolve() != SAMPLES.resolve() else []
)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_path(interface: str, path: Path, **kwargs: object) -> list[ParsedBatch]:
    with path.open("rb") as stream:
        return list(get_parser(interface)(stream, filename=path.name, tz=TORONTO, **kwargs))


def serials_of_keys(iv: IntervalBatch) -> IntervalBatch:
    """Green Button names a meter by its UsagePoint key (``.../UsagePoint/MTR-1001``), resolved
    by its last segment as the serial when unique: the serial here, as the samples list it."""
    iv.meter = np.array([str(m).rsplit("/", 1)[-1] for m in iv.meter.tolist()], dtype=object)
    return iv


def interval_rows(batches: list[ParsedBatch]) -> list[IntervalRow]:
    """Rows in the shape of expected.csv, sorted by meter then start."""
    iv = serials_of_keys(IntervalBatch.concat([b.intervals for b in batches]))
    rows = []
    for meter, start, minutes, wh, quality in zip(
        iv.meter, iv.start, iv.minutes, iv.wh, iv.quality, strict=True
    ):
        flag = Quality(int(quality)).name
        kwh = "" if flag == "MISSING" else f"{Decimal(int(wh)) / 1000:.3f}"
        rows.append((str(meter), iso(start), iso(int(start) + 60 * int(minutes)), kwh, flag))
    return sorted(rows)


def register_rows(batches: list[ParsedBatch]) -> list[RegisterRow]:
    rows = []
    for b in batches:
        r = b.registers
        for meter, at, wh in zip(r.meter, r.read_at, r.wh, strict=True):
            rows.append((str(meter), iso(at), f"{Decimal(int(wh)) / 1000:.3f}"))
    return sorted(rows)


def expected_interval_rows(samples: SampleSet = GENERATED) -> list[IntervalRow]:
    return samples.expected_intervals()


def expected_register_rows(interface: str, samples: SampleSet = GENERATED) -> list[RegisterRow]:
    return samples.expected_registers(interface)
