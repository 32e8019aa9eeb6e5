"""Province-wide rollout monitoring for the SME's coordinators: selectors, targets, snapshots.

Aggregates only: every figure here is a count or a rate per LDC (or for the province), never one
customer's SDP, meter or reads. Every query groups by LDC, so a page costs the same number of
queries for 4 LDCs as for 80 (tests/portal/test_rollout.py asserts it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ldc.stages import submitted_stages
from meters.models import ServiceDeliveryPoint, VeeException
from meters.read_success import (
    PerDay,
    installed_counts,
    read_success,
    success_pct,
    window,
)
from meters.reads.spool import OBLIGATION_PCT
from meters.registry.enrollment import tou_billed_on
from meters.registry.sync import POSTAL_CODE
from portal.access import Actor
from portal.audit import audit
from portal.models import RolloutMetric, RolloutSnapshot, RolloutTarget
from portal.tenancy import LDC, STAGE_ORDER, Stage

TOP_N = 12


@dataclass(frozen=True)
class SizeClass:
    key: str
    label: str
    low: int  # customers, inclusive
    high: int | None  # inclusive; None: no upper bound
    short: str = ""  # for chart axes


SIZE_CLASSES = (
    SizeClass("over_1m", "Over 1,000,000", 1_000_001, None, "> 1M"),
    SizeClass("100k_1m", "100,000 – 1,000,000", 100_000, 1_000_000, "100k – 1M"),
    SizeClass("10k_100k", "10,000 – 99,999", 10_000, 99_999, "10k – 100k"),
    SizeClass("1k_10k", "1,000 – 9,999", 1_000, 9_999, "1k – 10k"),
    SizeClass("under_1k", "Under 1,000", 0, 999, "< 1k"),
)


def size_class_of(customers: int) -> SizeClass:
    for size in SIZE_CLASSES:
        if customers >= size.low and (size.high is None or customers <= size.high):
            return size
    return SIZE_CLASSES[-1]


@dataclass
class LdcRow:
    """One LDC's line of the rollout table (aggregates only)."""

    ldc_id: int
    slug: str
    name: str
    status: str
    mdmr_org_id: str
    customers: int
    stage: str
    stage_entered_at: dt.datetime
    wave: int | None
    meters_installed: int = 0
    sdps_registered: int = 0
    sdps_enrolled: int = 0
    tou_billed: int = 0
    read_success_pct: float | None = None
    reads_delivered: int = 0  # of the last 7 days, for the province's weighted rate
    reads_expected: int = 0
    open_exceptions: int = 0
    no_rate_class: int = 0
    invalid_postal_code: int = 0
    awaiting_sign_off: bool = False
    today: dt.date = field(default_factory=timezone.localdate)

    @property
    def meters_pct(self) -> float | None:
        return round(100.0 * self.meters_installed / self.customers, 1) if self.customers else None

    @property
    def dq_issues(self) -> int:
        return self.no_rate_class + self.invalid_postal_code

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label if self.stage in STAGE_ORDER else self.stage

    @property
    def stage_position(self) -> int:
        return STAGE_ORDER.index(self.stage) if self.stage in STAGE_ORDER else -1

    @property
    def days_in_stage(self) -> int:
        return max(0, (self.today - timezone.localdate(self.stage_entered_at)).days)

    @property
    def size_class(self) -> SizeClass:
        return size_class_of(self.customers)

    @property
    def meets_obligation(self) -> bool | None:
        if self.read_success_pct is None:
            return None
        return self.read_success_pct >= OBLIGATION_PCT


# ---------------------------------------------------------------------------------------------
# Aggregate queries: one each, grouped by LDC.


def _sdp_counts(today: dt.date) -> dict[int, dict[str, int]]:
    rows = (
        ServiceDeliveryPoint.objects.order_by()
        .values("ldc_id")
        .annotate(
            sdps_registered=Count("pk", filter=Q(status=ServiceDeliveryPoint.Status.ACTIVE)),
            sdps_enrolled=Count("pk", filter=Q(enrolled_on__lte=today)),
            tou_billed=Count("pk", filter=tou_billed_on(today)),
            no_rate_class=Count("pk", filter=Q(rate_class="")),
            invalid_postal_code=Count("pk", filter=~Q(postal_code__regex=POSTAL_CODE.pattern)),
        )
    )
    return {row.pop("ldc_id"): row for row in rows}


