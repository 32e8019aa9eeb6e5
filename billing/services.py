"""Billing-quantity operations: request, batch by cycle, refresh (new versions), release.

A request (SDP, local dates start..end inclusive, plan) has one quantity per meter installed in
the period (a meter exchange inside it gives two). A quantity not yet released is recomputed in
place; a released one is never changed: when its figures would change, a new version is made
and a ReplacementNotice tells the billing system. Every release is audited in its transaction.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence, Set
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from django.db import IntegrityError, connection, connections, transaction
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
from billing.periods import CALENDAR_ID, months_of, tier_threshold_kwh
from billing.prices import PRICE_NAMES, PRICE_TABLE
from billing.quantities import (
    Figures,
    Items,
    bounding_reads,
    day_versions,
    figures_compute,
    periods_kwh_all,
)
from billing.rows import insert_rows
from meters.models import BillingCycle, ServiceDeliveryPoint, VeeSettings
from meters.reads.day_arrays import DAY_S
from meters.reads.intervals import local_range_utc
from meters.registry.enrollment import split_at_enrollment
from meters.registry.terms import Terms, sdps_in_cycle, spans, terms_by_sdp, terms_on
from portal.access import Actor
from portal.audit import audit
from portal.calendar.localtime import day_number
from portal.tenancy import LDC

CHUNK_METERS = 1000  # meters per read of stored days (and per transaction of a refresh)
READERS = 2  # connections reading stored days and computing the next parts (PostgreSQL)
WRITERS = 2  # connections storing the parts of a new batch at once (PostgreSQL, bench/billing.py)
REGISTER_WINDOW_S = 7 * DAY_S  # how far from the period a bounding register read may be
MAX_PERIOD_DAYS = 62


class BillingError(ValueError):
    """A billing rule said no (answered as a domain error by the API)."""


@dataclass(slots=True)
class NewRequest:
    """A request of a new batch until its chunk is stored (then it has a pk): what the
    computation and the COPY need, without a model instance per SDP (~35 µs each)."""

    sdp_id: int
    plan: str
    start: dt.date
    end: dt.date
    pk: int | None = None
    status: str = Status.PENDING


@dataclass
class Target:
    """One meter's part of one request (``not_enrolled``: a span before the SDP's TOU billing
    start, refused rather than computed; ``tou_billing_from``: that start, if any)."""

    request: BillingQuantityRequest | NewRequest
    meter_id: int
    start: dt.date
    end: dt.date
    not_enrolled: bool = False
    tou_billing_from: dt.date | None = None
    # The SDP's terms in effect over the span (meters.registry.terms): a span is cut where
    # they change, so that each quantity has one plan, multiplier and rate class.
    plan: str = ""
    multiplier: float = 1.0
    rate_class: str = ""
    bidirectional: bool = False  # net metering: the received channel is billed too

    @property
    def key(self) -> tuple[int | None, int, dt.date]:
        return (self.request.pk, self.meter_id, self.start)


@dataclass
class RefreshOutcome:
    """What a refresh did."""

    requests: int = 0
    updated: int = 0
    created: int = 0
    replaced: int = 0
    notices: list[ReplacementNotice] = field(default_factory=list)


_PLANS = frozenset(Plan.values)


def plan_of(sdp: ServiceDeliveryPoint, plan: str | None = None, on: dt.date | None = None) -> str:
    """The plan asked for, or the SDP's commodity rate class in effect on ``on`` (its first
    day; TOU when it has none)."""
    if plan or on is None:
        return _checked_plan(plan or sdp.commodity_rate_class)
    return _plans_on(sdp.ldc_id, [sdp.pk], on)[sdp.pk]


def _plans_on(ldc: LDC | int, sdp_ids: list[int], on: dt.date) -> dict[int, str]:
    """SDP pk -> its plan in effect on local date ``on`` (bulk)."""
    rows = terms_by_sdp(ldc=ldc, sdp_ids=sdp_ids, last_day=on)
    return {pk: _checked_plan(_term(rows.get(pk, []), on).commodity_rate_class) for pk in sdp_ids}


def _term(rows: list[Terms], day: dt.date) -> Terms:
    found = terms_on(rows, day) or (rows[0] if rows else None)
    return found or Terms(day, "", "", Decimal(1), None, None)


def _checked_plan(chosen: str | None) -> str:
    chosen = chosen or Plan.TOU
    if chosen not in _PLANS:
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
        plan=plan_of(sdp, plan, on=start),
        defaults={"ldc": ldc, "requested_by": actor.label if actor else "system"},
    )
    targets = _targets(ldc, [request])
    if not targets:
        raise BillingError(f"no meter installed at {sdp.sdp_id} between {start} and {end}")
    _apply(ldc, [request], targets, reason="recomputed on request")
    request.refresh_from_db()
    return request


def _targets(ldc: LDC, requests: Sequence[BillingQuantityRequest | NewRequest]) -> list[Target]:
    """Each request's meters from the installation history (effective dates are local), each
    meter's span cut at the SDP's TOU billing start: the days before it are refused."""
    out: list[Target] = []
    by_period: dict[tuple[dt.date, dt.date], list[BillingQuantityRequest | NewRequest]] = {}
    for request in requests:
        by_period.setdefault((request.start, request.end), []).append(request)
    sdp_ids = {r.sdp_id for r in requests}
    starts, bidirectional = selectors.enrollment_and_direction(ldc=ldc, sdp_ids=sdp_ids)
    last = max((r.end for r in requests), default=None)
    terms = terms_by_sdp(ldc=ldc, sdp_ids=sdp_ids, last_day=last)
    for (start, end), group in by_period.items():
        installed = selectors.installations(
            ldc=ldc, sdp_ids=[r.sdp_id for r in group], start=start, end=end
        )
        for request in group:
            tou_from = starts.get(request.sdp_id)
            rows = terms.get(request.sdp_id, [])
            # A request made for the SDP's own plan follows its terms day by day; one made for
            # another plan (a comparison) keeps that plan throughout.
            follows = request.plan == _checked_plan(_term(rows, start).commodity_rate_class)
            for meter, first, last in installed.get(request.sdp_id, []):
                before, billed = split_at_enrollment(first, last, tou_from)
                if before is not None:
                    out.append(Target(request, meter, *before, True, tou_from, request.plan))
                if billed is None:
                    continue
                for a, b, t in spans(rows, *billed):
                    t = t or _term(rows, a)
                    plan = _checked_plan(t.commodity_rate_class) if follows else request.plan
                    out.append(Target(request, meter, a, b, False, tou_from, plan))
                    out[-1].multiplier, out[-1].rate_class = t.multiplier, t.rate_class
                    out[-1].bidirectional = request.sdp_id in bidirectional
    return out


def _refused(target: Target) -> dict[str, Any]:
    """The figures of a span before the SDP's TOU billing start: nothing computed."""
    start = target.tou_billing_from
    message = (
        f"not enrolled: TOU billing starts on {start.isoformat()}"
        if start is not None
        else "not enrolled: the SDP is in no enrollment group with a TOU billing start"
    )
    return {
        "status": Status.REFUSED,
        "plan": target.plan or target.request.plan,
        "service_multiplier": target.multiplier,
        "pending_reasons": [
            {
                "code": "not_enrolled",
                "tou_billing_from": start.isoformat() if start is not None else None,
                "message": message,
            }
        ],
        "periods_kwh": {},
        "total_kwh": 0.0,
        "received_periods_kwh": {},
        "received_total_kwh": None,
        "net_total_kwh": None,
        "estimated_share": 0.0,
        "quality": "refused",
        "register_reads": {"start": None, "end": None},
        "intervals_expected": 0,
        "intervals_valid": 0,
        "inputs": {},
    }


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
    # A batch has few distinct periods: convert each once, not once per meter.
    span_of = {(t.start, t.end): (0, 0) for t in targets}
    for start, end in span_of:
        span_of[(start, end)] = local_range_utc(start, end, tz)
    spans_utc = [span_of[(t.start, t.end)] for t in targets]
    multiplier = np.array([t.multiplier for t in targets], np.float64)
    return Items(
        meter=np.array([t.meter_id for t in targets], np.int64),
        first=np.array([s[0] for s in spans_utc], np.int64),
        after=np.array([s[1] for s in spans_utc], np.int64),
        plan=np.array([t.plan or t.request.plan for t in targets], dtype="U8"),
        tier1_kwh=np.array(
            [
                tier1_threshold_kwh(t.rate_class, t.start, t.end)
                if (t.plan or t.request.plan) == Plan.TIERED
                else 0.0
                for t in targets
            ]
        ),
        multiplier=multiplier,
    )


