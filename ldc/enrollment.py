"""Enrollment groups ("Customer group n"): SDPs enrolled in the repository together, then billed
by TOU from one date. Services (audited) and selectors; every write is bulk SQL, never a query
per SDP. Enrollment is possible only once the LDC is in Production.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from ldc.models import EnrollmentGroup, EnrollmentGroupSdp
from meters.models import ServiceDeliveryPoint
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC, Stage

BATCH = 2000
MAX_UPLOAD_ROWS = 200_000
STEPS = ("registered", "enrolled", "educated", "tou_billing")
STEP_LABELS = {
    "registered": "SDPs registered",
    "enrolled": "Enrolled in the repository",
    "educated": "Customers educated",
    "tou_billing": "TOU billing start date",
}
CHANNELS = ("Letter", "E-mail", "Letter and e-mail", "Bill insert", "Web notice")


class UploadError(ValidationError):
    """An uploaded list of SDP ids had bad rows; ``rows`` holds (row number, message)."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        self.rows = rows
        super().__init__([f"row {n}: {message}" for n, message in rows])


@dataclass(frozen=True)
class SdpFilter:
    """Which SDPs a new group takes (blank: any)."""

    rate_class: str = ""
    commodity_rate_class: str = ""
    postal_prefix: str = ""
    billing_cycle: Any = None  # meters.BillingCycle of the LDC, or None

    def describe(self) -> str:
        parts = [
            f"rate class {self.rate_class}" if self.rate_class else "",
            f"commodity {self.commodity_rate_class}" if self.commodity_rate_class else "",
            f"postal codes {self.postal_prefix.upper()}…" if self.postal_prefix else "",
            f"billing cycle {self.billing_cycle}" if self.billing_cycle else "",
        ]
        return ", ".join(p for p in parts if p) or "all free SDPs"


def _require(actor: Actor, ldc: LDC) -> None:
    if not actor.can("enrollment.manage") or actor.ldc is None or actor.ldc.pk != ldc.pk:
        raise PermissionDenied("Your role does not allow enrollment.")


def _require_production(ldc: LDC) -> None:
    if ldc.stage != Stage.PRODUCTION:
        raise ValidationError(
            f"Enrollment is possible only once the LDC is in Production; "
            f"{ldc.name} is in {Stage(ldc.stage).label}."
        )


def held_sdp_ids(ldc: LDC) -> QuerySet[EnrollmentGroupSdp, Any]:
    """SDPs already in an active (or complete) group: a subquery, never materialised."""
    return EnrollmentGroupSdp.objects.for_ldc(ldc).filter(active=True).values("sdp_id")


def free_sdps(ldc: LDC, spec: SdpFilter | None = None) -> QuerySet[ServiceDeliveryPoint]:
    """Active SDPs of the LDC in no active group, narrowed by the filter."""
    sdps = (
        ServiceDeliveryPoint.objects.for_ldc(ldc)
        .filter(status=ServiceDeliveryPoint.Status.ACTIVE)
        .exclude(pk__in=held_sdp_ids(ldc))
    )
    if spec is None:
        return sdps
    if spec.rate_class:
        sdps = sdps.filter(rate_class=spec.rate_class)
    if spec.commodity_rate_class:
        sdps = sdps.filter(commodity_rate_class=spec.commodity_rate_class)
    if spec.postal_prefix:
        sdps = sdps.filter(postal_code__istartswith=spec.postal_prefix.strip())
    if spec.billing_cycle is not None:
        sdps = sdps.filter(billing_cycle=spec.billing_cycle)
    return sdps


def _new_group(ldc: LDC, name: str, actor: Actor) -> EnrollmentGroup:
    # Lock the tenant row: two groups created at once must not take the same number.
    LDC.objects.select_for_update().filter(pk=ldc.pk).first()
    last = EnrollmentGroup.objects.for_ldc(ldc).aggregate(n=Max("number"))["n"] or 0
    return EnrollmentGroup.objects.create(
        ldc=ldc, number=last + 1, name=name.strip(), created_by=actor.user
    )


