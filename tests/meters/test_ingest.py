"""Ingestion end to end on the samples: every interface, bad files, rules, merge, resume."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from meters.models import IntervalDay, IntervalDayVersion, ReadFile, ReadRejection, RegisterRead
from meters.reads import heap
from meters.reads import ingest as pipeline
from portal.models import AuditEvent
from tests.meters.conftest import INTERFACE_NAMES, sample_file
from tests.meters.samples import GENERATED, SAMPLE_SETS, SAMPLES, SampleSet

pytestmark = pytest.mark.django_db


def ingest(ldc: Any, interface: str, data: bytes, name: str = "reads.dat") -> ReadFile:
    read_file, _ = pipeline.read_file_receive(
        ldc=ldc,
        interface=interface,
        upload=io.BytesIO(data),
        name=name,
        actor=None,
        via="test",
        queue=False,
    )
    return pipeline.read_file_ingest(read_file=read_file)


def export(ldc: Any, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "export_intervals",
        "--ldc",
        ldc.slug,
        "--start",
        "2026-03-07",
        "--end",
        "2026-03-08",
        *extra,
        stdout=out,
    )
    return out.getvalue()


def stored_state() -> list[tuple[Any, ...]]:
    return list(
        IntervalDay.objects.order_by("meter_id", "day").values_list(
            "meter_id", "day", "wh", "flags", "raw_wh", "raw_quality", "version", "updated_at"
        )
    )


@pytest.mark.parametrize("interface", INTERFACE_NAMES)
def test_sample_round_trips_to_expected_csv(
    sample_set_ldc: Any, sample_set: SampleSet, interface: str
) -> None:
    path = sample_set.file(interface)
    read_file = ingest(sample_set_ldc, interface, path.read_bytes(), path.name)
    assert read_file.status == "loaded", read_file.error
    assert read_file.intervals_accepted == 141 and read_file.intervals_rejected == 0
    assert export(sample_set_ldc, "--as-received") == sample_set.expected_text()
    registers = sorted(
        (r.meter.serial, r.read_at.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{r.wh / 1000:.3f}")
        for r in RegisterRead.objects.select_related("meter")
    )
    assert registers == sample_set.expected_registers(interface)
    report = read_file.report
    assert (
        report["read_success_pct"] == round(100 * 139 / 141, 2) == 98.58
        and report["meets_obligation"]
    )
    assert report["intervals_missing"] == 1 and report["meter_days"] == 6
    assert report["complete_meter_days"] == 5 and report["meters_with_complete_days"] == 2


def test_all_six_formats_of_the_same_reads_store_one_copy(
    sample_set_ldc: Any, sample_set: SampleSet
) -> None:
    for interface in INTERFACE_NAMES:
        path = sample_set.file(interface)
        assert ingest(sample_set_ldc, interface, path.read_bytes(), path.name).status == "loaded"
    assert IntervalDay.objects.count() == 9  # 3 meters x 3 UTC days
    assert IntervalDayVersion.objects.count() == 0
    assert export(sample_set_ldc, "--as-received") == sample_set.expected_text()


BAD_FILES = [
    pytest.param(interface, path, id=f"{samples.name}-{interface}-{path.name}")
    for samples in SAMPLE_SETS
    for interface, path in samples.bad_files()
]


@pytest.mark.parametrize(("interface", "path"), BAD_FILES)
def test_malformed_file_is_rejected_whole_naming_the_fault(
    sample_ldc: Any, interface: str, path: Path
) -> None:
    read_file = ingest(sample_ldc, interface, path.read_bytes(), path.name)
    assert read_file.status == "rejected"
    assert read_file.error.startswith(path.name)
    assert (
        "line" in read_file.error
        or "element" in read_file.error
        or "DTD" in read_file.error
        or "entit" in read_file.error.lower()
        or "trailer" in read_file.error.lower()
    )
    assert IntervalDay.objects.count() == 0 and RegisterRead.objects.count() == 0
    assert "root:" not in read_file.error  # an external entity was never read


def test_duplicate_file_changes_nothing(sample_ldc: Any) -> None:
    data = sample_file("csv").read_bytes()
    first = ingest(sample_ldc, "csv", data)
    before = stored_state()
    again, created = pipeline.read_file_receive(
        ldc=sample_ldc,
        interface="csv",
        upload=io.BytesIO(data),
        name="again.csv",
        actor=None,
        via="test",
        queue=False,
    )
    assert not created and again.pk == first.pk
    assert stored_state() == before and ReadFile.objects.count() == 1


def test_a_delivery_losing_the_race_keeps_the_winners_file(
    sample_ldc: Any, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """Two deliveries of one file at once: the file system storage checks that the name is free,
    then renames into place, so both can be given the same name. The delivery that then loses the
    unique (ldc, sha256) row must not delete the file the winner's row points at (it did: the
    winner's upload was gone and its ingestion could not open it)."""
    settings.MEDIA_ROOT = str(tmp_path)
    data = sample_file("csv").read_bytes()
    real_save = pipeline.default_storage.save

    def save_while_the_other_delivery_commits(name: str, content: Any) -> str:
        stored = real_save(name, content)
        ReadFile.objects.create(  # the other delivery, given the same name, commits first
            ldc=sample_ldc,
            interface="csv",
            sha256=hashlib.sha256(data).hexdigest(),
            file=stored,
            original_name="first.csv",
            size_bytes=len(data),
        )
        return stored

    monkeypatch.setattr(pipeline.default_storage, "save", save_while_the_other_delivery_commits)
    read_file, created = receive(sample_ldc, io.BytesIO(data), name="second.csv")
    assert not created and read_file.original_name == "first.csv"
    assert (tmp_path / read_file.file.name).read_bytes() == data
    assert ReadFile.objects.count() == 1