def _open_exceptions() -> dict[int, int]:
    rows = (
        VeeException.objects.filter(status=VeeException.Status.OPEN)
        .order_by()
        .values("ldc_id")
        .annotate(n=Count("pk"))
    )
    return {row["ldc_id"]: row["n"] for row in rows}


def _reporting(ldc: LDC, per_day: PerDay | None) -> PerDay | None:
    """The LDC's days, or None while it has not begun to send reads before production (the
    obligation counts from the first delivery; an LDC in production always counts)."""
    if not per_day or ldc.status == LDC.Status.PRODUCTION or ldc.stage == Stage.PRODUCTION:
        return per_day
    return per_day if any(v.received for v in per_day.values()) else None


def ldc_rows(today: dt.date | None = None) -> list[LdcRow]:
    """Every LDC's rollout line, in a fixed number of queries whatever the number of LDCs."""
    today = today or timezone.localdate()
    days = window(today - dt.timedelta(days=1))
    sdps = _sdp_counts(today)
    installed = installed_counts([today])
    exceptions = _open_exceptions()
    reads = read_success(days)
    waiting = set(submitted_stages().items())
    rows = []
    for ldc in LDC.objects.order_by("name"):
        per_day = _reporting(ldc, reads.get(ldc.pk))
        row = LdcRow(
            ldc_id=ldc.pk,
            slug=ldc.slug,
            name=ldc.name,
            status=ldc.status,
            mdmr_org_id=ldc.mdmr_org_id,
            customers=ldc.customer_base,
            stage=ldc.stage,
            stage_entered_at=ldc.stage_entered_at,
            wave=ldc.enrollment_wave,
            meters_installed=installed.get(ldc.pk, [0])[0],
            read_success_pct=success_pct(per_day),
            reads_delivered=sum(v.delivered for v in (per_day or {}).values()),
            reads_expected=sum(v.expected for v in (per_day or {}).values()),
            open_exceptions=exceptions.get(ldc.pk, 0),
            awaiting_sign_off=(ldc.pk, ldc.stage) in waiting,
            today=today,
        )
        for name, value in sdps.get(ldc.pk, {}).items():
            setattr(row, name, value)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Province figures, funnel, size classes, the largest LDCs' share, trends.

FIGURES = (
    ("customers", "Customers (residential + GS < 50 kW)"),
    (RolloutMetric.METERS_INSTALLED.value, RolloutMetric.METERS_INSTALLED.label),
    (RolloutMetric.SDPS_REGISTERED.value, RolloutMetric.SDPS_REGISTERED.label),
    (RolloutMetric.SDPS_ENROLLED.value, RolloutMetric.SDPS_ENROLLED.label),
    (RolloutMetric.TOU_BILLED.value, RolloutMetric.TOU_BILLED.label),
)


def current_targets() -> dict[str, RolloutTarget]:
    return {t.metric: t for t in RolloutTarget.objects.filter(superseded_at__isnull=True)}


def _province_pct(rows: list[LdcRow]) -> float | None:
    """The province's read success: every LDC's reads delivered over its reads expected."""
    expected = sum(r.reads_expected for r in rows)
    return round(100.0 * sum(r.reads_delivered for r in rows) / expected, 2) if expected else None


