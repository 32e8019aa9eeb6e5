"""Billing-quantity operations: request, batch by cycle, refresh (new versions), release.

A request (SDP, local dates start..end inclusive, plan) has one quantity per meter installed in
the period (a meter exchange inside it gives two). A quantity not yet released is recomputed in
place; a released one is never changed: when its figures would change, a new version is made
and a ReplacementNotice tells the billing system. Every release is audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import selectors
from billing.models import (
    BillingBatch,
    BillingQuantity,
    BillingQuantityRequest,
    OebPriceSet,
    Plan,
    ReplacementNotice,
    Status,
)
from billing.periods import months_of, tier_threshold_kwh
from billing.prices import PRICE_NAMES, PRICE_TABLE
from billing.quantities import Figures, Items, bounding_reads, figures_compute, periods_kwh
from ldc.models import LDC
from meters.localtime import day_number
from meters.models import BillingCycle, ServiceDeliveryPoint
from meters.selectors import local_range_utc
from meters.storage import DAY_S
from portal.access import Actor
from portal.audit import audit

CHUNK_METERS = 2000  # meters per read of stored days
REGISTER_WINDOW_S = 7 * DAY_S  # how far from the period a bounding register read may be
MAX_PERIOD_DAYS = 62


class BillingError(ValueError):
    """A billing rule said no (answered as a domain error by the API)."""


@dataclass
class Target:
    """One meter's part of one request."""

    request: BillingQuantityRequest
    meter_id: int
    start: dt.date
    end: dt.date


@dataclass
class RefreshOutcome:
    """What a refresh did."""

    requests: int = 0
    updated: int = 0
    created: int = 0
    replaced: int = 0
    notices: list[ReplacementNotice] = field(default_factory=list)


def plan_of(sdp: ServiceDeliveryPoint, plan: str | None = None) -> str:
    """The plan asked for, or the SDP's commodity rate class (TOU when it has none)."""
    chosen = plan or sdp.commodity_rate_class or Plan.TOU
    if chosen not in Plan.values:
        raise BillingError(f"unknown plan '{chosen}': one of {', '.join(Plan.values)}")
    return chosen


