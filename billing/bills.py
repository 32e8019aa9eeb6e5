"""Energy charges under each plan, the plan comparison, and settlement totals by rate class.

Reads only (no state changes): stored days -> flat valid intervals -> numpy. Prices come from
the database's OEB price sets (billing.selectors.price_table) and are applied per interval at
the set in effect on its local start date, so a period spanning a price change is priced
piecewise (billing.prices.price_intervals).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from billing import selectors
from billing.models import Plan
from billing.periods import PERIOD_NAMES, period_codes
from billing.prices import PriceSet, price_intervals, price_set_index, stale_price_warning
from billing.quantities import QUANTITY_NAMES, Flat, Items, flatten
from meters.models import MeterInstallation, ServiceDeliveryPoint
from meters.reads.day_arrays import DAY_S, IntervalFlag
from meters.reads.intervals import local_range_utc
from meters.reads.runs import sorted_unique
from meters.registry.terms import spans as terms_spans
from meters.registry.terms import terms_by_sdp
from portal.calendar.localtime import local_days
from portal.tenancy import LDC

HOUR_S = 3_600
RATE_CLASSES = ("residential", "gs_lt_50", "unclassified")


def _span_items(spans: list[tuple[int, dt.date, dt.date]], tz: ZoneInfo) -> tuple[Items, list[int]]:
    utc = [local_range_utc(first, last, tz) for _, first, last in spans]
    items = Items(
        meter=np.array([m for m, _, _ in spans], np.int64),
        first=np.array([u[0] for u in utc], np.int64),
        after=np.array([u[1] for u in utc], np.int64),
        plan=np.full(len(spans), "tou", dtype="U8"),
        tier1_kwh=np.zeros(len(spans)),
    )
    return items, sorted({m for m, _, _ in spans})


def sdp_intervals(
    *, ldc: LDC, sdp: ServiceDeliveryPoint, start: dt.date, end: dt.date
) -> tuple[Flat, int]:
    """The valid intervals of every meter installed at the SDP in start..end; seconds asked."""
    tz = ZoneInfo(ldc.time_zone)
    spans = selectors.installations(ldc=ldc, sdp_ids=[sdp.pk], start=start, end=end).get(sdp.pk, [])
    first, after = local_range_utc(start, end, tz)
    if not spans:
        return flatten([], _span_items([], tz)[0]), after - first
    items, meters = _span_items(spans, tz)
    blocks = selectors.day_rows(
        ldc=ldc, meter_ids=meters, first_day=first // DAY_S, last_day=(after - 1) // DAY_S
    )
    flat = flatten(blocks, items)
    # Billed kWh = metered kWh x the SDP's service multiplier in effect that day (#19).
    rows = terms_by_sdp(ldc=ldc, sdp_ids=[sdp.pk], last_day=end).get(sdp.pk, [])
    factor = np.ones(flat.wh.shape[0])
    for a, b, t in terms_spans(rows, start, end):
        if t is not None and t.multiplier != 1:
            lo, hi = local_range_utc(a, b, tz)
            factor[(flat.start >= lo) & (flat.start < hi)] = t.multiplier
    if (factor != 1).any():
        flat.wh = flat.wh * factor
    return flat, after - first


def energy_charge(
    flat: Flat, plan: str, tz: ZoneInfo, table: tuple[PriceSet, ...], rate_class: str
) -> dict[str, Any]:
    """The commodity charge ($) of the intervals under one plan, with the kWh it is based on."""
    kwh = flat.wh / 1000.0
    dollars = price_intervals(
        flat.start, kwh, plan, tz, table, rate_class=rate_class or "residential"
    )
    if plan == Plan.TIERED:
        by_name = _tiered_kwh(kwh, dollars, flat, tz, table)
    else:
        names = PERIOD_NAMES[plan]
        sums = np.bincount(period_codes(flat.start, plan, tz), kwh, len(names))
        by_name = dict(zip(names, np.round(sums, 3).tolist(), strict=True))
        by_name = {name: by_name[name] for name in QUANTITY_NAMES[plan]}
    sets: Any = price_set_index(local_days(flat.start, tz), table) if flat.start.size else []
    return {
        "plan": plan,
        "charge": round(float(dollars.sum()), 2),
        "periods_kwh": by_name,
        "total_kwh": round(float(kwh.sum()), 3),
        "price_sets": [str(table[i].effective) for i in sorted(set(np.asarray(sets).tolist()))],
    }


def _tiered_kwh(
    kwh: np.ndarray, dollars: np.ndarray, flat: Flat, tz: ZoneInfo, table: tuple[PriceSet, ...]
) -> dict[str, float]:
    """Tier split implied by the charge: tier-1 kWh are those paid at the tier-1 price."""
    if not kwh.size:
        return {"tier1": 0.0, "tier2": 0.0}
    which = price_set_index(local_days(flat.start, tz), table)
    t1 = np.array([s.price("tiered", "tier1") for s in table])[which] / 100
    t2 = np.array([s.price("tiered", "tier2") for s in table])[which] / 100
    # dollars = k1 * t1 + k2 * t2 with k1 + k2 = kwh: solve for k1 per interval.
    same = np.isclose(t1, t2)
    tier1 = np.where(same, kwh, (kwh * t2 - dollars) / np.where(same, 1, t2 - t1))
    total = float(kwh.sum())
    return {"tier1": round(float(tier1.sum()), 3), "tier2": round(total - float(tier1.sum()), 3)}


def plan_compare(
    *, ldc: LDC, sdp: ServiceDeliveryPoint, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """The energy charge of the SDP's period under TOU, ULO and tiered, and the cheapest."""
    tz = ZoneInfo(ldc.time_zone)
    flat, asked_s = sdp_intervals(ldc=ldc, sdp=sdp, start=start, end=end)
    table = selectors.price_table()
    plans = [energy_charge(flat, plan, tz, table, sdp.rate_class) for plan in Plan.values]
    covered_s = int((flat.minutes * 60).sum())
    estimated = flat.wh[(flat.flags & np.uint8(IntervalFlag.ESTIMATED)) != 0].sum()
    total = int(flat.wh.sum())
    cheapest = min(plans, key=lambda p: p["charge"])["plan"] if flat.start.size else None
    return {
        "sdp_id": sdp.sdp_id,
        "start": str(start),
        "end": str(end),
        "current_plan": sdp.commodity_rate_class or Plan.TOU,
        "plans": plans,
        "cheapest": cheapest,
        "coverage": round(covered_s / asked_s, 4) if asked_s else 0.0,
        "estimated_share": round(int(estimated) / total, 6) if total > 0 else 0.0,
        "price_warning": stale_price_warning(start, end, table),
    }