def _add_members(group: EnrollmentGroup, sdp_ids: list[int]) -> None:
    EnrollmentGroupSdp.objects.bulk_create(
        (EnrollmentGroupSdp(ldc_id=group.ldc_id, group=group, sdp_id=pk) for pk in sdp_ids),
        batch_size=BATCH,
    )


@transaction.atomic
def group_create_from_filter(
    *, ldc: LDC, spec: SdpFilter, name: str = "", actor: Actor
) -> EnrollmentGroup:
    """A new group of every free SDP the filter selects."""
    _require(actor, ldc)
    _require_production(ldc)
    sdp_ids = list(free_sdps(ldc, spec).values_list("pk", flat=True))
    if not sdp_ids:
        raise ValidationError(f"No free SDP matches ({spec.describe()}).")
    group = _new_group(ldc, name, actor)
    _add_members(group, sdp_ids)
    audit(
        action="enrollment_group.created",
        actor=actor,
        ldc=ldc,
        obj=group,
        after={"filter": spec.describe(), "sdps": len(sdp_ids)},
    )
    return group


def read_sdp_ids(stream: IO[bytes]) -> list[tuple[int, str]]:
    """(row number, SDP id) of an uploaded CSV: one SDP id in the first column; an optional
    header row 'sdp_id'; blank lines skipped."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    rows = []
    for number, record in enumerate(csv.reader(text), start=1):
        value = record[0].strip() if record else ""
        if number == 1 and value.lower().replace(" ", "_") in {"sdp_id", "sdp"}:
            continue
        if value:
            rows.append((number, value))
        if len(rows) > MAX_UPLOAD_ROWS:
            raise UploadError([(number, f"more than {MAX_UPLOAD_ROWS:,} rows")])
    return rows


def _check_rows(ldc: LDC, rows: list[tuple[int, str]]) -> tuple[list[int], list[tuple[int, str]]]:
    """SDP pks of the rows, and the bad rows with why (two queries per batch of ids)."""
    ids = [value for _, value in rows]
    known: dict[str, tuple[int, str]] = {}
    held: set[int] = set()
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        sdps = ServiceDeliveryPoint.objects.for_ldc(ldc).filter(sdp_id__in=chunk)
        known.update(
            (sdp_id, (pk, st)) for sdp_id, pk, st in sdps.values_list("sdp_id", "pk", "status")
        )
        held.update(
            held_sdp_ids(ldc).filter(sdp__sdp_id__in=chunk).values_list("sdp_id", flat=True)
        )
    seen: dict[str, int] = {}
    pks, errors = [], []
    for number, value in rows:
        if value in seen:
            errors.append((number, f"{value} is repeated (first on row {seen[value]})"))
        elif value not in known:
            errors.append((number, f"{value} is not an SDP of {ldc.name}"))
        elif known[value][1] != ServiceDeliveryPoint.Status.ACTIVE:
            errors.append((number, f"{value} is inactive"))
        elif known[value][0] in held:
            errors.append((number, f"{value} is already in an active group"))
        else:
            pks.append(known[value][0])
        seen.setdefault(value, number)
    return pks, errors


@transaction.atomic
def group_create_from_upload(
    *, ldc: LDC, stream: IO[bytes], name: str = "", actor: Actor
) -> EnrollmentGroup:
    """A new group of the SDP ids listed in a CSV; any bad row stores nothing."""
    _require(actor, ldc)
    _require_production(ldc)
    try:
        rows = read_sdp_ids(stream)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UploadError([(0, f"not a UTF-8 CSV file ({exc})")]) from exc
    if not rows:
        raise UploadError([(1, "the file lists no SDP id")])
    pks, errors = _check_rows(ldc, rows)
    if errors:
        raise UploadError(errors)
    group = _new_group(ldc, name, actor)
    _add_members(group, pks)
    audit(
        action="enrollment_group.created",
        actor=actor,
        ldc=ldc,
        obj=group,
        after={"upload_rows": len(rows), "sdps": len(pks)},
    )
    return group


def _members(group: EnrollmentGroup) -> QuerySet[ServiceDeliveryPoint]:
    return ServiceDeliveryPoint.objects.for_ldc(group.ldc_id).filter(
        pk__in=EnrollmentGroupSdp.objects.filter(group=group).values("sdp_id")
    )


def _locked(group: EnrollmentGroup) -> EnrollmentGroup:
    group = EnrollmentGroup.objects.select_for_update().select_related("ldc").get(pk=group.pk)
    if group.status == EnrollmentGroup.Status.CANCELLED:
        raise ValidationError(f"{group} is cancelled.")
    return group


def _record(group: EnrollmentGroup, step: str, actor: Actor, after: dict[str, Any]) -> None:
    if all(_step_done(group, s) for s in STEPS):
        group.status = EnrollmentGroup.Status.COMPLETE
        group.save(update_fields=["status"])
        after = {**after, "status": group.status}
    audit(action=f"enrollment_group.{step}", actor=actor, ldc=group.ldc, obj=group, after=after)


@transaction.atomic
def group_mark_registered(*, group: EnrollmentGroup, actor: Actor) -> EnrollmentGroup:
    """Step 1: every SDP of the group is registered in the repository's registry."""
    _require(actor, group.ldc)
    group = _locked(group)
    _require_production(group.ldc)
    group.registered_at = group.registered_at or timezone.now()
    group.save(update_fields=["registered_at"])
    _record(group, "registered", actor, {"registered_at": group.registered_at.isoformat()})
    return group


