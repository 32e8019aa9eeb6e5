"""Fixtures for ingestion tests: an LDC with the sample registry loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ldc.models import LDC
from meters.registry import read_registry_csv, registry_sync
from tests.factories import LdcFactory
from tests.meters.samples import SAMPLES

INTERFACE_NAMES = ["cmep", "mv90_hhf", "green_button", "iec61968_9", "multispeak", "csv"]


def sample_file(interface: str) -> Path:
    files = sorted(p for p in (SAMPLES / interface).iterdir() if p.is_file())
    assert len(files) == 1, files
    return files[0]


def bad_files() -> list[tuple[str, Path]]:
    return [(d.name, f) for d in sorted((SAMPLES / "bad").iterdir()) for f in sorted(d.iterdir())]


@pytest.fixture
def sample_ldc(db: Any) -> LDC:
    ldc = LdcFactory(slug="sample", name="Sample Hydro")
    with (SAMPLES / "registry.csv").open("rb") as stream:
        result = registry_sync(ldc=ldc, rows=read_registry_csv(stream), actor=None, source="registry.csv")
    assert not result.errors
    return ldc
