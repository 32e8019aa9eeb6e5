"""Helpers of ingestion tests: the sample and bad files of the generated sample set.

Tests that cross-check every sample set take the ``sample_set`` fixture (``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

from tests.meters.samples import GENERATED, INTERFACE_NAMES, SampleSet

__all__ = ["INTERFACE_NAMES", "bad_files", "sample_file"]


def sample_file(interface: str, samples: SampleSet = GENERATED) -> Path:
    return samples.file(interface)


def bad_files(samples: SampleSet = GENERATED) -> list[tuple[str, Path]]:
    return samples.bad_files()