@transaction.atomic
def group_enroll(*, group: EnrollmentGroup, on: dt.date, actor: Actor) -> EnrollmentGroup:
    """Step 2: the group's SDPs are enrolled in the repository on ``on`` (sets SDP.enrolled_on)."""
    _require(actor, group.ldc)
    group = _locked(group)
    _require_production(group.ldc)
    if group.registered_at is None:
        raise ValidationError("Mark the SDPs registered before enrolling them.")
    count = _members(group).update(enrolled_on=on)
    group.enrolled_at = timezone.now()
    group.save(update_fields=["enrolled_at"])
    _record(group, "enrolled", actor, {"enrolled_on": on.isoformat(), "sdps": count})
    return group


@transaction.atomic
def group_educate(
    *, group: EnrollmentGroup, on: dt.date, channel: str, actor: Actor
) -> EnrollmentGroup:
    """Step 3: the group's customers were told about TOU (letters / e-mails sent on ``on``)."""
    _require(actor, group.ldc)
    group = _locked(group)
    if not channel.strip():
        raise ValidationError("Say how the customers were told (letter, e-mail…).")
    group.educated_on = on
    group.education_channel = channel.strip()[:60]
    group.save(update_fields=["educated_on", "education_channel"])
    _record(group, "educated", actor, {"educated_on": on.isoformat(), "channel": channel})
    return group


@transaction.atomic
def group_set_tou_start(*, group: EnrollmentGroup, start: dt.date, actor: Actor) -> EnrollmentGroup:
    """Step 4: the date TOU billing starts for the group (sets SDP.tou_billing_from)."""
    _require(actor, group.ldc)
    group = _locked(group)
    _require_production(group.ldc)
    if group.enrolled_at is None:
        raise ValidationError("Enroll the SDPs in the repository before setting TOU billing.")
    enrolled_on = _members(group).aggregate(on=Max("enrolled_on"))["on"] or timezone.localdate(
        group.enrolled_at
    )
    if start < enrolled_on:
        # TOU billing uses the repository's billing quantities, so it starts once enrolled.
        raise ValidationError(
            f"TOU billing cannot start on {start:%Y-%m-%d}: the group was enrolled in the "
            f"repository on {enrolled_on:%Y-%m-%d}."
        )
    count = _members(group).update(tou_billing_from=start)
    group.tou_billing_start = start
    group.save(update_fields=["tou_billing_start"])
    _record(group, "tou_billing", actor, {"tou_billing_start": start.isoformat(), "sdps": count})
    return group


@transaction.atomic
def group_cancel(*, group: EnrollmentGroup, actor: Actor) -> EnrollmentGroup:
    """Cancel a group not yet enrolled: its SDPs are free for another group."""
    _require(actor, group.ldc)
    group = _locked(group)
    if group.enrolled_at is not None:
        raise ValidationError(f"{group} is already enrolled in the repository; it stays.")
    group.status = EnrollmentGroup.Status.CANCELLED
    group.save(update_fields=["status"])
    # Its SDPs are TOU-billed on no date any more (meters.registry.enrollment).
    _members(group).update(tou_billing_from=None)
    freed = EnrollmentGroupSdp.objects.filter(group=group, active=True).update(active=False)
    audit(
        action="enrollment_group.cancelled",
        actor=actor,
        ldc=group.ldc,
        obj=group,
        after={"freed_sdps": freed},
    )
    return group


