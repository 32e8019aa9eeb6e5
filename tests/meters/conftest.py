"""Helpers of ingestion tests: the sample and bad files of ../shared/samples."""

from __future__ import annotations

from pathlib import Path

from tests.meters.samples import SAMPLES

INTERFACE_NAMES = ["cmep", "mv90_hhf", "green_button", "iec61968_9", "multispeak", "csv"]


def sample_file(interface: str) -> Path:
    files = sorted(p for p in (SAMPLES / interface).iterdir() if p.is_file())
    assert len(files) == 1, files
    return files[0]


def bad_files() -> list[tuple[str, Path]]:
    return [(d.name, f) for d in sorted((SAMPLES / "bad").iterdir()) for f in sorted(d.iterdir())]