def settlement_hourly(*, ldc: LDC, start: dt.date, end: dt.date, chunk: int = 5000) -> dict:
    """An LDC's kWh per UTC hour and rate class over local dates start..end (for settlement)."""
    tz = ZoneInfo(ldc.time_zone)
    first, after = local_range_utc(start, end, tz)
    hours = (after - first) // HOUR_S
    kwh = np.zeros((hours, len(RATE_CLASSES)))
    estimated = np.zeros_like(kwh)
    received = np.zeros_like(kwh)  # channel 2: energy conveyed into the system (net metering)
    meters = np.zeros((hours, len(RATE_CLASSES)), np.int64)
    spans = _installed_spans(ldc, start, end)
    for lo in range(0, len(spans), chunk):
        part = spans[lo : lo + chunk]
        items, meter_ids = _span_items([(m, f, t) for m, f, t, _, _ in part], tz)
        blocks = selectors.day_rows(
            ldc=ldc, meter_ids=meter_ids, first_day=first // DAY_S, last_day=(after - 1) // DAY_S
        )
        flat = flatten(blocks, items)
        # Settlement energy is the delivery point's: metered Wh x the SDP's service multiplier.
        flat.wh = flat.wh * np.array([x for *_, x in part], np.float64)[flat.item]
        klass = np.array([c for *_, c, _ in part], np.int64)[flat.item]
        key = ((flat.start - first) // HOUR_S) * len(RATE_CLASSES) + klass
        size = hours * len(RATE_CLASSES)
        kwh += np.bincount(key, flat.wh / 1000.0, size).reshape(kwh.shape)
        est = (flat.flags & np.uint8(IntervalFlag.ESTIMATED)) != 0
        estimated += np.bincount(key[est], flat.wh[est] / 1000.0, size).reshape(kwh.shape)
        meters += _distinct_per_hour(key, flat.item, size).reshape(kwh.shape)
        # O. Reg. 393/07 s. 0.1 "billing quantity data" (b), as O. Reg. 133/23 made it: the
        # electricity conveyed into the distribution system is billed and settled too.
        back = selectors.day_rows(
            ldc=ldc,
            meter_ids=meter_ids,
            first_day=first // DAY_S,
            last_day=(after - 1) // DAY_S,
            channel=2,
        )
        if back:
            out = flatten(back, items)
            out.wh = out.wh * np.array([x for *_, x in part], np.float64)[out.item]
            klass = np.array([c for *_, c, _ in part], np.int64)[out.item]
            key = ((out.start - first) // HOUR_S) * len(RATE_CLASSES) + klass
            received += np.bincount(key, out.wh / 1000.0, size).reshape(kwh.shape)
    return {
        "hour_start": first + np.arange(hours, dtype=np.int64) * HOUR_S,
        "rate_classes": RATE_CLASSES,
        "kwh": np.round(kwh, 3),
        "estimated_kwh": np.round(estimated, 3),
        "received_kwh": np.round(received, 3),
        "meters": meters,
    }


def _distinct_per_hour(key: np.ndarray, item: np.ndarray, size: int) -> np.ndarray:
    """How many distinct items have an interval in each (hour, class) key."""
    if not key.size:
        return np.zeros(size, np.int64)
    pairs = sorted_unique(key * (int(item.max()) + 1) + item)
    return np.bincount(pairs // (int(item.max()) + 1), minlength=size)


def _installed_spans(
    ldc: LDC, start: dt.date, end: dt.date
) -> list[tuple[int, dt.date, dt.date, int, float]]:
    """(meter, first day, last day, rate class index, service multiplier) of every
    installation in start..end, cut where the SDP's terms change (meters.registry.terms)."""
    rows = list(
        MeterInstallation.objects.for_ldc(ldc)
        .filter(effective_from__lte=end)
        .exclude(effective_to__lt=start)
        .order_by("meter_id", "effective_from")
        .values_list("meter_id", "sdp_id", "effective_from", "effective_to")
    )
    terms = terms_by_sdp(ldc=ldc, sdp_ids={sdp for _, sdp, _, _ in rows}, last_day=end)
    index = {name: i for i, name in enumerate(RATE_CLASSES)}
    out = []
    for meter, sdp, first, last in rows:
        for a, b, t in terms_spans(terms.get(sdp, []), max(first, start), min(last or end, end)):
            klass = index.get(t.rate_class if t else "", len(RATE_CLASSES) - 1)
            out.append((meter, a, b, klass, t.multiplier if t else 1.0))
    return out


def settlement_csv_lines(result: dict, tz: ZoneInfo) -> list[str]:
    """CSV rows: hour start (UTC and local), rate class, kWh, estimated kWh, meters."""
    lines = ["hour_start_utc,hour_start_local,rate_class,kwh,estimated_kwh,meters,received_kwh"]
    for h, start in enumerate(result["hour_start"].tolist()):
        utc = dt.datetime.fromtimestamp(start, dt.UTC)
        local = utc.astimezone(tz).isoformat()
        for c, name in enumerate(result["rate_classes"]):
            if result["meters"][h, c] == 0:
                continue
            lines.append(
                f"{utc:%Y-%m-%dT%H:%M:%SZ},{local},{name},{result['kwh'][h, c]:.3f},"
                f"{result['estimated_kwh'][h, c]:.3f},{result['meters'][h, c]},"
                f"{result['received_kwh'][h, c]:.3f}"
            )
    return lines