def province_totals(rows: list[LdcRow], targets: dict[str, RolloutTarget]) -> dict[str, Any]:
    """The province's figures, each with its target (if set) and the share of it reached."""
    total = {key: sum(getattr(r, key) for r in rows) for key, _ in FIGURES}
    figures = []
    for key, label in FIGURES:
        target = targets.get(key)
        pct = round(100.0 * total[key] / target.value, 1) if target and target.value else None
        of_base = round(100.0 * total[key] / total["customers"], 1) if total["customers"] else None
        figures.append(
            {"key": key, "label": label, "value": total[key], "target": target, "pct": pct}
            | {"of_base": of_base if key != "customers" else None}
        )
    read = [r.read_success_pct for r in rows if r.read_success_pct is not None]
    return {
        "ldcs": len(rows),
        "read_success_pct": _province_pct(rows),
        "production": sum(1 for r in rows if r.stage == Stage.PRODUCTION),
        "figures": figures,
        "below_obligation": sum(1 for r in rows if r.meets_obligation is False),
        "reporting": len(read),
        **total,
    }


def stage_funnel(rows: list[LdcRow]) -> list[dict[str, Any]]:
    """LDCs at each stage, and at or past it (the funnel), in stage order."""
    at = dict.fromkeys(STAGE_ORDER, 0)
    for row in rows:
        if row.stage in at:
            at[row.stage] += 1
    out, past = [], len(rows)
    for stage in STAGE_ORDER:
        out.append({"stage": stage, "label": Stage(stage).label, "at": at[stage], "reached": past})
        past -= at[stage]
    return out


def size_classes(rows: list[LdcRow]) -> list[dict[str, Any]]:
    """LDCs and customers per size class, from over a million customers to under a thousand."""
    base = sum(r.customers for r in rows) or 1
    out = []
    for size in SIZE_CLASSES:
        members = [r for r in rows if r.size_class.key == size.key]
        customers = sum(r.customers for r in members)
        out.append(
            {
                "key": size.key,
                "label": size.label,
                "short": size.short,
                "ldcs": len(members),
                "customers": customers,
                "share_pct": round(100.0 * customers / base, 1),
                "meters_installed": sum(r.meters_installed for r in members),
            }
        )
    return out


def top_share(rows: list[LdcRow], n: int = TOP_N) -> dict[str, Any]:
    """The ``n`` largest LDCs by customer base and their share of the province's base."""
    ranked = sorted(rows, key=lambda r: (-r.customers, r.name))
    top = ranked[:n]
    base = sum(r.customers for r in rows)
    customers = sum(r.customers for r in top)
    return {
        "n": n,
        "ldcs": [{"name": r.name, "customers": r.customers} for r in top],
        "customers": customers,
        "rest": base - customers,
        "share_pct": round(100.0 * customers / base, 1) if base else None,
    }


def province_trend(weeks: int = 52) -> list[RolloutSnapshot]:
    """The province's weekly snapshots, oldest first."""
    latest = RolloutSnapshot.objects.filter(ldc__isnull=True).order_by("-week")[:weeks]
    return list(reversed(list(latest)))


def ldc_trend(ldc: LDC, weeks: int = 52) -> list[RolloutSnapshot]:
    latest = RolloutSnapshot.objects.filter(ldc=ldc).order_by("-week")[:weeks]
    return list(reversed(list(latest)))


# ---------------------------------------------------------------------------------------------
# The per-LDC table: filters, sorting, CSV.

SORT_KEYS = {
    "name": lambda r: r.name.lower(),
    "customers": lambda r: r.customers,
    "meters": lambda r: r.meters_installed,
    "meters_pct": lambda r: r.meters_pct if r.meters_pct is not None else -1,
    "registered": lambda r: r.sdps_registered,
    "enrolled": lambda r: r.sdps_enrolled,
    "tou": lambda r: r.tou_billed,
    "stage": lambda r: (r.stage_position, r.days_in_stage),
    "days": lambda r: r.days_in_stage,
    "wave": lambda r: r.wave if r.wave is not None else 10_000,
    "reads": lambda r: r.read_success_pct if r.read_success_pct is not None else -1,
    "exceptions": lambda r: r.open_exceptions,
    "dq": lambda r: r.dq_issues,
}


