"""Billing listens to read edits: the affected quantities are recomputed (new versions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from meters.reads.day_arrays import DAY_S


def on_reads_changed(sender: Any, *, ldc: Any, meter_id: int, starts: Any, **kwargs: Any) -> None:
    """A person edited reads: refresh the quantities whose period holds the changed intervals."""
    from billing.services import billing_quantities_refresh

    starts = np.asarray(starts, np.int64)
    if not starts.size:
        return
    billing_quantities_refresh(
        ldc=ldc,
        meter_ids=[int(meter_id)],
        first_day=int(starts.min()) // DAY_S,
        last_day=int(starts.max()) // DAY_S,
        reason="reads edited",
    )


def on_vee_ran(
    sender: Any, *, ldc: Any, meter_ids: list[int], first_day: int, last_day: int, **kwargs: Any
) -> None:
    """VEE finished on ingested reads: refresh the quantities of those meters on any worker."""
    from billing.tasks import refresh_for_meters

    refresh_for_meters.delay(
        ldc_id=ldc.pk, meter_ids=list(meter_ids), first_day=first_day, last_day=last_day
    )


def on_registry_changed(
    sender: Any, *, ldc: Any, sdp_ids_from: dict[int, Any], reason: str = "", **kwargs: Any
) -> None:
    """A registry change (a meter exchange, a removed relationship, the SDP's terms, its TOU
    billing start) reaches back into requested periods: recompute them now, so that a released
    quantity gets its new version and notice (or a cancel notice) at once, as an edit does."""
    from billing.models import BillingQuantityRequest
    from billing.selectors import with_ids
    from billing.services import billing_quantities_refresh

    if not sdp_ids_from:
        return
    since = min(sdp_ids_from.values())
    rows = with_ids(BillingQuantityRequest.objects.for_ldc(ldc), "sdp", sdp_ids_from)
    requests = [
        r
        for r in rows.filter(end__gte=since).select_related("sdp").order_by("pk")
        if r.end >= sdp_ids_from[r.sdp_id]
    ]
    if requests:
        billing_quantities_refresh(
            ldc=ldc, requests=requests, reason=f"registry changed ({reason})"[:200]
        )


def connect() -> None:
    from meters.signals import reads_changed, registry_changed, vee_ran

    reads_changed.connect(on_reads_changed, dispatch_uid="billing.on_reads_changed")
    registry_changed.connect(on_registry_changed, dispatch_uid="billing.on_registry_changed")
    vee_ran.connect(on_vee_ran, dispatch_uid="billing.on_vee_ran")
