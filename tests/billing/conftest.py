"""Helpers of billing tests: the sample reads loaded (and validated) at the sample LDC."""

from __future__ import annotations

import io
from typing import Any

import pytest

from meters.models import Meter
from meters.reads import ingest
from meters.vee.service import vee_run_days
from tests.meters.conftest import sample_file

FIRST, LAST = 20519, 20521  # UTC days 2026-03-07 .. 2026-03-09: the sample's local 7th and 8th


def load(ldc: Any, data: bytes, name: str = "reads.csv") -> None:
    read_file, _ = ingest.read_file_receive(
        ldc=ldc,
        interface="csv",
        upload=io.BytesIO(data),
        name=name,
        actor=None,
        via="test",
        queue=False,
    )
    assert ingest.read_file_ingest(read_file=read_file).status == "loaded"


def run_vee(ldc: Any) -> None:
    meters = list(Meter.objects.for_ldc(ldc).values_list("pk", flat=True))
    vee_run_days(ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=LAST)


@pytest.fixture
def loaded(sample_ldc: Any) -> Any:
    """The sample LDC with the sample CSV reads ingested (VEE not run yet)."""
    load(sample_ldc, sample_file("csv").read_bytes())
    return sample_ldc


@pytest.fixture
def validated(loaded: Any) -> Any:
    """... and VEE run over them: every interval validated or estimated."""
    run_vee(loaded)
    return loaded