def _check_period(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise BillingError("the end date is before the start date")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise BillingError(f"a billing period is at most {MAX_PERIOD_DAYS} days")


@transaction.atomic
def billing_quantity_request(
    *,
    ldc: LDC,
    sdp: ServiceDeliveryPoint,
    start: dt.date,
    end: dt.date,
    plan: str | None = None,
    actor: Actor | None,
) -> BillingQuantityRequest:
    """Ask for an SDP's quantities for a period; asking again refreshes the same request."""
    _check_period(start, end)
    request, _ = BillingQuantityRequest.objects.for_ldc(ldc).get_or_create(
        sdp=sdp,
        start=start,
        end=end,
        plan=plan_of(sdp, plan),
        defaults={"ldc": ldc, "requested_by": actor.label if actor else "system"},
    )
    targets = _targets(ldc, [request])
    if not targets:
        raise BillingError(f"no meter installed at {sdp.sdp_id} between {start} and {end}")
    _apply(ldc, [request], targets, reason="recomputed on request")
    request.refresh_from_db()
    return request


def _targets(ldc: LDC, requests: list[BillingQuantityRequest]) -> list[Target]:
    """Each request's meters from the installation history (effective dates are local)."""
    out: list[Target] = []
    by_period: dict[tuple[dt.date, dt.date], list[BillingQuantityRequest]] = {}
    for request in requests:
        by_period.setdefault((request.start, request.end), []).append(request)
    for (start, end), group in by_period.items():
        installed = selectors.installations(
            ldc=ldc, sdp_ids=[r.sdp_id for r in group], start=start, end=end
        )
        for request in group:
            for meter, first, last in installed.get(request.sdp_id, []):
                out.append(Target(request, meter, first, last))
    return out


@lru_cache(maxsize=1024)
def tier1_threshold_kwh(rate_class: str, start: dt.date, end: dt.date) -> float:
    """Tier-1 kWh of local days start..end: each day carries 1/days-in-month of its month's."""
    days = np.arange(day_number(start), day_number(end) + 1)
    dates = days.astype("datetime64[D]")
    month_start = dates.astype("datetime64[M]")
    in_month = (month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")
    monthly = tier_threshold_kwh(rate_class or "residential", months_of(days))
    return float((monthly / in_month.astype(np.int64)).sum())


def _items(targets: list[Target], tz: ZoneInfo) -> Items:
    spans = [local_range_utc(t.start, t.end, tz) for t in targets]
    return Items(
        meter=np.array([t.meter_id for t in targets], np.int64),
        first=np.array([s[0] for s in spans], np.int64),
        after=np.array([s[1] for s in spans], np.int64),
        plan=np.array([t.request.plan for t in targets], dtype="U8"),
        tier1_kwh=np.array(
            [
                tier1_threshold_kwh(t.request.sdp.rate_class, t.start, t.end)
                if t.request.plan == Plan.TIERED
                else 0.0
                for t in targets
            ]
        ),
    )


def quantities_compute(*, ldc: LDC, targets: list[Target]) -> list[dict[str, Any]]:
    """The figures of each target (fields of BillingQuantity), reading meters in chunks."""
    tz = ZoneInfo(ldc.time_zone)
    out: list[dict[str, Any]] = [{} for _ in targets]
    order = sorted(range(len(targets)), key=lambda i: targets[i].meter_id)
    for lo in range(0, len(order), CHUNK_METERS):
        part = order[lo : lo + CHUNK_METERS]
        chunk = [targets[i] for i in part]
        for i, figures in zip(part, _compute_chunk(ldc, chunk, tz), strict=True):
            out[i] = figures
    return out


def _compute_chunk(ldc: LDC, targets: list[Target], tz: ZoneInfo) -> list[dict[str, Any]]:
    items = _items(targets, tz)
    meters = sorted({t.meter_id for t in targets})
    first, after = int(items.first.min()), int(items.after.max())
    blocks = selectors.day_rows(
        ldc=ldc, meter_ids=meters, first_day=first // DAY_S, last_day=(after - 1) // DAY_S
    )
    figures = figures_compute(blocks, items, tz)
    reads = selectors.register_reads(
        ldc=ldc,
        meter_ids=meters,
        first_s=first - REGISTER_WINDOW_S,
        after_s=after + REGISTER_WINDOW_S,
    )
    before, following = bounding_reads(reads[0], reads[1], items)
    complete = figures.complete(items)
    missing = figures.missing(items)
    return [
        _row(items, figures, i, bool(complete[i]), int(missing[i]), reads, before, following)
        for i in range(len(items))
    ]


def _read(reads: tuple[np.ndarray, ...], index: int) -> dict[str, Any] | None:
    if index < 0:
        return None
    at = dt.datetime.fromtimestamp(int(reads[1][index]), dt.UTC)
    return {"read_at": at.isoformat().replace("+00:00", "Z"), "kwh": int(reads[2][index]) / 1000}


def _reasons(figures: Figures, items: Items, i: int, missing: int) -> list[dict[str, Any]]:
    expected = int((items.after[i] - items.first[i]) // (figures.minutes[i] * 60))
    reasons = []
    if missing:
        reasons.append(
            {
                "code": "missing_intervals",
                "intervals": missing,
                "message": f"{missing} of {expected} intervals have no reading yet",
            }
        )
    if figures.unvalidated[i]:
        n = int(figures.unvalidated[i])
        reasons.append(
            {
                "code": "not_validated",
                "intervals": n,
                "message": f"{n} intervals are not validated yet (VEE has not run on them)",
            }
        )
    if figures.failed[i]:
        n = int(figures.failed[i])
        reasons.append(
            {
                "code": "failed_validation",
                "intervals": n,
                "message": f"{n} intervals failed validation (open VEE exceptions)",
            }
        )
    return reasons


def _row(
    items: Items,
    figures: Figures,
    i: int,
    complete: bool,
    missing: int,
    reads: tuple[np.ndarray, ...],
    before: np.ndarray,
    following: np.ndarray,
) -> dict[str, Any]:
    total = int(figures.total_wh[i])
    estimated = int(figures.estimated_wh[i])
    if not complete:
        quality = "incomplete"
    elif estimated:
        quality = "estimated"
    else:
        quality = "edited" if figures.edited_wh[i] else "actual"
    return {
        "status": Status.COMPLETE if complete else Status.PENDING,
        "pending_reasons": [] if complete else _reasons(figures, items, i, missing),
        "periods_kwh": periods_kwh(figures, items, i),
        "total_kwh": total / 1000,
        "estimated_share": round(estimated / total, 6) if total > 0 else 0.0,
        "quality": quality,
        "register_reads": {
            "start": _read(reads, int(before[i])),
            "end": _read(reads, int(following[i])),
        },
        "intervals_expected": int((items.after[i] - items.first[i]) // 60 // figures.minutes[i]),
        "intervals_valid": int(figures.valid[i]),
    }


_FIGURE_FIELDS = (
    "status",
    "pending_reasons",
    "periods_kwh",
    "total_kwh",
    "estimated_share",
    "quality",
    "register_reads",
    "intervals_expected",
    "intervals_valid",
)


def _differs(quantity: BillingQuantity, figures: dict[str, Any]) -> bool:
    return any(getattr(quantity, name) != figures[name] for name in _FIGURE_FIELDS)


def _billed_differ(released: BillingQuantity, figures: dict[str, Any]) -> bool:
    """Would a billing system bill differently (a new version is due)?"""
    return (
        released.periods_kwh != figures["periods_kwh"]
        or released.total_kwh != figures["total_kwh"]
        or released.estimated_share != figures["estimated_share"]
        or figures["status"] == Status.PENDING
    )


def _latest(ldc: LDC, requests: list[BillingQuantityRequest]) -> dict[tuple[int, int], Any]:
    rows = (
        BillingQuantity.objects.for_ldc(ldc)
        .filter(request__in=[r.pk for r in requests])
        .select_related("meter")
    )
    latest: dict[tuple[int, int], BillingQuantity] = {}
    for row in rows.order_by("version"):
        latest[(row.request_id, row.meter_id)] = row
    return latest


def _apply(
    ldc: LDC,
    requests: list[BillingQuantityRequest],
    targets: list[Target],
    *,
    reason: str,
) -> RefreshOutcome:
    """Store the targets' figures: in place, as version 1, or as a new version with a notice."""
    outcome = RefreshOutcome(requests=len(requests))
    computed = quantities_compute(ldc=ldc, targets=targets)
    latest = _latest(ldc, requests)
    now = timezone.now()
    new: list[BillingQuantity] = []
    changed: list[BillingQuantity] = []
    replaced: list[tuple[BillingQuantity, BillingQuantity]] = []
    for target, figures in zip(targets, computed, strict=True):
        row = latest.get((target.request.pk, target.meter_id))
        if row is None or (row.is_released and _billed_differ(row, figures)):
            version = 1 if row is None else row.version + 1
            quantity = BillingQuantity(
                ldc=ldc,
                request=target.request,
                meter_id=target.meter_id,
                version=version,
                start=target.start,
                end=target.end,
                computed_at=now,
                **figures,
            )
            new.append(quantity)
            if row is not None:
                replaced.append((row, quantity))
        elif not row.is_released and _differs(row, figures):
            for name, value in figures.items():
                setattr(row, name, value)
            row.computed_at = now
            changed.append(row)
    BillingQuantity.objects.bulk_create(new, batch_size=2000)
    BillingQuantity.objects.bulk_update(changed, [*_FIGURE_FIELDS, "computed_at"], batch_size=2000)
    outcome.created, outcome.updated = len(new), len(changed)
    outcome.notices = _replace(ldc, replaced, reason, now)
    outcome.replaced = len(replaced)
    states: dict[int, set[str]] = {}
    for target, figures in zip(targets, computed, strict=True):
        row = latest.get((target.request.pk, target.meter_id))
        kept = row is not None and row.is_released and not _billed_differ(row, figures)
        status = Status.RELEASED if kept else figures["status"]
        states.setdefault(target.request.pk, set()).add(status)
    _request_status(ldc, requests, now, states)
    return outcome


def _replace(
    ldc: LDC,
    replaced: list[tuple[BillingQuantity, BillingQuantity]],
    reason: str,
    now: dt.datetime,
) -> list[ReplacementNotice]:
    """Point each replaced released row at its successor (its figures untouched); notices."""
    notices = []
    for old, new in replaced:
        # Only the markers change on the released row: never its figures.
        BillingQuantity.objects.filter(pk=old.pk).update(superseded_by=new, stale_since=now)
        notices.append(
            ReplacementNotice(
                ldc=ldc, request=old.request, replaces=old, quantity=new, reason=reason
            )
        )
        audit(
            action="billing_quantity.replaced",
            actor=None,
            ldc=ldc,
            obj=new,
            before={"version": old.version, **old.figures()},
            after={"version": new.version, **new.figures(), "reason": reason},
        )
    return ReplacementNotice.objects.bulk_create(notices)


def _request_status(
    ldc: LDC,
    requests: list[BillingQuantityRequest],
    now: dt.datetime,
    states: dict[int, set[str]] | None = None,
) -> None:
    """A request is pending while any current quantity is; released when all are."""
    if states is None:
        states = {}
        for (request_id, _), row in _latest(ldc, requests).items():
            states.setdefault(request_id, set()).add(row.status)
    for status in Status.values:
        ids = {
            r.pk
            for r in requests
            if _overall(states.get(r.pk, {Status.PENDING})) == status and r.status != status
        }
        BillingQuantityRequest.objects.filter(pk__in=ids).update(status=status, updated_at=now)
        for request in requests:
            if request.pk in ids:
                request.status = status


def _overall(states: set[str]) -> str:
    if Status.PENDING in states:
        return Status.PENDING
    return Status.COMPLETE if Status.COMPLETE in states else Status.RELEASED


def billing_quantities_refresh(
    *,
    ldc: LDC,
    requests: list[BillingQuantityRequest] | None = None,
    meter_ids: list[int] | None = None,
    first_day: int | None = None,
    last_day: int | None = None,
    reason: str = "reads changed",
) -> RefreshOutcome:
    """Recompute requests (given, or those of meters over UTC days); new versions as needed.

    Pending and complete quantities are updated in place; a released quantity whose figures
    differ gets a new version and a ReplacementNotice. Idempotent: a second run changes nothing.
    """
    if requests is None:
        requests = list(_affected(ldc, meter_ids or [], first_day, last_day))
    outcome = RefreshOutcome()
    for lo in range(0, len(requests), CHUNK_METERS):
        part = requests[lo : lo + CHUNK_METERS]
        with transaction.atomic():
            done = _apply(ldc, part, _targets(ldc, part), reason=reason)
        outcome.requests += done.requests
        outcome.updated += done.updated
        outcome.created += done.created
        outcome.replaced += done.replaced
        outcome.notices += done.notices
    return outcome


def _affected(ldc: LDC, meter_ids: list[int], first_day: int | None, last_day: int | None) -> Any:
    """Requests with a quantity of these meters whose period may hold those UTC days."""
    quantities = BillingQuantity.objects.for_ldc(ldc).filter(meter_id__in=meter_ids)
    if first_day is not None:  # local dates are within a day of UTC ones
        quantities = quantities.filter(end__gte=dt.date(1970, 1, 1) + dt.timedelta(first_day - 1))
    if last_day is not None:
        quantities = quantities.filter(start__lte=dt.date(1970, 1, 1) + dt.timedelta(last_day + 1))
    return (
        BillingQuantityRequest.objects.for_ldc(ldc)
        .filter(pk__in=quantities.values("request_id"))
        .select_related("sdp")
        .order_by("pk")
    )


@transaction.atomic
def billing_quantity_release(*, quantity: BillingQuantity, actor: Actor | None) -> BillingQuantity:
    """Hand a complete quantity to the billing system: it never changes after this. Audited."""
    if quantity.status == Status.RELEASED:
        return quantity
    if quantity.status != Status.COMPLETE:
        raise BillingError("only a complete quantity can be released (this one is pending)")
    now = timezone.now()
    label = actor.label if actor else "system"
    claimed = (
        BillingQuantity.objects.for_ldc(quantity.ldc_id)
        .filter(pk=quantity.pk, status=Status.COMPLETE)
        .update(status=Status.RELEASED, released_at=now, released_by=label)
    )
    if not claimed:
        raise BillingError("the quantity changed meanwhile: fetch it again")
    quantity.refresh_from_db()
    audit(
        action="billing_quantity.released",
        actor=actor,
        ldc=quantity.ldc,
        obj=quantity,
        before={"status": Status.COMPLETE},
        after={"version": quantity.version, **quantity.figures(), "status": Status.RELEASED},
        object_repr=f"{quantity.request} v{quantity.version}",
    )
    _request_status(quantity.ldc, [quantity.request], now)
    return quantity


@transaction.atomic
def billing_request_release(
    *, request: BillingQuantityRequest, actor: Actor | None
) -> list[BillingQuantity]:
    """Release every current quantity of a request; all must be complete (or released)."""
    current = list(_latest(request.ldc, [request]).values())
    pending = [q for q in current if q.status == Status.PENDING]
    if pending:
        raise BillingError("the request is still pending: " + _why(pending))
    return [billing_quantity_release(quantity=q, actor=actor) for q in current]


def _why(pending: list[BillingQuantity]) -> str:
    return "; ".join(r["message"] for q in pending for r in q.pending_reasons) or "not complete"


def current_quantities(ldc: LDC, requests: list[BillingQuantityRequest]) -> list[BillingQuantity]:
    """The latest version of each meter of the requests, in request then date order."""
    latest = _latest(ldc, requests)
    rows = sorted(latest.values(), key=lambda q: (q.request_id, q.start, q.meter_id))
    return rows


def billing_cycle_period(*, cycle: BillingCycle, month: dt.date) -> tuple[dt.date, dt.date]:
    """The period of a cycle that ends on its read day in ``month`` (starts after the last one)."""
    end = _read_day(cycle.read_day, month.year, month.month)
    previous = month.replace(day=1) - dt.timedelta(days=1)
    return _read_day(cycle.read_day, previous.year, previous.month) + dt.timedelta(days=1), end


def _read_day(read_day: int, year: int, month: int) -> dt.date:
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(max(read_day, 1), last))


def billing_batch_request(
    *,
    ldc: LDC,
    cycle: BillingCycle,
    start: dt.date,
    end: dt.date,
    actor: Actor | None,
) -> BillingBatch:
    """Request the quantities of every active SDP of a billing cycle for one period."""
    _check_period(start, end)
    sdps = list(
        ServiceDeliveryPoint.objects.for_ldc(ldc).filter(billing_cycle=cycle, status="active")
    )
    with transaction.atomic():
        batch = BillingBatch.objects.create(
            ldc=ldc,
            cycle=cycle,
            start=start,
            end=end,
            requested_by=actor.label if actor else "system",
            sdps=len(sdps),
        )
        audit(
            action="billing_batch.requested",
            actor=actor,
            ldc=ldc,
            obj=batch,
            after={"cycle": cycle.code, "start": str(start), "end": str(end), "sdps": len(sdps)},
        )
    requests = billing_requests_ensure(ldc=ldc, sdps=sdps, start=start, end=end, batch=batch)
    billing_quantities_refresh(ldc=ldc, requests=requests, reason="batch request")
    return batch


def billing_requests_ensure(
    *,
    ldc: LDC,
    sdps: list[ServiceDeliveryPoint],
    start: dt.date,
    end: dt.date,
    batch: BillingBatch | None = None,
    actor: Actor | None = None,
) -> list[BillingQuantityRequest]:
    """One request per SDP (its own plan) for the period, made where missing; no computing."""
    existing = {
        r.sdp_id: r
        for r in BillingQuantityRequest.objects.for_ldc(ldc)
        .filter(sdp__in=[s.pk for s in sdps], start=start, end=end)
        .select_related("sdp")
    }
    label = actor.label if actor else (batch.requested_by if batch else "system")
    missing = [
        BillingQuantityRequest(
            ldc=ldc,
            sdp=sdp,
            start=start,
            end=end,
            plan=plan_of(sdp),
            batch=batch,
            requested_by=label,
        )
        for sdp in sdps
        if sdp.pk not in existing
    ]
    try:
        with transaction.atomic():
            BillingQuantityRequest.objects.bulk_create(missing, batch_size=2000)
    except IntegrityError:  # another batch made some meanwhile: take theirs
        BillingQuantityRequest.objects.bulk_create(missing, batch_size=2000, ignore_conflicts=True)
        return billing_requests_ensure(ldc=ldc, sdps=sdps, start=start, end=end, batch=batch)
    if batch is not None and existing:
        BillingQuantityRequest.objects.filter(pk__in=[r.pk for r in existing.values()]).update(
            batch=batch
        )
    return sorted([*existing.values(), *missing], key=lambda r: r.pk)


@transaction.atomic
def replacement_notice_acknowledge(
    *, notice: ReplacementNotice, actor: Actor | None
) -> ReplacementNotice:
    """The billing system has taken the replacement: it stops being listed as open."""
    if notice.acknowledged_at is None:
        notice.acknowledged_at = timezone.now()
        notice.save(update_fields=["acknowledged_at"])
        audit(action="billing_notice.acknowledged", actor=actor, ldc=notice.ldc, obj=notice)
    return notice


def price_sets_sync() -> int:
    """Seed the database's OEB price sets from billing.prices.PRICE_TABLE where missing."""
    created = 0
    for price_set in PRICE_TABLE:
        _, made = OebPriceSet.objects.get_or_create(
            effective=price_set.effective,
            defaults={
                "cents_per_kwh": {p: dict(v) for p, v in price_set.cents_per_kwh.items()},
                "source": price_set.source,
                "unverified": list(price_set.unverified),
            },
        )
        created += int(made)
    return created


def _check_prices(cents_per_kwh: dict[str, Any]) -> None:
    for plan, names in PRICE_NAMES.items():
        prices = cents_per_kwh.get(plan)
        if not isinstance(prices, dict):
            raise BillingError(f"no {plan} prices")
        for name in names:
            value = prices.get(name)
            if not isinstance(value, int | float) or not 0 <= value < 1000:
                raise BillingError(f"{plan} {name}: a price in ¢/kWh is needed")


@transaction.atomic
def price_set_save(
    *,
    effective: dt.date,
    cents_per_kwh: dict[str, Any],
    source: str,
    actor: Actor,
) -> OebPriceSet:
    """An SME coordinator adds or corrects the prices from a date on; audited with before/after."""
    if not actor.can("sme.manage"):
        raise BillingError("only SME program coordinators edit OEB prices")
    if not source.strip():
        raise BillingError("name the source of the prices (the OEB report or release)")
    _check_prices(cents_per_kwh)
    row = OebPriceSet.objects.filter(effective=effective).first()
    before = {"cents_per_kwh": row.cents_per_kwh, "source": row.source} if row else None
    row = row or OebPriceSet(effective=effective)
    row.cents_per_kwh = cents_per_kwh
    row.source = source
    row.unverified = []
    row.updated_at = timezone.now()
    row.updated_by = actor.user
    row.save()
    audit(
        action="oeb_prices.saved",
        actor=actor,
        ldc=None,
        obj=row,
        before=before,
        after={"cents_per_kwh": cents_per_kwh, "source": source, "effective": str(effective)},
    )
    return row
