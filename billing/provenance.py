"""What produced a billing quantity, and proof of it: the stored days of the versions it
recorded (current or kept as IntervalDayVersion), recomputation from exactly those
(``--reproduce``) and the intervals behind each price period (``--explain``).

Measurement Canada asks that a billed quantity be reproducible from the legally relevant data
it came from: a quantity records each (meter, channel, day, version) it read
(BillingQuantity.inputs) and every change to a day (a late actual, a person's edit, a
re-estimation) keeps the version before it, so any version of a quantity, released or
replaced, can be recomputed and compared field by field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from billing.models import BillingQuantity, Status
from billing.periods import PERIOD_NAMES, period_codes
from billing.quantities import DayRows, Figures, Items, figures_compute, periods_kwh_all
from meters.models import IntervalDay, IntervalDayVersion
from meters.reads.day_arrays import DAY_S, IntervalFlag, slots_per_day, unpack_rows
from meters.reads.intervals import local_range_utc
from portal.calendar.localtime import date_of, day_number


@dataclass
class RecordedDays:
    """The stored days a quantity recorded, as billing reads them, with their methods."""

    blocks: list[DayRows]
    methods: dict[tuple[int, int], np.ndarray]  # (day, version) -> uint8 methods (current only)
    lost: list[tuple[int, int]]  # (day, version) recorded but kept nowhere


def recorded_days(ldc_id: int, meter_id: int, channel: int, runs: list[list[int]]) -> RecordedDays:
    """The days of ``runs`` ([first day, last day, version]) at the version recorded: the
    current row where it still has that version, else the kept one. Two queries."""
    wanted = {(d, v) for first, last, v in runs for d in range(first, last + 1)}
    dates = sorted({date_of(d) for d, _ in wanted})
    found: dict[tuple[int, int], tuple[int, bytes, bytes]] = {}
    methods: dict[tuple[int, int], np.ndarray] = {}
    current = IntervalDay.objects.filter(
        ldc_id=ldc_id, meter_id=meter_id, channel=channel, day__in=dates
    ).values_list("day", "version", "interval_minutes", "wh", "flags", "methods")
    for day, version, minutes, wh, flags, method in current:
        key = (day_number(day), version)
        if key in wanted:
            found[key] = (minutes, bytes(wh), bytes(flags))
            if method:
                methods[key] = np.frombuffer(bytes(method), "u1")
    missing = sorted({date_of(d) for d, v in wanted if (d, v) not in found})
    if missing:
        kept = IntervalDayVersion.objects.filter(
            ldc_id=ldc_id, meter_id=meter_id, channel=channel, day__in=missing
        ).values_list("day", "version", "interval_minutes", "wh", "flags")
        for day, version, minutes, wh, flags in kept:
            key = (day_number(day), version)
            if key in wanted and key not in found:
                found[key] = (minutes, bytes(wh), bytes(flags))
    blocks = []
    for minutes in sorted({m for m, _, _ in found.values()}):
        keys = sorted(k for k, v in found.items() if v[0] == minutes)
        n = slots_per_day(minutes)
        blocks.append(
            DayRows(
                meter=np.full(len(keys), meter_id, np.int64),
                day=np.array([d for d, _ in keys], np.int64),
                minutes=minutes,
                wh=unpack_rows([found[k][1] for k in keys], "<i4", n),
                flags=unpack_rows([found[k][2] for k in keys], "u1", n),
                version=np.array([v for _, v in keys], np.int64),
            )
        )
    return RecordedDays(blocks, methods, sorted(wanted - set(found)))


def _items(quantity: BillingQuantity, tz: ZoneInfo) -> Items:
    inputs = quantity.inputs
    first, after = local_range_utc(quantity.start, quantity.end, tz)
    return Items(
        meter=np.array([quantity.meter_id], np.int64),
        first=np.array([first], np.int64),
        after=np.array([after], np.int64),
        plan=np.array([inputs["plan"]], dtype="U8"),
        tier1_kwh=np.array([float(inputs.get("tier1_kwh", 0.0))]),
        multiplier=np.array([float(inputs.get("service_multiplier", 1.0))]),
    )


def _figures(quantity: BillingQuantity, channel: int, tz: ZoneInfo) -> tuple[Figures, Items, Any]:
    items = _items(quantity, tz)
    runs = quantity.inputs.get("days", {}).get(str(channel), [])
    days = recorded_days(quantity.ldc_id, quantity.meter_id, channel, runs)
    return figures_compute(days.blocks, items, tz), items, days


def billing_quantity_reproduce(*, quantity: BillingQuantity) -> list[str]:
    """Recompute a quantity from the day versions it recorded; each difference from what is
    stored (empty: reproduced)."""
    if quantity.status == Status.REFUSED:
        return []  # nothing was computed: nothing to reproduce
    if not quantity.inputs.get("days"):
        return ["no recorded inputs (the quantity was computed before inputs were recorded)"]
    tz = ZoneInfo(quantity.ldc.time_zone)
    out: list[str] = []
    figures, items, days = _figures(quantity, 1, tz)
    out += [f"day {date_of(d)} version {v} is kept nowhere" for d, v in days.lost]
    total = int(figures.total_wh[0])
    estimated = int(figures.estimated_wh[0])
    again = {
        "periods_kwh": periods_kwh_all(figures, items)[0],
        "total_kwh": total / 1000,
        "estimated_share": round(estimated / total, 6) if total > 0 else 0.0,
        "complete": bool(figures.complete(items)[0]),
    }
    if "2" in quantity.inputs["days"]:
        received, sub, lost = _figures(quantity, 2, tz)
        out += [f"received day {date_of(d)} version {v} is kept nowhere" for d, v in lost.lost]
        again["received_periods_kwh"] = periods_kwh_all(received, sub)[0]
        again["received_total_kwh"] = int(received.total_wh[0]) / 1000
        again["complete"] = again["complete"] and bool(received.complete(sub)[0])
    stored = {
        "periods_kwh": quantity.periods_kwh,
        "total_kwh": quantity.total_kwh,
        "estimated_share": quantity.estimated_share,
        "complete": quantity.status != Status.PENDING,
        "received_periods_kwh": quantity.received_periods_kwh,
        "received_total_kwh": quantity.received_total_kwh,
    }
    for name, value in again.items():
        if stored[name] != value:
            out.append(f"{name}: stored {stored[name]!r}, recomputed {value!r}")
    return out


_FLAG_NAMES = [(bit, bit.name.lower()) for bit in IntervalFlag if bit.name]


def _flag_names(bits: int) -> list[str]:
    return [name for bit, name in _FLAG_NAMES if bits & bit]


def billing_quantity_explain(*, quantity: BillingQuantity) -> dict[str, Any]:
    """Per price period, the intervals that make up the quantity: local start, billed kWh (x
    the multiplier), flags, estimation method and the day's version (and, for the received
    channel, the same). Read files per interval are not stored (only per day version)."""
    tz = ZoneInfo(quantity.ldc.time_zone)
    out: dict[str, Any] = {
        "quantity_id": quantity.public_id,
        "version": quantity.version,
        "start": str(quantity.start),
        "end": str(quantity.end),
        "status": quantity.status,
        "inputs": quantity.inputs,
        "channels": {},
    }
    if not quantity.inputs.get("days"):
        return out
    items = _items(quantity, tz)
    plan = str(items.plan[0])
    for channel, runs in sorted(quantity.inputs["days"].items()):
        days = recorded_days(quantity.ldc_id, quantity.meter_id, int(channel), runs)
        periods: dict[str, dict[str, Any]] = {}
        for rows in days.blocks:
            _explain_block(rows, days, items, plan, tz, periods)
        for period in periods.values():
            period["kwh"] = round(period["kwh"], 3)
        out["channels"][channel] = periods
    return out


def _explain_block(
    rows: DayRows,
    days: RecordedDays,
    items: Items,
    plan: str,
    tz: ZoneInfo,
    periods: dict[str, dict[str, Any]],
) -> None:
    step = rows.minutes * 60
    n = rows.wh.shape[1]
    starts = rows.day[:, None] * DAY_S + np.arange(n, dtype=np.int64) * step
    keep = (starts >= items.first[0]) & (starts < items.after[0])
    keep &= (rows.flags & np.uint8(IntervalFlag.MISSING)) == 0
    names = PERIOD_NAMES.get(plan)
    codes = period_codes(starts.ravel(), plan, tz).reshape(starts.shape) if names else None
    factor = float(items.multiplier[0]) if items.multiplier is not None else 1.0
    version = rows.version if rows.version is not None else np.ones(len(rows), np.int64)
    for r, s in zip(*np.nonzero(keep), strict=True):
        key = (int(rows.day[r]), int(version[r]))
        method = days.methods.get(key)
        name = names[int(codes[r, s])] if names and codes is not None else "all"
        period = periods.setdefault(name, {"kwh": 0.0, "intervals": []})
        kwh = int(rows.wh[r, s]) * factor / 1000
        period["kwh"] += kwh
        period["intervals"].append(
            {
                "start": dt.datetime.fromtimestamp(int(starts[r, s]), tz).isoformat(),
                "kwh": round(kwh, 6),
                "flags": _flag_names(int(rows.flags[r, s])),
                "method": int(method[s]) if method is not None and method.size > s else None,
                "version": key[1],
                "read_file": None,
            }
        )
