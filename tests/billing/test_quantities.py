"""Billing quantities from stored reads: the command, pending with why, completion after VEE."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from meters.models import Meter, RegisterRead

pytestmark = pytest.mark.django_db


def command(ldc: Any, sdp: str, *extra: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    call_command(
        "billing_quantities",
        "--ldc",
        ldc.slug,
        "--sdp",
        sdp,
        "--start",
        "2026-03-07",
        "--end",
        "2026-03-08",
        *extra,
        stdout=out,
    )
    return json.loads(out.getvalue())


def test_command_prints_the_api_shape_with_the_plans_period_names(validated: Any) -> None:
    [tou] = command(validated, "SDP-1001")
    for key in ("sdp_id", "meter_id", "plan", "start", "end", "periods_kwh", "total_kwh"):
        assert key in tou
    for key in ("estimated_share", "status", "version"):
        assert key in tou
    assert (tou["sdp_id"], tou["meter_id"], tou["plan"]) == ("SDP-1001", "MTR-1001", "tou")
    assert (tou["start"], tou["end"], tou["version"]) == ("2026-03-07", "2026-03-08", 1)
    assert set(tou["periods_kwh"]) == {"on_peak", "mid_peak", "off_peak"}
    assert tou["total_kwh"] == pytest.approx(sum(tou["periods_kwh"].values()), abs=1e-6)
    [ulo] = command(validated, "SDP-1002")
    assert set(ulo["periods_kwh"]) == {
        "ultra_low_overnight",
        "weekend_off_peak",
        "mid_peak",
        "on_peak",
    }
    [tiered] = command(validated, "SDP-1001", "--plan", "tiered")
    assert set(tiered["periods_kwh"]) == {"tier1", "tier2"} and tiered["plan"] == "tiered"
    assert tiered["total_kwh"] == tou["total_kwh"]


def test_weekend_reads_are_all_off_peak_and_register_reads_bound_the_period(
    validated: Any,
) -> None:
    meter = Meter.objects.for_ldc(validated).get(serial="MTR-1001")
    for at, wh in (("2026-03-01T05:00:00", 18_000_000), ("2026-03-07T05:00:00", 18_234_117)):
        RegisterRead.objects.create(
            ldc=validated, meter=meter, read_at=dt.datetime.fromisoformat(at + "+00:00"), wh=wh
        )
    RegisterRead.objects.create(
        ldc=validated, meter=meter, read_at=dt.datetime(2026, 3, 9, 4, tzinfo=dt.UTC), wh=18_269_873
    )
    # March 7 and 8 2026 are a Saturday and a Sunday: TOU off-peak, ULO no weekday periods.
    [tou] = command(validated, "SDP-1001")
    assert tou["periods_kwh"]["on_peak"] == 0 and tou["periods_kwh"]["mid_peak"] == 0
    assert tou["periods_kwh"]["off_peak"] == tou["total_kwh"] > 0
    [ulo] = command(validated, "SDP-1002")
    assert ulo["periods_kwh"]["on_peak"] == 0 and ulo["periods_kwh"]["mid_peak"] == 0
    assert ulo["periods_kwh"]["ultra_low_overnight"] > 0
    assert ulo["periods_kwh"]["weekend_off_peak"] > 0
    reads = tou["register_reads"]
    assert reads["start"]["read_at"] == "2026-03-07T05:00:00Z"
    assert reads["start"]["kwh"] == pytest.approx(18234.117)
    assert reads["end"]["read_at"] == "2026-03-09T04:00:00Z"


def test_a_quantity_waits_with_why_until_vee_has_run(loaded: Any) -> None:
    from tests.billing.conftest import run_vee

    [pending] = command(loaded, "SDP-1002")
    assert pending["status"] == "pending" and pending["version"] == 1
    codes = {r["code"]: r["intervals"] for r in pending["pending_reasons"]}
    assert codes["missing_intervals"] == 1, "MTR-1002 has one hour missing on the 7th"
    assert codes["not_validated"] == 46
    run_vee(loaded)
    [done] = command(loaded, "SDP-1002")
    assert done["status"] == "complete" and done["pending_reasons"] == []
    assert done["version"] == 1 and done["quantity_id"] == pending["quantity_id"]
    assert 0 < done["estimated_share"] < 0.1 and done["quality"] == "estimated"