def receive(ldc: Any, upload: Any, name: str = "big.csv") -> tuple[ReadFile, bool]:
    return pipeline.read_file_receive(
        ldc=ldc, interface="csv", upload=upload, name=name, actor=None, via="test", queue=False
    )


def test_a_delivery_is_stored_as_received_and_no_copy_is_left(
    sample_ldc: Any, settings: Any, tmp_path: Path
) -> None:
    # Copied and hashed in one read, in chunks of 1 MiB (the hash in a second thread).
    settings.MEDIA_ROOT = str(tmp_path)
    incoming = tmp_path / "read_files" / ".incoming"
    data = bytes(range(256)) * (13 << 12) + b"tail"  # 13 MiB and a bit: many chunks
    read_file, created = receive(sample_ldc, io.BytesIO(data))
    assert created and read_file.size_bytes == len(data)
    assert read_file.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(read_file.file.path).read_bytes() == data
    again, created = receive(sample_ldc, io.BytesIO(data), "again.csv")
    assert not created and again.pk == read_file.pk
    settings.OPENMDMR_MAX_READ_FILE_BYTES = len(data) - 1
    with pytest.raises(ValidationError, match=f"{len(data) + 1} bytes is over the limit"):
        receive(sample_ldc, io.BytesIO(data + b"!"))
    assert not list(incoming.iterdir()) and ReadFile.objects.count() == 1


def test_a_delivery_that_breaks_off_leaves_nothing(
    sample_ldc: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)

    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 2 << 20:
                raise OSError("connection reset")
            return super().read(size)

    with pytest.raises(OSError, match="connection reset"):
        receive(sample_ldc, Broken(b"x" * (5 << 20)))
    assert not list((tmp_path / "read_files" / ".incoming").iterdir())
    assert not ReadFile.objects.exists()


def test_same_reads_in_another_file_change_nothing(sample_ldc: Any) -> None:
    data = sample_file("csv").read_bytes()
    ingest(sample_ldc, "csv", data)
    before = stored_state()
    crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert ingest(sample_ldc, "cmep", sample_file("cmep").read_bytes()).status == "loaded"
    assert ingest(sample_ldc, "csv", crlf, "crlf.csv").status == "loaded"
    assert stored_state() == before


def test_corrected_actual_makes_a_new_version_and_keeps_the_old(sample_ldc: Any) -> None:
    data = sample_file("csv").read_bytes()
    ingest(sample_ldc, "csv", data)
    first = GENERATED.expected_intervals()[0][3]  # MTR-1001, 2026-03-07T05:00Z
    assert first != "0.400"
    corrected = data.replace(
        f"MTR-1001,2026-03-07T01:00:00-05:00,{first},A".encode(),
        b"MTR-1001,2026-03-07T01:00:00-05:00,0.400,A",
    )
    assert corrected != data
    ingest(sample_ldc, "csv", corrected, "corrected.csv")
    assert "MTR-1001,2026-03-07T05:00:00Z,2026-03-07T06:00:00Z,0.400,ACTUAL" in export(
        sample_ldc, "--as-received"
    )
    old = IntervalDayVersion.objects.get()
    assert old.version == 1 and old.day.isoformat() == "2026-03-07"
    assert IntervalDay.objects.get(meter=old.meter, day=old.day).version == 2
    assert AuditEvent.objects.filter(action="reads.actual_changed", ldc=sample_ldc).count() == 1


