"""The one JSON (and CSV) shape of billing quantities: API, command, pages and batch CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from billing.models import BillingQuantity, BillingQuantityRequest, ReplacementNotice

CSV_PERIODS = (
    "on_peak",
    "mid_peak",
    "off_peak",
    "ultra_low_overnight",
    "weekend_off_peak",
    "tier1",
    "tier2",
)
CSV_HEADER = [
    "request_id",
    "quantity_id",
    "sdp_id",
    "meter_id",
    "plan",
    "start",
    "end",
    "version",
    "status",
    *(f"{name}_kwh" for name in CSV_PERIODS),
    "total_kwh",
    "estimated_share",
    "quality",
    "register_start_kwh",
    "register_end_kwh",
    "pending_reasons",
    # Net metering (#19), after the original columns so that readers by position keep working.
    "received_total_kwh",
    "net_total_kwh",
]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def quantity_data(q: BillingQuantity, request: BillingQuantityRequest | None = None) -> dict:
    """One meter's quantities in the API's shape (needs q.meter and the request's sdp loaded)."""
    request = request or q.request
    return {
        "quantity_id": q.public_id,
        "request_id": request.public_id,
        "sdp_id": request.sdp.sdp_id,
        "meter_id": q.meter.serial,
        "plan": q.plan or request.plan,
        "service_multiplier": q.service_multiplier,
        "start": str(q.start),
        "end": str(q.end),
        "periods_kwh": q.periods_kwh,
        "total_kwh": q.total_kwh,
        # Net metering (bidirectional SDPs; null otherwise): the received channel and the net.
        "received_periods_kwh": q.received_periods_kwh,
        "received_total_kwh": q.received_total_kwh,
        "net_total_kwh": q.net_total_kwh,
        "estimated_share": q.estimated_share,
        "status": q.status,
        "pending_reasons": q.pending_reasons,
        # A refused span (status "refused"): why, and from when the SDP is TOU-billed.
        "refusal": (q.pending_reasons or [None])[0] if q.status == "refused" else None,
        "quality": q.quality,
        "register_reads": q.register_reads,
        "version": q.version,
        "intervals_expected": q.intervals_expected,
        "intervals_valid": q.intervals_valid,
        "computed_at": _iso(q.computed_at),
        "released_at": _iso(q.released_at),
        "superseded": q.superseded_by_id is not None,
    }


def request_data(request: BillingQuantityRequest, current: Iterable[BillingQuantity]) -> dict:
    """A request with the current version of each meter's quantities."""
    return {
        "request_id": request.public_id,
        "sdp_id": request.sdp.sdp_id,
        "plan": request.plan,
        "start": str(request.start),
        "end": str(request.end),
        "status": request.status,
        "requested_by": request.requested_by,
        "created_at": _iso(request.created_at),
        "quantities": [quantity_data(q, request) for q in current],
    }


def notice_data(notice: ReplacementNotice) -> dict:
    """A replacement notice: which released version a new one replaces, and why."""
    return {
        "notice_id": notice.public_id,
        "request_id": notice.request.public_id,
        "sdp_id": notice.request.sdp.sdp_id,
        "meter_id": notice.quantity.meter.serial,
        "replaces_quantity_id": notice.replaces.public_id,
        "replaces_version": notice.replaces.version,
        "quantity_id": notice.quantity.public_id,
        "version": notice.quantity.version,
        "reason": notice.reason,
        "created_at": _iso(notice.created_at),
        "acknowledged_at": _iso(notice.acknowledged_at),
    }


def latest_per_meter(rows: Iterable[BillingQuantity]) -> list[BillingQuantity]:
    """The highest version of each (request, meter, span start), in date order."""
    latest: dict[tuple[int, int, Any], BillingQuantity] = {}
    for row in rows:
        key = (row.request_id, row.meter_id, row.start)
        if key not in latest or latest[key].version < row.version:
            latest[key] = row
    return sorted(latest.values(), key=lambda q: (q.request_id, q.start, q.meter_id))


def quantities_csv(rows: Iterable[dict]) -> str:
    """CSV of quantity dicts (quantity_data shape), one line per meter and version."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        reads = row["register_reads"] or {}
        writer.writerow(
            [
                row["request_id"],
                row["quantity_id"],
                row["sdp_id"],
                row["meter_id"],
                row["plan"],
                row["start"],
                row["end"],
                row["version"],
                row["status"],
                *(_kwh(row["periods_kwh"].get(name)) for name in CSV_PERIODS),
                _kwh(row["total_kwh"]),
                row["estimated_share"],
                row["quality"],
                _kwh((reads.get("start") or {}).get("kwh")),
                _kwh((reads.get("end") or {}).get("kwh")),
                "; ".join(r["message"] for r in row["pending_reasons"]),
                _kwh(row.get("received_total_kwh")),
                _kwh(row.get("net_total_kwh")),
            ]
        )
    return out.getvalue()


def _kwh(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
