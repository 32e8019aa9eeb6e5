"""VEE on stored reads: estimates written beside the raw values, the exception queue, edits."""

from __future__ import annotations

import datetime as dt
import functools
import io
from typing import Any

import pytest
from django.core.management import call_command

from meters.models import IntervalDay, Meter, VeeException
from meters.reads import ingest
from meters.signals import reads_changed
from meters.vee.service import exceptions_resolve, interval_edit, vee_run_days
from portal.access import actor_for_user
from portal.models import AuditEvent
from tests.meters.conftest import sample_file
from tests.meters.samples import GENERATED

pytestmark = pytest.mark.django_db
FIRST, LAST = 20519, 20521  # UTC days 2026-03-07 .. 2026-03-09


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


def current(ldc: Any, meter: str) -> dict[str, tuple[str, str]]:
    out = io.StringIO()
    call_command(
        "export_intervals",
        "--ldc",
        ldc.slug,
        "--start",
        "2026-03-07",
        "--end",
        "2026-03-08",
        "--meter",
        meter,
        stdout=out,
    )
    rows = [line.split(",") for line in out.getvalue().splitlines()[1:]]
    return {r[1]: (r[3], r[4]) for r in rows}


def run(ldc: Any) -> Any:
    meters = list(Meter.objects.for_ldc(ldc).values_list("pk", flat=True))
    return vee_run_days(ldc=ldc, meter_ids=meters, first_day=FIRST, last_day=LAST)


def test_a_missing_hour_is_estimated_and_the_raw_value_kept(sample_ldc: Any) -> None:
    load(sample_ldc, sample_file("csv").read_bytes())
    outcome = run(sample_ldc)
    assert outcome.estimated >= 1
    value, flag = current(sample_ldc, "MTR-1002")["2026-03-07T19:00:00Z"]
    assert flag == "ESTIMATED" and float(value) > 0
    received = io.StringIO()
    call_command(
        "export_intervals",
        "--ldc",
        "sample",
        "--start",
        "2026-03-07",
        "--end",
        "2026-03-08",
        "--as-received",
        stdout=received,
    )
    assert received.getvalue() == GENERATED.expected_text()
    assert run(sample_ldc).written == 0, "VEE again on the same data changes nothing"


def test_ingestion_runs_vee_on_the_days_it_touched(
    sample_ldc: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        load(sample_ldc, sample_file("csv").read_bytes())
    assert current(sample_ldc, "MTR-1002")["2026-03-07T19:00:00Z"][1] == "ESTIMATED"


def frozen_day() -> bytes:
    """MTR-1001 reads 0.500 kWh for six hours in a row: V08 frozen values, a review rule."""
    text = sample_file("csv").read_text()
    for hour in range(10, 16):
        old = next(
            line
            for line in text.splitlines()
            if line.startswith(f"MTR-1001,2026-03-07T{hour:02d}:00")
        )
        text = text.replace(old, f"MTR-1001,2026-03-07T{hour:02d}:00:00-05:00,0.500,A")
    return text.encode()


def test_a_review_rule_opens_an_exception_that_accepting_closes(
    sample_ldc: Any, world: Any
) -> None:
    load(sample_ldc, frozen_day())
    run(sample_ldc)
    exception = VeeException.objects.for_ldc(sample_ldc).get(rule="V08")
    assert exception.status == "open" and exception.meter.serial == "MTR-1001"
    assert "V08" in exception.detail
    actor = actor_for_user(world.user("north", "back_office"))
    exceptions_resolve(
        ldc=sample_ldc, exceptions=[exception], action="accept", method=None, actor=actor
    )
    exception.refresh_from_db()
    assert exception.status == "accepted"
    run(sample_ldc)
    exception.refresh_from_db()
    assert exception.status == "accepted", "accepted values are not flagged again"
    assert current(sample_ldc, "MTR-1001")["2026-03-07T15:00:00Z"] == ("0.500", "EDITED")


def test_an_edit_needs_a_reason_is_audited_and_tells_billing(
    sample_ldc: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    load(sample_ldc, sample_file("csv").read_bytes())
    run(sample_ldc)
    meter = Meter.objects.for_ldc(sample_ldc).get(serial="MTR-1002")
    start = dt.datetime(2026, 3, 7, 19, tzinfo=dt.UTC)
    edit = functools.partial(
        interval_edit,
        ldc=sample_ldc,
        meter=meter,
        channel=1,
        start=start,
        end=start + dt.timedelta(hours=1),
        wh=555,
        actor=actor_for_user(world.user("north", "back_office")),
    )
    heard: list[Any] = []
    reads_changed.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="test-edit")
    from meters.vee.editing import EditError

    with pytest.raises(EditError):
        edit(reason="", note="")
    with django_capture_on_commit_callbacks(execute=True):
        changed = edit(reason="customer_read", note="read by the field crew")
    assert [(h["meter_id"], h["starts"].tolist()) for h in heard] == [
        (meter.pk, [int(start.timestamp())])
    ]
    assert changed == 1
    assert current(sample_ldc, "MTR-1002")["2026-03-07T19:00:00Z"] == ("0.555", "EDITED")
    event = AuditEvent.objects.for_ldc(sample_ldc).get(action="reads.edited")
    assert event.after["kwh"] == [0.555] and event.after["reason"] == "customer_read"
    assert event.before["kwh"] != [0.555]
    row = IntervalDay.objects.get(meter=meter, day=dt.date(2026, 3, 7))
    assert bytes(row.raw_quality)[19] == 3, "the raw value stays as received (missing)"
    run(sample_ldc)
    assert current(sample_ldc, "MTR-1002")["2026-03-07T19:00:00Z"] == ("0.555", "EDITED")
    reads_changed.disconnect(dispatch_uid="test-edit")


def test_after_ingest_reads_returns_vee_has_run(
    sample_ldc: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "ingest_reads",
            "--ldc",
            "sample",
            "--interface",
            "cmep",
            str(sample_file("cmep")),
            stdout=io.StringIO(),
        )
    value, flag = current(sample_ldc, "MTR-1002")["2026-03-07T19:00:00Z"]
    assert flag == "ESTIMATED" and value != ""
    out = io.StringIO()
    call_command(
        "export_intervals",
        "--ldc",
        "sample",
        "--start",
        "2026-03-07",
        "--end",
        "2026-03-07",
        "--meter",
        "MTR-1002",
        stdout=out,
    )
    row = next(x for x in out.getvalue().splitlines() if x.split(",")[1] == "2026-03-07T19:00:00Z")
    # CMEP carries register reads around the gap, so E4 scales the estimate to them: the
    # estimate is exactly the energy the meter counted and the head-end did not send.
    assert row.split(",")[8] == "E4" and "V01" in row.split(",")[9], row
    expected = GENERATED.expected_intervals()
    sent = sum(round(float(r[3]) * 1000) for r in expected if r[0] == "MTR-1002" and r[3])
    unsent = GENERATED.register_delta_wh("MTR-1002") - sent
    assert unsent > 0
    assert round(float(row.split(",")[3]) * 1000) == unsent
