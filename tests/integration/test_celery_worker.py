"""A real Celery worker takes an ingestion task from a real Redis and loads the file."""

from __future__ import annotations

from typing import Any

import pytest

from meters.models import IntervalDay, ReadFile
from meters.reads import ingest
from tests.integration.conftest import wait_for
from tests.meters.conftest import sample_file

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_worker_ingests_a_delivered_file_through_redis(sample_ldc: Any, start_worker: Any) -> None:
    worker = start_worker()
    path = sample_file("cmep")
    with path.open("rb") as stream:
        read_file, created = ingest.read_file_receive(
            ldc=sample_ldc, interface="cmep", upload=stream, name=path.name, actor=None, via="test"
        )
    assert created

    def loaded() -> bool:
        assert worker.poll() is None, "the worker died"
        return ReadFile.objects.get(pk=read_file.pk).status in {"loaded", "rejected"}

    wait_for(loaded, what="the worker to load the file")
    read_file.refresh_from_db()
    assert read_file.status == "loaded", read_file.error
    assert read_file.intervals_accepted == 141 and read_file.attempts == 1
    assert IntervalDay.objects.filter(ldc=sample_ldc).count() == 9