def quantities_compute(*, ldc: LDC, targets: list[Target]) -> list[dict[str, Any]]:
    """The figures of each target (fields of BillingQuantity), reading meters in chunks."""
    tz = ZoneInfo(ldc.time_zone)
    out: list[dict[str, Any]] = [{} for _ in targets]
    for i, target in enumerate(targets):
        if target.not_enrolled:
            out[i] = _refused(target)
    billed = [i for i, t in enumerate(targets) if not t.not_enrolled]
    order = sorted(billed, key=lambda i: targets[i].meter_id)
    meta = _inputs_meta(ldc) if billed else {}
    for lo in range(0, len(order), CHUNK_METERS):
        part = order[lo : lo + CHUNK_METERS]
        chunk = [targets[i] for i in part]
        for i, figures in zip(part, _compute_chunk(ldc, chunk, tz, meta), strict=True):
            out[i] = figures
    return out


def _inputs_meta(ldc: LDC) -> dict[str, Any]:
    """What every quantity of a computation records besides its days: the RPP calendar, the
    LDC's VEE settings (as last saved) and the OEB price sets in force."""
    saved = VeeSettings.objects.filter(ldc=ldc).values_list("updated_at", flat=True).first()
    table = selectors.price_table()
    return {
        "calendar": CALENDAR_ID,
        "vee_settings": saved.isoformat() if saved else "defaults",
        "price_sets": [p.effective.isoformat() for p in table],
    }