def filter_rows(
    rows: Iterable[LdcRow],
    *,
    stage: str = "",
    wave: str = "",
    size: str = "",
    q: str = "",
) -> list[LdcRow]:
    """Rows matching every given filter (wave "none": no wave assigned)."""
    out = list(rows)
    if stage:
        out = [r for r in out if r.stage == stage]
    if wave == "none":
        out = [r for r in out if r.wave is None]
    elif wave.isdigit():
        out = [r for r in out if r.wave == int(wave)]
    if size:
        out = [r for r in out if r.size_class.key == size]
    if q:
        needle = q.strip().lower()
        out = [r for r in out if needle in f"{r.name} {r.slug} {r.mdmr_org_id}".lower()]
    return out


def sort_rows(rows: list[LdcRow], sort: str) -> list[LdcRow]:
    """Sorted by a SORT_KEYS key; a leading '-' sorts descending; unknown keys sort by name."""
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key, sort = "name", "name"
    ordered = sorted(rows, key=lambda r: r.name.lower())  # stable tie-break
    return sorted(ordered, key=SORT_KEYS[key], reverse=sort.startswith("-"))


# The CSV's columns never change order or name: the SME's spreadsheets read them by position.
CSV_COLUMNS = (
    "ldc",
    "name",
    "mdmr_org_id",
    "status",
    "size_class",
    "customers",
    "meters_installed",
    "meters_installed_pct",
    "sdps_registered",
    "sdps_enrolled",
    "tou_billed",
    "stage",
    "days_in_stage",
    "enrollment_wave",
    "read_success_7d_pct",
    "meets_98_pct",
    "open_vee_exceptions",
    "sdps_without_rate_class",
    "invalid_postal_codes",
    "dq_issues",
)


def _csv_values(r: LdcRow) -> list[Any]:
    def blank(value: Any) -> Any:
        return "" if value is None else value

    meets = r.meets_obligation
    return [
        r.slug,
        r.name,
        r.mdmr_org_id,
        r.status,
        r.size_class.key,
        r.customers,
        r.meters_installed,
        blank(r.meters_pct),
        r.sdps_registered,
        r.sdps_enrolled,
        r.tou_billed,
        r.stage,
        r.days_in_stage,
        blank(r.wave),
        blank(r.read_success_pct),
        "" if meets is None else ("yes" if meets else "no"),
        r.open_exceptions,
        r.no_rate_class,
        r.invalid_postal_code,
        r.dq_issues,
    ]


