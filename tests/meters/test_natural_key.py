"""IntervalDay is keyed by (ldc, meter, channel, day) (migration 0009): no id, no sequence, two
indexes; a meter with days cannot be deleted; the migration goes back and forth keeping rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import ProtectedError

from meters.models import IntervalDay, Meter, MeterInstallation
from meters.reads import ingest
from tests.integration.harness import cmep, deliver, registered_ldc


def _ingested(tmp_path: Path, settings: Any, name: str) -> Any:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPENMDMR_VEE_AFTER_INGEST = False
    ldc = registered_ldc(name, 2)
    read_file, _ = deliver(ldc, cmep(ldc, tmp_path, f"{name}.txt", range(2), 2), queue=False)
    ingest.read_file_ingest(read_file=read_file)
    return ldc


@pytest.mark.django_db
def test_a_day_is_found_by_its_natural_key(tmp_path: Path, settings: Any) -> None:
    ldc = _ingested(tmp_path, settings, "key")
    day = IntervalDay.objects.for_ldc(ldc).order_by("meter_id", "day").first()
    assert day.pk == (ldc.pk, day.meter_id, 1, day.day)
    assert IntervalDay.objects.get(pk=day.pk).raw_wh == day.raw_wh


@pytest.mark.django_db
def test_a_meter_with_interval_days_cannot_be_deleted(tmp_path: Path, settings: Any) -> None:
    ldc = _ingested(tmp_path, settings, "protect")
    meter = Meter.objects.get(pk=IntervalDay.objects.for_ldc(ldc).first().meter_id)
    MeterInstallation.objects.filter(meter=meter).delete()  # they protect it too
    with pytest.raises(ProtectedError, match="still has interval days"), transaction.atomic():
        meter.delete()
    assert Meter.objects.filter(pk=meter.pk).exists()
    spare = Meter.objects.create(ldc=ldc, serial="SPARE-1")  # no days: it goes
    spare.delete()
    assert not Meter.objects.filter(serial="SPARE-1").exists()


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_only_the_key_and_ldc_day_are_indexed() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'meters_intervalday' ORDER BY 1"
        )
        indexes = [row[0].split(" USING ")[1] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'meters_intervalday' AND column_name = 'id'"
        )
        assert cursor.fetchone()[0] == 0
    assert indexes == ["btree (ldc_id, day)", "btree (ldc_id, meter_id, channel, day)"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_goes_back_and_forth_keeping_the_days(tmp_path: Path, settings: Any) -> None:
    ldc = _ingested(tmp_path, settings, "migrate")
    before = sorted(
        IntervalDay.objects.for_ldc(ldc).values_list("meter_id", "day", "raw_wh", "version")
    )
    assert before
    try:
        call_command("migrate", "meters", "0008", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT id), count(*) FROM meters_intervalday WHERE ldc_id = %s",
                [ldc.pk],
            )
            distinct, rows = cursor.fetchone()
        assert distinct == rows == len(before)
    finally:
        call_command("migrate", "meters", verbosity=0)
    after = sorted(
        IntervalDay.objects.for_ldc(ldc).values_list("meter_id", "day", "raw_wh", "version")
    )
    assert after == before
    assert IntervalDay.objects.for_ldc(ldc).filter(day__gte=dt.date(2000, 1, 1)).count() == len(
        before
    )