def _compute_chunk(
    ldc: LDC, targets: list[Target], tz: ZoneInfo, meta: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
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
    rows = _rows(items, figures, reads, before, following)
    versions = day_versions(blocks, items)
    for i, (row, target) in enumerate(zip(rows, targets, strict=True)):
        row["inputs"] = {
            "days": {"1": versions[i]},
            "plan": str(items.plan[i]),
            "service_multiplier": target.multiplier,
            "rate_class": target.rate_class,
            "tier1_kwh": float(items.tier1_kwh[i]),
            "bidirectional": target.bidirectional,
            **(meta or {}),
        }
    _add_received(ldc, targets, items, rows, tz)
    return rows


def _add_received(
    ldc: LDC, targets: list[Target], items: Items, rows: list[dict[str, Any]], tz: ZoneInfo
) -> None:
    """Net metering: a bidirectional SDP's received channel (2) beside its delivered figures,
    computed the same way (numpy over the chunk's stored days), and delivered minus received.
    Billing quantity data covers the electricity conveyed into the distribution system too
    (O. Reg. 393/07 s. 0.1 (b), as amended by O. Reg. 133/23). A received channel not complete
    holds the quantity back like the delivered one."""
    for row in rows:
        row.update(received_periods_kwh={}, received_total_kwh=None, net_total_kwh=None)
    two = np.flatnonzero(np.array([t.bidirectional for t in targets], bool))
    if not two.size:
        return
    sub = Items(
        meter=items.meter[two],
        first=items.first[two],
        after=items.after[two],
        plan=items.plan[two],
        tier1_kwh=items.tier1_kwh[two],
        multiplier=None if items.multiplier is None else items.multiplier[two],
    )
    first, after = int(sub.first.min()), int(sub.after.max())
    blocks = selectors.day_rows(
        ldc=ldc,
        meter_ids=sorted(set(sub.meter.tolist())),
        first_day=first // DAY_S,
        last_day=(after - 1) // DAY_S,
        channel=2,
    )
    got = figures_compute(blocks, sub, tz)
    received_versions = day_versions(blocks, sub)
    complete = got.complete(sub).tolist()
    missing = got.missing(sub).tolist()
    periods = periods_kwh_all(got, sub)
    for j, i in enumerate(two.tolist()):
        row = rows[i]
        received = int(got.total_wh[j])
        row["received_periods_kwh"] = periods[j]
        row["received_total_kwh"] = received / 1000
        row["net_total_kwh"] = round(row["total_kwh"] - received / 1000, 3)
        if "inputs" in row:
            row["inputs"]["days"]["2"] = received_versions[j]
        if not complete[j]:
            reasons = [
                {**r, "code": f"received_{r['code']}", "message": f"received: {r['message']}"}
                for r in _reasons(got, sub, j, missing[j])
            ]
            row.update(status=Status.PENDING, quality="incomplete")
            row["pending_reasons"] = [*row["pending_reasons"], *reasons]


def _read(reads: tuple[np.ndarray, ...], index: int) -> dict[str, Any] | None:
    if index < 0:
        return None
    at = dt.datetime.fromtimestamp(int(reads[1][index]), dt.UTC)
    return {"read_at": at.isoformat().replace("+00:00", "Z"), "kwh": int(reads[2][index]) / 1000}


def _reasons(figures: Figures, items: Items, i: int, missing: int) -> list[dict[str, Any]]:
    expected = int((items.after[i] - items.first[i]) // (figures.minutes[i] * 60))
    counts = (
        ("missing_intervals", missing, f"of {expected} intervals have no reading yet"),
        (
            "not_validated",
            figures.unvalidated[i],
            "intervals are not validated yet (VEE has not run on them)",
        ),
        (
            "failed_validation",
            figures.failed[i],
            "intervals failed validation (open VEE exceptions)",
        ),
    )
    return [
        {"code": code, "intervals": int(n), "message": f"{int(n)} {text}"}
        for code, n, text in counts
        if n
    ]


def _rows(
    items: Items,
    figures: Figures,
    reads: tuple[np.ndarray, ...],
    before: np.ndarray,
    following: np.ndarray,
) -> list[dict[str, Any]]:
    """The fields of BillingQuantity of every item: arrays to Python values once per column."""
    complete = figures.complete(items).tolist()
    missing = figures.missing(items).tolist()
    totals = figures.total_wh.tolist()
    estimated_wh = figures.estimated_wh.tolist()
    edited_wh = figures.edited_wh.tolist()
    expected = ((items.after - items.first) // 60 // figures.minutes).tolist()
    valid = figures.valid.tolist()
    periods = periods_kwh_all(figures, items)
    plans = items.plan.tolist()
    multipliers = (
        items.multiplier if items.multiplier is not None else np.ones(len(items))
    ).tolist()
    read_of: dict[int, dict[str, Any] | None] = {-1: None}
    for index in {*before.tolist(), *following.tolist()} - {-1}:
        read_of[index] = _read(reads, index)
    out = []
    for i, (ok, total, estimated) in enumerate(zip(complete, totals, estimated_wh, strict=True)):
        if not ok:
            quality = "incomplete"
        elif estimated:
            quality = "estimated"
        else:
            quality = "edited" if edited_wh[i] else "actual"
        out.append(
            {
                "status": Status.COMPLETE if ok else Status.PENDING,
                "plan": plans[i],
                "service_multiplier": multipliers[i],
                "pending_reasons": [] if ok else _reasons(figures, items, i, missing[i]),
                "periods_kwh": periods[i],
                "total_kwh": total / 1000,
                "estimated_share": round(estimated / total, 6) if total > 0 else 0.0,
                "quality": quality,
                "register_reads": {
                    "start": read_of[int(before[i])],
                    "end": read_of[int(following[i])],
                },
                "intervals_expected": expected[i],
                "intervals_valid": valid[i],
            }
        )
    return out


_FIGURE_FIELDS = (
    "status",
    "plan",
    "service_multiplier",
    "pending_reasons",
    "periods_kwh",
    "total_kwh",
    "received_periods_kwh",
    "received_total_kwh",
    "net_total_kwh",
    "estimated_share",
    "quality",
    "register_reads",
    "intervals_expected",
    "intervals_valid",
    "inputs",
)


def _differs(quantity: BillingQuantity, figures: dict[str, Any]) -> bool:
    return any(getattr(quantity, name) != figures[name] for name in _FIGURE_FIELDS)


def _billed_differ(released: BillingQuantity, figures: dict[str, Any]) -> bool:
    """Would a billing system bill differently (a new version is due)?"""
    return (
        released.periods_kwh != figures["periods_kwh"]
        or released.total_kwh != figures["total_kwh"]
        or released.received_total_kwh != figures["received_total_kwh"]
        or released.received_periods_kwh != figures["received_periods_kwh"]
        or released.estimated_share != figures["estimated_share"]
        or figures["status"] == Status.PENDING
    )


def _latest(
    ldc: LDC, requests: Sequence[BillingQuantityRequest | NewRequest]
) -> dict[tuple[int | None, int, dt.date], Any]:
    rows = selectors.with_ids(
        BillingQuantity.objects.for_ldc(ldc),
        "request",
        [r.pk for r in requests if r.pk is not None],
    ).select_related("meter")
    latest: dict[tuple[int | None, int, dt.date], BillingQuantity] = {}
    for row in rows.order_by("version"):
        latest[(row.request_id, row.meter_id, row.start)] = row
    return latest


def _apply(
    ldc: LDC,
    requests: Sequence[BillingQuantityRequest | NewRequest],
    targets: list[Target],
    *,
    reason: str,
    computed: list[dict[str, Any]] | None = None,
    fresh: bool = False,
) -> RefreshOutcome:
    """Store the targets' figures: in place, as version 1, or as a new version with a notice.

    ``fresh``: the requests were just made in this transaction with their final status (no
    quantity can exist yet: each is a version 1, and no request changes status).
    """
    outcome = RefreshOutcome(requests=len(requests))
    if computed is None:
        computed = quantities_compute(ldc=ldc, targets=targets)
    now = timezone.now()
    if fresh:
        first = [
            {
                "ldc_id": ldc.pk,
                "request_id": target.request.pk,
                "meter_id": target.meter_id,
                "version": 1,
                "start": target.start,
                "end": target.end,
                "computed_at": now,
                **figures,
            }
            for target, figures in zip(targets, computed, strict=True)
        ]
        insert_rows(BillingQuantity, first, pks=False)
        outcome.created = len(first)
        return outcome
    latest = _latest(ldc, requests)
    new: list[dict[str, Any]] = []  # field attname -> value: no model instance per new row
    changed: list[BillingQuantity] = []
    successors: list[tuple[int, BillingQuantity, Target]] = []  # (index in new, old, target)
    for target, figures in zip(targets, computed, strict=True):
        row = latest.get(target.key)
        if row is None or (row.is_released and _billed_differ(row, figures)):
            if row is not None:
                successors.append((len(new), row, target))
            new.append(
                {
                    "ldc_id": ldc.pk,
                    "request_id": target.request.pk,
                    "meter_id": target.meter_id,
                    "version": 1 if row is None else row.version + 1,
                    "start": target.start,
                    "end": target.end,
                    "computed_at": now,
                    **figures,
                }
            )
        elif not row.is_released and (_differs(row, figures) or row.end != target.end):
            for name, value in figures.items():
                setattr(row, name, value)
            row.end, row.computed_at = target.end, now
            changed.append(row)
    _drop_unreleased_gone(latest, {t.key for t in targets})
    insert_rows(BillingQuantity, new, pks=bool(successors))  # pks only for notices
    BillingQuantity.objects.bulk_update(
        changed, [*_FIGURE_FIELDS, "end", "computed_at"], batch_size=2000
    )
    replaced = []
    for at, old, target in successors:
        values = {k: v for k, v in new[at].items() if k != "request_id"}
        # Not fresh: every request here is a stored BillingQuantityRequest (NewRequest is only
        # ever applied fresh, which returned above).
        request = cast(BillingQuantityRequest, target.request)
        successor = BillingQuantity(request=request, **values)  # values hold the pk
        successor._state.adding = False
        replaced.append((old, successor))
    outcome.created, outcome.updated = len(new), len(changed)
    outcome.notices = _replace(ldc, replaced, reason, now)
    outcome.replaced = len(replaced)
    states: dict[int | None, set[str]] = {}
    for target, figures in zip(targets, computed, strict=True):
        row = latest.get(target.key)
        kept = row is not None and row.is_released and not _billed_differ(row, figures)
        status = Status.RELEASED if kept else figures["status"]
        states.setdefault(target.request.pk, set()).add(status)
    _request_status(ldc, cast(Sequence[BillingQuantityRequest], requests), now, states)
    return outcome


def _drop_unreleased_gone(
    latest: dict[tuple[int | None, int, dt.date], BillingQuantity],
    keys: set[tuple[int | None, int, dt.date]],
) -> None:
    """Quantities no target makes any more (a span moved: a meter exchange or a TOU billing
    start changed), not yet released: nothing was billed by them, they go."""
    gone = [row.pk for key, row in latest.items() if key not in keys and not row.is_released]
    if gone:
        BillingQuantity.objects.filter(pk__in=gone).delete()


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
    requests: Sequence[BillingQuantityRequest],
    now: dt.datetime,
    states: dict[int | None, set[str]] | None = None,
) -> None:
    """A request is pending while any current quantity is; released when all are."""
    if states is None:
        states = {}
        for (request_id, _, _), row in _latest(ldc, requests).items():
            states.setdefault(request_id, set()).add(row.status)
    moved: dict[str, list[BillingQuantityRequest]] = {}
    for request in requests:
        status = _overall(states.get(request.pk, _NONE))
        if request.status != status:
            moved.setdefault(status, []).append(request)
    for status, changed in moved.items():
        ids = [r.pk for r in changed]
        selectors.with_ids(BillingQuantityRequest.objects.for_ldc(ldc), "id", ids).update(
            status=status, updated_at=now
        )
        for request in changed:
            request.status = status


_NONE: frozenset[str] = frozenset({Status.PENDING})  # a request without quantities waits


def _overall(states: Set[str]) -> str:
    """A request's status from its quantities': refused spans count only when all are."""
    if states == {Status.REFUSED}:
        return Status.REFUSED
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
    parts = [requests[lo : lo + CHUNK_METERS] for lo in range(0, len(requests), CHUNK_METERS)]
    for part, targets, computed in _computed_parts(ldc, parts):
        with transaction.atomic():
            done = _apply(ldc, part, targets, reason=reason, computed=computed)
        outcome.requests += done.requests
        outcome.updated += done.updated
        outcome.created += done.created
        outcome.replaced += done.replaced
        outcome.notices += done.notices
    return outcome


def _second_connection(parts: int) -> bool:
    """May work on several parts go to threads with their own connections? On PostgreSQL, for
    more than one part, when the caller is in no transaction (whose writes those connections
    would not see, and which they could not join)."""
    return parts > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block


def _computed_parts(
    ldc: LDC,
    parts: list[Any],
    requests_of: Callable[[Any], list[Any]] = list,
) -> Generator[tuple[list[Any], list[Target], list[dict[str, Any]]]]:
    """Each part's requests (``requests_of(part)``), targets and figures, in order.

    On PostgreSQL, outside any transaction, the next parts are read and computed on READERS
    more connections (worker threads) while the caller stores this one, so the database server
    and Python work at once on two cores: one reader waits for its stored days while another
    computes (one reader alone was the critical path of a batch, bench/billing.py). Only
    committed rows are read (stored days, register reads, installations); inside a transaction,
    whose writes another connection would not see, the parts are computed one after the other
    on the caller's connection.
    """

    def compute(part: Any) -> tuple[list[Any], list[Target], list[Any]]:
        requests = requests_of(part)
        targets = _targets(ldc, requests)
        return requests, targets, quantities_compute(ldc=ldc, targets=targets)

    if not _second_connection(len(parts)):
        for part in parts:
            yield compute(part)
        return
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="billing-read") as pool:
        ahead: deque[Future[tuple[list[Any], list[Target], list[Any]]]] = deque()
        try:
            waiting = iter(parts)
            ahead.extend(pool.submit(compute, part) for part in islice(waiting, READERS))
            while ahead:
                result = ahead.popleft().result()
                ahead.extend(pool.submit(compute, part) for part in islice(waiting, 1))
                yield result
        finally:
            for future in ahead:  # stopped early: parts not started are dropped ...
                future.cancel()
            for future in ahead:  # ... and those being computed finish on their connection
                if not future.cancelled():
                    future.exception()
            # Each worker's own connection (django.db.connections are per thread).
            for closer in [pool.submit(_close_after, b) for b in _barriers(READERS)]:
                closer.result()


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
    current = [q for q in _latest(request.ldc, [request]).values() if q.status != Status.REFUSED]
    pending = [q for q in current if q.status == Status.PENDING]
    if pending:
        raise BillingError("the request is still pending: " + _why(pending))
    if not current:
        raise BillingError("nothing to release: the SDP is not TOU-billed in this period")
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
    # (pk, plan) pairs, not SDP instances: a batch builds no model instance per SDP.
    # The SDPs whose terms on the period's last day name the cycle, with their plan on its first.
    sdps = [
        (pk, _checked_plan(commodity))
        for pk, commodity in sdps_in_cycle(ldc=ldc, cycle_id=cycle.pk, start=start, end=end)
    ]
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
    label, reason = batch.requested_by, "batch request"
    existing = _requests_existing(ldc, [pk for pk, _ in sdps], start, end)
    if existing:
        requests = _requests_ensure(ldc, sdps, start, end, batch=batch, label=label)
        billing_quantities_refresh(ldc=ldc, requests=requests, reason=reason)
        return batch
    # A new period for the cycle: each chunk's requests are stored with their quantities and
    # final status (no second write of every request, bench/billing.py).
    now = timezone.now()

    def requests_of(part: list[tuple[int, str]]) -> list[NewRequest]:
        # Made part by part, on the reader's side of the pipeline below.
        return [NewRequest(pk, plan, start, end) for pk, plan in part]

    sdps.sort()  # neighbouring meters in a part: their stored days are read by pk range
    parts = [sdps[lo : lo + CHUNK_METERS] for lo in range(0, len(sdps), CHUNK_METERS)]
    computed_parts = _computed_parts(ldc, parts, requests_of)

    def store(part: list[NewRequest], targets: list[Target], computed: Any) -> None:
        _store_fresh(ldc, part, targets, computed, batch=batch, now=now, reason=reason)

    if not _second_connection(len(parts)):
        for part, targets, computed in computed_parts:
            store(part, targets, computed)
        return batch
    # Stages at once: reader threads compute parts n+1 and n+2 while writer threads (each with
    # its own connection) store parts n and n-1, so the server's reads, COPY and commit work
    # (foreign-key checks) overlap the Python of the other parts.
    with (
        closing(computed_parts),  # its reader threads stop with us, even on an error
        ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="billing-write") as writer,
    ):
        stored: list[Future[None]] = []
        try:
            for part, targets, computed in computed_parts:
                if len(stored) >= WRITERS:
                    stored.pop(0).result()  # an error stops the batch here
                # In the caller's context: an audit event written there says how it came.
                context = contextvars.copy_context()
                stored.append(writer.submit(context.run, store, part, targets, computed))
            for done in stored:
                done.result()
        finally:
            for done in stored:  # let the parts being stored finish, then close the connections
                done.exception()
            closers = [writer.submit(_close_after, barrier) for barrier in _barriers(WRITERS)]
            for closer in closers:
                closer.result()
    return batch