def groups_from_registry(*, ldc: LDC, sdp_ids_by_date: dict[dt.date, list[int]]) -> None:
    """SDPs the registry file says were TOU-billed before the LDC came to OpenMDMR (column
    ``tou_billing_from``): kept as an enrollment group of their own per date, already through
    every step, audited. SDPs already in an active group stay in theirs."""
    held = set(held_sdp_ids(ldc).values_list("sdp_id", flat=True))
    now = timezone.now()
    for day, pks in sorted(sdp_ids_by_date.items()):
        free = sorted(set(pks) - held)
        if not free:
            continue
        LDC.objects.select_for_update().filter(pk=ldc.pk).first()
        last = EnrollmentGroup.objects.for_ldc(ldc).aggregate(n=Max("number"))["n"] or 0
        group = EnrollmentGroup.objects.create(
            ldc=ldc,
            number=last + 1,
            name=f"TOU-billed before OpenMDMR (from {day:%Y-%m-%d})",
            status=EnrollmentGroup.Status.COMPLETE,
            registered_at=now,
            enrolled_at=now,
            educated_on=day,
            education_channel="Before OpenMDMR",
            tou_billing_start=day,
        )
        _add_members(group, free)
        ServiceDeliveryPoint.objects.for_ldc(ldc).filter(
            pk__in=EnrollmentGroupSdp.objects.filter(group=group).values("sdp_id"),
            enrolled_on__isnull=True,
        ).update(enrolled_on=day)
        held.update(free)
        audit(
            action="enrollment_group.from_registry",
            actor=None,
            ldc=ldc,
            obj=group,
            after={"tou_billing_start": day.isoformat(), "sdps": len(free)},
        )


# ---------------------------------------------------------------------------------------------
# Selectors


def _step_done(group: EnrollmentGroup, step: str) -> bool:
    return {
        "registered": group.registered_at is not None,
        "enrolled": group.enrolled_at is not None,
        "educated": group.educated_on is not None,
        "tou_billing": group.tou_billing_start is not None,
    }[step]


def groups_with_counts(ldc: LDC) -> QuerySet[EnrollmentGroup]:
    """The LDC's groups with SDP counts (in the group, enrolled, TOU-billed), in one query."""
    return (
        EnrollmentGroup.objects.for_ldc(ldc)
        .annotate(
            sdp_count=Count("members"),
            enrolled_count=Count("members", filter=Q(members__sdp__enrolled_on__isnull=False)),
            tou_count=Count("members", filter=Q(members__sdp__tou_billing_from__isnull=False)),
        )
        .order_by("number")
    )


def group_progress(group: EnrollmentGroup) -> dict[str, Any]:
    """The four steps of a group (done?, when) and the share done."""
    steps: list[dict[str, Any]] = [
        {"key": "registered", "when": group.registered_at},
        {"key": "enrolled", "when": group.enrolled_at},
        {"key": "educated", "when": group.educated_on, "detail": group.education_channel},
        {"key": "tou_billing", "when": group.tou_billing_start},
    ]
    for step in steps:
        step["label"] = STEP_LABELS[step["key"]]
        step["done"] = step["when"] is not None
    done = sum(s["done"] for s in steps)
    return {"steps": steps, "done": done, "share": done / len(steps)}


def enrollment_summary(ldc: LDC) -> dict[str, Any]:
    """Counts of the LDC's enrollment: groups, SDPs in groups, enrolled, on TOU billing."""
    sdps = ServiceDeliveryPoint.objects.for_ldc(ldc)
    figures = sdps.aggregate(
        total=Count("pk"),
        enrolled=Count("pk", filter=Q(enrolled_on__isnull=False)),
        tou=Count("pk", filter=Q(tou_billing_from__isnull=False)),
    )
    figures["in_groups"] = held_sdp_ids(ldc).count()
    return figures