def test_actual_arriving_later_replaces_the_missing_and_estimated(sample_ldc: Any) -> None:
    data = sample_file("csv").read_bytes()
    ingest(sample_ldc, "csv", data)
    late = (
        b"meter_id,timestamp,kwh,quality_flag\n"
        b"MTR-1002,2026-03-07T15:00:00-05:00,0.555,A\nMTR-1003,2026-03-08T10:00:00-04:00,8.111,A\n"
    )
    ingest(sample_ldc, "csv", late, "late.csv")
    text = export(sample_ldc, "--as-received")
    assert "MTR-1002,2026-03-07T19:00:00Z,2026-03-07T20:00:00Z,0.555,ACTUAL" in text
    assert "MTR-1003,2026-03-08T13:00:00Z,2026-03-08T14:00:00Z,8.111,ACTUAL" in text
    # The head-end's estimate was replaced: that day has a new version (E8), the gap did not.
    archived = IntervalDayVersion.objects.get()
    assert archived.meter.serial == "MTR-1003" and archived.version == 1


def test_business_rule_breaks_are_listed_and_the_rest_loads(sample_ldc: Any) -> None:
    data = (
        b"meter_id,timestamp,kwh,quality_flag\n"
        b"MTR-1001,2024-03-07T01:00:00-05:00,0.371,A\n"
        b"MTR-1001,2026-03-07T01:00:00-05:00,0.371,A\n"
        b"MTR-9999,2026-03-07T01:00:00-05:00,0.100,A\n"
        b"MTR-9999,2026-03-07T02:00:00-05:00,0.100,A\n"
        b"MTR-1002,2099-01-01T01:00:00-05:00,0.371,A\n"
    )
    read_file = ingest(sample_ldc, "csv", data)
    assert read_file.status == "loaded"
    assert (read_file.intervals_accepted, read_file.intervals_rejected) == (1, 4)
    rows = {(r.reason, r.meter_serial, r.line, r.intervals) for r in ReadRejection.objects.all()}
    assert rows == {
        ("not_linked", "MTR-1001", 2, 1),
        ("unknown_meter", "MTR-9999", 4, 1),
        ("unknown_meter", "MTR-9999", 5, 1),
        ("future", "MTR-1002", 6, 1),
    }
    assert read_file.report["rejected_by_reason"] == {
        "future": 1,
        "not_linked": 1,
        "unknown_meter": 2,
    }
    assert read_file.intervals_accepted + read_file.intervals_rejected == read_file.intervals_total