def _barriers(n: int) -> list[threading.Barrier]:
    barrier = threading.Barrier(n)
    return [barrier] * n


def _close_after(barrier: threading.Barrier) -> None:
    """Close this thread's connections once every worker thread of its pool has got here (so
    each thread runs one closer)."""
    barrier.wait(timeout=60)
    connections.close_all()


def _store_fresh(
    ldc: LDC,
    part: list[NewRequest],
    targets: list[Target],
    computed: list[dict[str, Any]],
    *,
    batch: BillingBatch,
    now: dt.datetime,
    reason: str,
) -> None:
    """Store new requests with their final status and their quantities, in one transaction."""
    states: dict[int, set[str]] = {}
    for target, figures in zip(targets, computed, strict=True):
        states.setdefault(id(target.request), set()).add(figures["status"])
    for request in part:
        request.status = _overall(states.get(id(request), _NONE))
    rows = [
        {
            "ldc_id": ldc.pk,
            "sdp_id": request.sdp_id,
            "start": request.start,
            "end": request.end,
            "plan": request.plan,
            "status": request.status,
            "batch_id": batch.pk,
            "requested_by": batch.requested_by,
            "created_at": now,
            "updated_at": now,
        }
        for request in part
    ]
    try:
        with transaction.atomic():
            for request, pk in zip(part, insert_rows(BillingQuantityRequest, rows), strict=True):
                request.pk = pk
            _apply(ldc, part, targets, reason=reason, computed=computed, fresh=True)
    except IntegrityError:  # another batch made some of them meanwhile: take theirs
        taken = _requests_ensure(
            ldc,
            [(r.sdp_id, r.plan) for r in part],
            batch.start,
            batch.end,
            batch=batch,
            label=batch.requested_by,
        )
        billing_quantities_refresh(ldc=ldc, requests=taken, reason=reason)


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
    label = actor.label if actor else (batch.requested_by if batch else "system")
    by_pk = {sdp.pk: sdp for sdp in sdps}
    plans = _plans_on(ldc, list(by_pk), start)  # each SDP's plan on the period's first day
    requests = _requests_ensure(
        ldc,
        [(sdp.pk, plan) for sdp in sdps for plan in [plans[sdp.pk]]],
        start,
        end,
        batch=batch,
        label=label,
    )
    for request in requests:
        request.sdp = by_pk[request.sdp_id]  # the SDP we hold: no join, no second instance
    return requests