def rows_csv(rows: Iterable[LdcRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_csv_values(row))
    return out.getvalue()


def api_row(r: LdcRow) -> dict[str, Any]:
    """One LDC's aggregates for the API: the CSV's columns as JSON values (null, not blank)."""
    row = dict(zip(CSV_COLUMNS, _csv_values(r), strict=True))
    row.update(
        meters_installed_pct=r.meters_pct,
        enrollment_wave=r.wave,
        read_success_7d_pct=r.read_success_pct,
        meets_98_pct=r.meets_obligation,
    )
    return row


# ---------------------------------------------------------------------------------------------
# Services: targets and the weekly snapshot (each audited).


@transaction.atomic
def rollout_target_set(
    *, metric: str, value: int, due_date: dt.date, note: str = "", actor: Actor | None
) -> RolloutTarget:
    """Set the province's target for a figure; the previous target is kept as history."""
    if metric not in RolloutMetric.values:
        raise ValueError(f"unknown rollout metric {metric!r}")
    now = timezone.now()
    previous = (
        RolloutTarget.objects.select_for_update()
        .filter(metric=metric, superseded_at__isnull=True)
        .first()
    )
    if previous is not None:
        RolloutTarget.objects.filter(pk=previous.pk).update(superseded_at=now)
    target = RolloutTarget.objects.create(
        metric=metric,
        value=value,
        due_date=due_date,
        note=note,
        set_by=actor.user if actor is not None else None,
        set_at=now,
    )
    audit(
        action="rollout.target_set",
        actor=actor,
        obj=target,
        before=_target_dict(previous) if previous else None,
        after=_target_dict(target),
    )
    return target


def _target_dict(target: RolloutTarget) -> dict[str, Any]:
    return {"metric": target.metric, "value": target.value, "due_date": str(target.due_date)}


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


SNAPSHOT_FIELDS = (
    "customers",
    "meters_installed",
    "sdps_registered",
    "sdps_enrolled",
    "tou_billed",
    "open_exceptions",
    "dq_issues",
)


@transaction.atomic
def rollout_snapshot_take(*, today: dt.date | None = None) -> int:
    """Write this week's snapshot (province and every LDC); taking it again in the same week
    replaces that week's rows, so the task is idempotent. Returns the rows written."""
    today = today or timezone.localdate()
    week = week_of(today)
    rows = ldc_rows(today)
    RolloutSnapshot.objects.filter(week=week).delete()
    now = timezone.now()
    snapshots = [
        RolloutSnapshot(
            week=week,
            ldc_id=r.ldc_id,
            taken_at=now,
            stage=r.stage,
            in_production=int(r.stage == Stage.PRODUCTION),
            read_success_pct=r.read_success_pct,
            **{name: getattr(r, name) for name in SNAPSHOT_FIELDS},
        )
        for r in rows
    ]
    province_pct = _province_pct(rows)
    snapshots.append(
        RolloutSnapshot(
            week=week,
            ldc=None,
            taken_at=now,
            ldcs=len(rows),
            in_production=sum(1 for r in rows if r.stage == Stage.PRODUCTION),
            read_success_pct=province_pct,
            **{name: sum(getattr(r, name) for r in rows) for name in SNAPSHOT_FIELDS},
        )
    )
    RolloutSnapshot.objects.bulk_create(snapshots)
    audit(
        action="rollout.snapshot_taken",
        actor=None,
        object_repr=f"rollout snapshot of the week of {week}",
        after={"week": str(week), "ldcs": len(rows)},
    )
    return len(snapshots)


# ---------------------------------------------------------------------------------------------
# Demo data: a target and a quarter of weekly history that grows into today's figures.

DEMO_WEEKS = 12


@transaction.atomic
def seed_rollout_demo() -> str:
    """Weekly snapshots for the last 12 weeks (ramping up to today's figures) and a target."""
    today = timezone.localdate()
    rollout_snapshot_take(today=today)
    current = {s.ldc_id: s for s in RolloutSnapshot.objects.filter(week=week_of(today))}
    history = []
    for back in range(1, DEMO_WEEKS):
        week = week_of(today) - dt.timedelta(weeks=back)
        if RolloutSnapshot.objects.filter(week=week).exists():
            continue
        share = (DEMO_WEEKS - back) / DEMO_WEEKS  # deterministic, linear growth
        for snap in current.values():
            history.append(_scaled(snap, week, share))
    RolloutSnapshot.objects.bulk_create(history)
    target = "kept"
    if not RolloutTarget.objects.filter(metric=RolloutMetric.TOU_BILLED).exists():
        customers = current[None].customers if None in current else 0
        rollout_target_set(
            metric=RolloutMetric.TOU_BILLED,
            value=max(1, int(customers * 0.8)),
            due_date=dt.date(today.year + 1, 5, 1),
            note="Demo: 80 % of the demo LDCs' customers on TOU billing by spring",
            actor=None,
        )
        target = "set"
    weeks = len({h.week for h in history})
    return f"Rollout: {weeks} past weeks of snapshots added; TOU billing target {target}."


def _scaled(snap: RolloutSnapshot, week: dt.date, share: float) -> RolloutSnapshot:
    grow = ("meters_installed", "sdps_registered", "sdps_enrolled", "tou_billed")
    values = {name: int(getattr(snap, name) * share) for name in grow}
    return RolloutSnapshot(
        week=week,
        ldc_id=snap.ldc_id,
        taken_at=dt.datetime.combine(week, dt.time(6), dt.UTC),
        ldcs=snap.ldcs,
        customers=snap.customers,
        stage=snap.stage,
        in_production=snap.in_production,
        read_success_pct=snap.read_success_pct,
        open_exceptions=snap.open_exceptions,
        dq_issues=snap.dq_issues,
        **values,
    )