def test_a_crash_mid_file_resumes_without_doubling(
    sample_ldc: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.OPENMDMR_INGEST_BATCH_READS = 20
    data = sample_file("cmep").read_bytes()
    read_file, _ = pipeline.read_file_receive(
        ldc=sample_ldc,
        interface="cmep",
        upload=io.BytesIO(data),
        name="cmep.txt",
        actor=None,
        via="test",
        queue=False,
    )
    calls = {"n": 0}
    real_merge = pipeline.merge_batch

    def crash_on_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("worker killed")
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(pipeline, "merge_batch", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        pipeline.read_file_ingest(read_file=read_file)
    read_file.refresh_from_db()
    assert read_file.status == "loading" and read_file.batches_done == 1
    ReadFile.objects.filter(pk=read_file.pk).update(lease_until=None)  # the lease ran out
    monkeypatch.setattr(pipeline, "merge_batch", real_merge)
    done = pipeline.read_file_ingest(read_file=read_file)
    assert done.status == "loaded" and done.attempts == 2
    assert done.intervals_accepted == 141 and done.intervals_rejected == 0
    assert export(sample_ldc, "--as-received") == GENERATED.expected_text()


def test_stalled_files_are_queued_again(sample_ldc: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from meters.reads.tasks import resume_stalled_read_files

    data = sample_file("csv").read_bytes()
    read_file, _ = pipeline.read_file_receive(
        ldc=sample_ldc,
        interface="csv",
        upload=io.BytesIO(data),
        name="s.csv",
        actor=None,
        via="test",
        queue=False,
    )
    old = timezone.now() - dt.timedelta(minutes=5)
    ReadFile.objects.filter(pk=read_file.pk).update(received_at=old)
    held = ReadFile.objects.create(
        ldc=sample_ldc,
        interface="csv",
        sha256="b" * 64,
        file="x",
        original_name="held.csv",
        received_at=old,
        status="loading",
        lease_until=timezone.now() + dt.timedelta(minutes=5),
    )
    assert resume_stalled_read_files() == 1  # eager: the stalled file is ingested now
    assert ReadFile.objects.get(pk=read_file.pk).status == "loaded"
    assert ReadFile.objects.get(pk=held.pk).status == "loading"  # its worker's lease still runs


class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(({-1: "trim", -3: "mmap"}[option], value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


def test_loads_reuse_the_heap_and_give_it_back_when_the_last_one_ends(monkeypatch: Any) -> None:
    libc = _FakeLibc()
    monkeypatch.setattr(heap, "_glibc", lambda: libc)
    reuse, back = heap.MALLOC_REUSE_BYTES, heap.MALLOC_RETURN_BYTES
    with heap.reused():
        assert libc.calls == [("mmap", reuse), ("trim", reuse)]
        with heap.reused():  # a second file loading in the same process
            pass
        assert ("mmap", back) not in libc.calls  # the first one still loads
    assert libc.calls[-3:] == [("mmap", back), ("trim", 128 << 10), ("malloc_trim", 0)]
    libc.calls.clear()
    with pytest.raises(RuntimeError), heap.reused():
        raise RuntimeError  # a failed load gives the heap back too
    assert libc.calls[-1] == ("malloc_trim", 0)


def test_batches_load_with_the_heap_reused(sample_ldc: Any, monkeypatch: Any) -> None:
    libc = _FakeLibc()
    monkeypatch.setattr(heap, "_glibc", lambda: libc)
    seen = []
    real = pipeline._load_number
    monkeypatch.setattr(
        pipeline,
        "_load_number",
        lambda *a: seen.append(heap._LOADS["running"]) or real(*a),
    )
    ingest(sample_ldc, "cmep", sample_file("cmep").read_bytes())
    assert seen and all(running == 1 for running in seen)
    assert heap._LOADS["running"] == 0


def test_the_heap_is_given_back_after_each_file(sample_ldc: Any, monkeypatch: Any) -> None:
    trims = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1))
    ingest(sample_ldc, "csv", sample_file("csv").read_bytes())
    with pytest.raises(ValueError):  # a load that fails gives it back too
        monkeypatch.setattr(pipeline, "_load", lambda *a: (_ for _ in ()).throw(ValueError()))
        ingest(sample_ldc, "cmep", sample_file("cmep").read_bytes())
    assert trims == [1, 1]
    monkeypatch.undo()
    if sys.platform == "linux":  # glibc here and on CI: the calls exist
        assert heap._glibc() is not None
    heap.trim()


def test_register_reads_follow_the_interval_business_rules(tmp_path: Any) -> None:
    """Issue 20: a register read of a meter the LDC does not have, or not linked to an SDP at
    that instant, is a rejected record (listed), never stored."""
    from tests.conftest import registry_ldc

    registry = (SAMPLES / "registry.csv").read_text()
    # MTR-1002 leaves its SDP after 2026-03-07; MTR-1001 is not this LDC's meter.
    row = "MTR-1002,residential,ulo,M4E 1G7,1,HESA,BILLCO,false,2025-01-01,"
    registry = registry.replace(row, row + "2026-03-07")
    registry = registry.replace("MTR-1001", "MTR-9001")
    (tmp_path / "registry.csv").write_text(registry)
    ldc = registry_ldc(tmp_path / "registry.csv")
    path = sample_file("cmep")
    read_file = ingest(ldc, "cmep", path.read_bytes(), path.name)
    stored = sorted(
        (r.meter.serial, r.read_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for r in RegisterRead.objects.filter(ldc=ldc).select_related("meter")
    )
    assert ("MTR-1002", "2026-03-07T05:00:00Z") in stored  # linked on 2026-03-07
    assert all(serial != "MTR-1001" for serial, _ in stored)
    assert ("MTR-1002", "2026-03-09T04:00:00Z") not in stored
    rejected = {
        (r.reason, r.meter_serial)
        for r in ReadRejection.objects.filter(read_file=read_file, reason__startswith="register")
    }
    assert rejected == {
        ("register_unknown_meter", "MTR-1001"),
        ("register_not_linked", "MTR-1002"),
    }
    assert read_file.registers_accepted == len(stored)
    assert read_file.report["rejected_by_reason"]["register_not_linked"] == 1
