"""Registry rows that change an SDP's terms from a date (issue #19), as the LDC's file sends."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from meters.models import ServiceDeliveryPoint
from meters.registry.sync import read_registry_csv, registry_sync

HEADER = (
    "sdp_id,meter_id,rate_class,commodity_rate_class,postal_code,service_multiplier,"
    "ami_headend,billing_agent,bidirectional,effective_from,effective_to,billing_cycle\n"
)


def change_terms(ldc: Any, sdp_id: str, day: dt.date, **values: Any) -> Any:
    """A registry row for the SDP's current meter from ``day`` with the values changed."""
    sdp = ServiceDeliveryPoint.objects.for_ldc(ldc).get(sdp_id=sdp_id)
    meter = sdp.installs.order_by("-effective_from").first().meter.serial
    row = {
        "rate_class": sdp.rate_class,
        "commodity_rate_class": sdp.commodity_rate_class,
        "service_multiplier": sdp.service_multiplier,
        "billing_cycle": "",
        **values,
    }
    line = (
        f"{sdp_id},{meter},{row['rate_class']},{row['commodity_rate_class']},{sdp.postal_code},"
        f"{row['service_multiplier']},HESA,BILLCO,{str(sdp.bidirectional).lower()},{day},,"
        f"{row['billing_cycle']}\n"
    )
    result = registry_sync(
        ldc=ldc, rows=read_registry_csv(io.StringIO(HEADER + line)), actor=None, source="t.csv"
    )
    assert not result.errors, result.errors
    return result