def _requests_existing(
    ldc: LDC, sdp_ids: list[int], start: dt.date, end: dt.date
) -> dict[int, BillingQuantityRequest]:
    """SDP pk -> its request for the period, where one exists."""
    rows = selectors.with_ids(BillingQuantityRequest.objects.for_ldc(ldc), "sdp", sdp_ids)
    return {request.sdp_id: request for request in rows.filter(start=start, end=end)}


def _requests_ensure(
    ldc: LDC,
    sdps: list[tuple[int, str]],
    start: dt.date,
    end: dt.date,
    *,
    batch: BillingBatch | None,
    label: str,
) -> list[BillingQuantityRequest]:
    """billing_requests_ensure for (SDP pk, plan) pairs, ordered by pk."""
    existing = _requests_existing(ldc, [pk for pk, _ in sdps], start, end)
    now = timezone.now()
    missing = [
        BillingQuantityRequest(
            ldc=ldc,
            sdp_id=pk,
            start=start,
            end=end,
            plan=plan,
            batch=batch,
            requested_by=label,
            created_at=now,
            updated_at=now,
        )
        for pk, plan in sdps
        if pk not in existing
    ]
    try:
        with transaction.atomic():
            insert_rows(BillingQuantityRequest, missing)
    except IntegrityError:  # another batch made some meanwhile: take theirs
        BillingQuantityRequest.objects.bulk_create(missing, batch_size=2000, ignore_conflicts=True)
        return _requests_ensure(ldc, sdps, start, end, batch=batch, label=label)
    if batch is not None and existing:
        selectors.with_ids(
            BillingQuantityRequest.objects.for_ldc(ldc), "id", [r.pk for r in existing.values()]
        ).update(batch=batch)
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
