"""The MDM/R registration and enrollment stages of an LDC: services (each audited) and selectors.

An LDC passes the stages of ``STAGE_ORDER`` one by one: its staff work the current stage's
checklist (and the daily SIT/QT tests), submit it, and an SME coordinator signs it off (the next
stage starts) or returns it with a reason. A stage cannot be skipped: only the current stage (the
first not signed off) can be submitted, and only a submitted stage can be signed off.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from ldc.models import ChecklistItem, Evidence, LdcStage, TestDay
from meters.reads.ingest import sha256_of
from portal.access import Actor
from portal.audit import audit
from portal.calendar.holidays import business_days
from portal.tenancy import LDC, STAGE_ORDER, Membership, Stage

# The stage's checklist as the SME's registration and enrollment process lists it.
CHECKLISTS: dict[str, tuple[str, ...]] = {
    Stage.PREPARATION: (
        "Registration application submitted to the SME",
        "Organisation contacts named",
        "Authority delegated to agents (AMI operator, billing agent)",
    ),
    Stage.DEVELOPMENT: (
        "AMI procurement complete",
        "CIS upgraded for TOU billing quantities",
        "Customer web interface ready",
        "File-transfer set-up and internal testing",
        "Project plan agreed",
    ),
    Stage.SIT: ("SIT test scripts prepared", "SIT defects closed"),
    Stage.QT: ("QT billing cycles defined", "QT results reconciled with the CIS"),
    Stage.BPV: (
        "Business processes validated (reads, VEE exceptions, billing quantities)",
        "Staff trained on the MDM/R GUI",
    ),
    Stage.SELF_ASSESSMENT: ("Cut-over self-assessment (self-certification) signed",),
    Stage.CUTOVER: (
        "Cut-over plan executed",
        "Production read files delivered",
        "First billing quantities requested",
    ),
    Stage.PRODUCTION: (),
}
# Planned length of each stage in calendar days (the due date the timeline measures against).
PLANNED_DAYS: dict[str, int] = {
    Stage.PREPARATION: 30,
    Stage.DEVELOPMENT: 120,
    Stage.SIT: 16,
    Stage.QT: 28,
    Stage.BPV: 30,
    Stage.SELF_ASSESSMENT: 14,
    Stage.CUTOVER: 14,
    Stage.PRODUCTION: 0,
}
SIT_BUSINESS_DAYS = 10  # System Integration Testing: 10 business days of scripted tests
QT_DAYS = 21  # Qualification Testing: 21 consecutive days that mimic four billing cycles
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
# The coarse LDC.status that follows from the stage (the SME's funnels count by it).
STATUS_OF_STAGE: dict[str, str] = {
    Stage.PREPARATION: LDC.Status.REGISTERING,
    Stage.DEVELOPMENT: LDC.Status.REGISTERING,
    Stage.SIT: LDC.Status.TESTING,
    Stage.QT: LDC.Status.TESTING,
    Stage.BPV: LDC.Status.TESTING,
    Stage.SELF_ASSESSMENT: LDC.Status.TESTING,
    Stage.CUTOVER: LDC.Status.CUTOVER,
    Stage.PRODUCTION: LDC.Status.PRODUCTION,
}
OPEN_STATUSES = (LdcStage.Status.IN_PROGRESS, LdcStage.Status.RETURNED)


def _require(actor: Actor | None, capability: str) -> None:
    if actor is None or not actor.can(capability):
        raise PermissionDenied("Your role does not allow this.")


def _require_own(actor: Actor, ldc_id: int) -> None:
    """LDC staff act on their own LDC only (coordinators on any)."""
    if not actor.is_coordinator and (actor.ldc is None or actor.ldc.pk != ldc_id):
        raise PermissionDenied("Not your LDC.")


def test_dates(stage: str, start: dt.date) -> list[dt.date]:
    """The planned days of SIT (business days) or QT (consecutive days); none for other stages."""
    if stage == Stage.SIT:
        return business_days(start, SIT_BUSINESS_DAYS)
    if stage == Stage.QT:
        return [start + dt.timedelta(days=i) for i in range(QT_DAYS)]
    return []


test_dates.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# ---------------------------------------------------------------------------------------------
# Services


@transaction.atomic
def stages_ensure(*, ldc: LDC) -> list[LdcStage]:
    """Create the LDC's missing stage rows with their default checklists (idempotent).

    Stages before ``ldc.stage`` are recorded as signed off (an LDC that was provisioned past
    them), ``ldc.stage`` is in progress, the later ones not started. Planned due dates are chained
    from when the current stage was entered.
    """
    existing = {s.stage: s for s in LdcStage.objects.for_ldc(ldc)}
    if len(existing) == len(STAGE_ORDER):
        return [existing[s] for s in STAGE_ORDER]
    current = STAGE_ORDER.index(ldc.stage)
    start = timezone.localdate(ldc.stage_entered_at)
    plan = _planned_starts(current, start)
    created = []
    for position, stage in enumerate(STAGE_ORDER):
        if stage in existing:
            continue
        existing[stage] = _stage_create(ldc, stage, position, current, plan[position])
        created.append(stage)
    audit(action="ldc_stage.created", actor=None, ldc=ldc, obj=ldc, after={"stages": created})
    return [existing[s] for s in STAGE_ORDER]


def _planned_starts(current: int, start: dt.date) -> list[dt.date]:
    """Each stage's planned first day: back from the current stage's start, then forward."""
    starts = [start] * len(STAGE_ORDER)
    for i in range(current - 1, -1, -1):
        starts[i] = starts[i + 1] - dt.timedelta(days=PLANNED_DAYS[STAGE_ORDER[i]])
    for i in range(current + 1, len(STAGE_ORDER)):
        starts[i] = starts[i - 1] + dt.timedelta(days=PLANNED_DAYS[STAGE_ORDER[i - 1]])
    return starts


def _stage_create(ldc: LDC, stage: str, position: int, current: int, start: dt.date) -> LdcStage:
    past = position < current
    now = timezone.now()
    # A stage the LDC was provisioned past: recorded over its planned span, for the timeline.
    planned_start = dt.datetime.combine(start, dt.time(9), timezone.get_current_timezone())
    planned_end = min(now, planned_start + dt.timedelta(days=PLANNED_DAYS[stage]))
    row = LdcStage.objects.create(
        ldc=ldc,
        stage=stage,
        status=(
            LdcStage.Status.SIGNED_OFF
            if past
            else LdcStage.Status.IN_PROGRESS
            if position == current
            else LdcStage.Status.NOT_STARTED
        ),
        started_at=(
            ldc.stage_entered_at if position == current else planned_start if past else None
        ),
        due_date=start + dt.timedelta(days=PLANNED_DAYS[stage]) if PLANNED_DAYS[stage] else None,
        decided_at=planned_end if past else None,
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(
            ldc=ldc,
            ldc_stage=row,
            position=i,
            title=title,
            due_date=row.due_date,
            status=ChecklistItem.Status.DONE if past else ChecklistItem.Status.OPEN,
            done_at=planned_end if past else None,
        )
        for i, title in enumerate(CHECKLISTS[stage], start=1)
    )
    TestDay.objects.bulk_create(
        TestDay(
            ldc=ldc,
            ldc_stage=row,
            number=n,
            day=day,
            result=TestDay.Result.PASSED if past else TestDay.Result.NOT_RUN,
        )
        for n, day in enumerate(test_dates(stage, start), start=1)
    )
    return row


def current_stage(ldc: LDC) -> LdcStage | None:
    """The first stage not signed off (Production once everything before it is)."""
    rows = sorted(LdcStage.objects.for_ldc(ldc), key=lambda r: STAGE_ORDER.index(r.stage))
    return next((r for r in rows if r.status != LdcStage.Status.SIGNED_OFF), None)


# The BPV item that follows the training records rather than a click (ldc.training).
STAFF_TRAINED = "Staff trained on the MDM/R GUI"


def _untrained(ldc_id: int) -> list[str]:
    """E-mails of the LDC's staff without the course required for write access."""
    from ldc.training import staff_missing_required

    return [m.user.email for m in staff_missing_required(LDC.objects.get(pk=ldc_id))]


def _untrained_message(untrained: list[str]) -> str:
    shown = ", ".join(untrained[:5]) + (
        f" and {len(untrained) - 5} more" if len(untrained) > 5 else ""
    )
    return (
        f"'{STAFF_TRAINED}' follows the training records: {len(untrained)} staff have not "
        f"completed the required course ({shown})."
    )


def _records_missing(ldc_id: int) -> list[str]:
    """Preparation follows the SME's onboarding records (ldc/organisations.py, page
    /ldc/records/): the registration application is on file and every contact role is named."""
    from ldc.models import RegistrationApplication
    from ldc.organisations import contacts_missing

    missing = []
    if not RegistrationApplication.objects.for_ldc(ldc_id).exists():
        missing.append("the registration application is not on file (Onboarding records)")
    roles = contacts_missing(LDC.objects.get(pk=ldc_id))
    if roles:
        missing.append(f"no {', '.join(roles)} contact is named (Onboarding records)")
    return missing


def _missing(ldc_stage: LdcStage) -> list[str]:
    """What still stops a stage from being submitted, in words."""
    missing = [
        f"checklist item '{item.title}' is open"
        for item in ldc_stage.items.filter(status=ChecklistItem.Status.OPEN)
    ]
    if ldc_stage.stage == Stage.BPV:
        untrained = _untrained(ldc_stage.ldc_id)
        if untrained:
            missing.append(_untrained_message(untrained))
    if ldc_stage.stage == Stage.PREPARATION:
        missing += _records_missing(ldc_stage.ldc_id)
    days = ldc_stage.test_days.exclude(result=TestDay.Result.PASSED)
    missing += [f"test day {d.number} ({d.day}) is {d.get_result_display().lower()}" for d in days]
    return missing


@transaction.atomic
def stage_submit(*, ldc_stage: LdcStage, actor: Actor) -> LdcStage:
    """The LDC submits its current stage for the SME's sign-off once everything is done."""
    _require(actor, "stages.submit")
    _require_own(actor, ldc_stage.ldc_id)
    ldc_stage = LdcStage.objects.select_for_update().get(pk=ldc_stage.pk)
    if ldc_stage.stage == Stage.PRODUCTION:
        raise ValidationError("Production is the last stage: there is nothing to submit.")
    if ldc_stage.status not in OPEN_STATUSES:
        raise ValidationError(
            f"{ldc_stage.get_stage_display()} is {ldc_stage.get_status_display().lower()}: "
            "only the current stage can be submitted."
        )
    missing = _missing(ldc_stage)
    if missing:
        raise ValidationError(["Not ready to submit:", *missing])
    before = ldc_stage.status
    ldc_stage.status = LdcStage.Status.SUBMITTED
    ldc_stage.submitted_at = timezone.now()
    ldc_stage.submitted_by = actor.user
    ldc_stage.save(update_fields=["status", "submitted_at", "submitted_by"])
    audit(
        action="ldc_stage.submitted",
        actor=actor,
        ldc=ldc_stage.ldc,
        obj=ldc_stage,
        before={"status": before},
        after={"status": ldc_stage.status},
    )
    return ldc_stage


@transaction.atomic
def stage_sign_off(*, ldc_stage: LdcStage, actor: Actor) -> LdcStage:
    """The SME signs a submitted stage off; the next stage starts and the LDC moves on."""
    _require(actor, "stages.sign_off")
    ldc_stage = LdcStage.objects.select_for_update().select_related("ldc").get(pk=ldc_stage.pk)
    if ldc_stage.status != LdcStage.Status.SUBMITTED:
        raise ValidationError(
            f"{ldc_stage.get_stage_display()} is {ldc_stage.get_status_display().lower()}: "
            "only a submitted stage can be signed off."
        )
    now = timezone.now()
    ldc_stage.status = LdcStage.Status.SIGNED_OFF
    ldc_stage.decided_at = now
    ldc_stage.decided_by = actor.user
    ldc_stage.return_reason = ""
    ldc_stage.save(update_fields=["status", "decided_at", "decided_by", "return_reason"])
    ldc = ldc_stage.ldc
    before = {"stage": ldc.stage, "status": ldc.status}
    following = _start_next(ldc_stage, now)
    ldc.stage = following.stage if following else ldc_stage.stage
    ldc.stage_entered_at = now
    ldc.status = STATUS_OF_STAGE[ldc.stage]
    ldc.save(update_fields=["stage", "stage_entered_at", "status"])
    audit(
        action="ldc_stage.signed_off",
        actor=actor,
        ldc=ldc,
        obj=ldc_stage,
        before=before,
        after={"stage": ldc.stage, "status": ldc.status},
    )
    return ldc_stage


def _start_next(ldc_stage: LdcStage, now: dt.datetime) -> LdcStage | None:
    """Put the next stage in progress; its tests not yet run are planned from today."""
    position = STAGE_ORDER.index(ldc_stage.stage)
    if position + 1 >= len(STAGE_ORDER):
        return None
    following = LdcStage.objects.for_ldc(ldc_stage.ldc_id).get(stage=STAGE_ORDER[position + 1])
    following.status = LdcStage.Status.IN_PROGRESS
    following.started_at = now
    today = timezone.localdate(now)
    if PLANNED_DAYS[following.stage] and (following.due_date is None or following.due_date < today):
        following.due_date = today + dt.timedelta(days=PLANNED_DAYS[following.stage])
    following.save(update_fields=["status", "started_at", "due_date"])
    days = list(following.test_days.filter(result=TestDay.Result.NOT_RUN).order_by("number"))
    if days and days[0].day < today:
        for day, date in zip(days, test_dates(following.stage, today), strict=False):
            day.day = date
        TestDay.objects.bulk_update(days, ["day"])
    return following


@transaction.atomic
def stage_return(*, ldc_stage: LdcStage, reason: str, actor: Actor) -> LdcStage:
    """The SME returns a submitted stage to the LDC with the reason (the LDC fixes, resubmits)."""
    _require(actor, "stages.sign_off")
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the stage is returned.")
    ldc_stage = LdcStage.objects.select_for_update().get(pk=ldc_stage.pk)
    if ldc_stage.status != LdcStage.Status.SUBMITTED:
        raise ValidationError("Only a submitted stage can be returned.")
    ldc_stage.status = LdcStage.Status.RETURNED
    ldc_stage.return_reason = reason
    ldc_stage.decided_at = timezone.now()
    ldc_stage.decided_by = actor.user
    ldc_stage.save(update_fields=["status", "return_reason", "decided_at", "decided_by"])
    audit(
        action="ldc_stage.returned",
        actor=actor,
        ldc=ldc_stage.ldc,
        obj=ldc_stage,
        before={"status": LdcStage.Status.SUBMITTED},
        after={"status": ldc_stage.status, "reason": reason},
    )
    return ldc_stage


@transaction.atomic
def ldc_wave_assign(*, ldc: LDC, wave: int | None, actor: Actor) -> LDC:
    """The SME puts the LDC in an enrollment wave (None: no wave yet)."""
    _require(actor, "stages.sign_off")
    if wave is not None and wave < 1:
        raise ValidationError("A wave is a number from 1.")
    before = ldc.enrollment_wave
    if before == wave:
        return ldc
    ldc.enrollment_wave = wave
    ldc.save(update_fields=["enrollment_wave"])
    audit(
        action="ldc.wave_assigned",
        actor=actor,
        ldc=ldc,
        obj=ldc,
        before={"enrollment_wave": before},
        after={"enrollment_wave": wave},
    )
    return ldc


@transaction.atomic
def ldc_org_id_assign(*, ldc: LDC, mdmr_org_id: str, actor: Actor) -> LDC:
    """The SME answers the registration application with the LDC's MDM/R organisation id."""
    _require(actor, "stages.sign_off")
    mdmr_org_id = mdmr_org_id.strip()
    if mdmr_org_id and LDC.objects.exclude(pk=ldc.pk).filter(mdmr_org_id=mdmr_org_id).exists():
        raise ValidationError(f"{mdmr_org_id} is already another LDC's organisation id.")
    before = ldc.mdmr_org_id
    if before == mdmr_org_id:
        return ldc
    ldc.mdmr_org_id = mdmr_org_id
    ldc.save(update_fields=["mdmr_org_id"])
    audit(
        action="ldc.org_id_assigned",
        actor=actor,
        ldc=ldc,
        obj=ldc,
        before={"mdmr_org_id": before},
        after={"mdmr_org_id": mdmr_org_id},
    )
    return ldc


def _require_editable(ldc_stage: LdcStage) -> None:
    if ldc_stage.status not in OPEN_STATUSES:
        raise ValidationError(
            f"{ldc_stage.get_stage_display()} is {ldc_stage.get_status_display().lower()}: "
            "its checklist cannot change now."
        )


_UNSET: Any = object()


@transaction.atomic
def checklist_item_update(
    *,
    item: ChecklistItem,
    actor: Actor,
    status: str | None = None,
    owner: Any = _UNSET,
    due_date: dt.date | None = _UNSET,
    note: str | None = None,
) -> ChecklistItem:
    """Change a checklist item's status, owner (a member of the LDC), due date or note."""
    _require(actor, "stages.submit")
    _require_own(actor, item.ldc_id)
    _require_editable(item.ldc_stage)
    before = {"status": item.status, "owner": item.owner_id, "due_date": str(item.due_date)}
    if status is not None:
        if status not in ChecklistItem.Status.values:
            raise ValidationError(f"'{status}' is not a checklist status.")
        if status == ChecklistItem.Status.DONE and item.title == STAFF_TRAINED:
            untrained = _untrained(item.ldc_id)
            if untrained:
                raise ValidationError(_untrained_message(untrained))
        item.done_at = timezone.now() if status == ChecklistItem.Status.DONE else None
        item.status = status
    if owner is not _UNSET:
        if (
            owner is not None
            and not Membership.objects.for_ldc(item.ldc_id).filter(user=owner).exists()
        ):
            raise ValidationError("The owner must be a member of the LDC.")
        item.owner = owner
    if due_date is not _UNSET:
        item.due_date = due_date
    if note is not None:
        item.note = note
    item.save(update_fields=["status", "done_at", "owner", "due_date", "note"])
    after = {"status": item.status, "owner": item.owner_id, "due_date": str(item.due_date)}
    audit(
        action="checklist_item.updated",
        actor=actor,
        ldc=item.ldc,
        obj=item,
        before=before,
        after=after,
    )
    return item


@transaction.atomic
def evidence_upload(*, item: ChecklistItem, upload: File, actor: Actor) -> Evidence:
    """Keep a document as evidence of a checklist item (every upload kept, with its sha256)."""
    _require(actor, "stages.submit")
    _require_own(actor, item.ldc_id)
    _require_editable(item.ldc_stage)
    size = upload.size or 0
    if size > EVIDENCE_MAX_BYTES:
        raise ValidationError(
            f"The file is {size / 1_048_576:.1f} MB; evidence is limited to "
            f"{EVIDENCE_MAX_BYTES // 1_048_576} MB."
        )
    if size == 0:
        raise ValidationError("The file is empty.")
    name = (getattr(upload, "name", "") or "evidence").rsplit("/", 1)[-1][:255]
    evidence = Evidence(
        ldc_id=item.ldc_id,
        item=item,
        original_name=name,
        sha256=sha256_of(upload)[0],
        size_bytes=size,
        uploaded_by=actor.user,
    )
    evidence.file.save(name, upload, save=False)
    evidence.save()
    audit(
        action="evidence.uploaded",
        actor=actor,
        ldc=item.ldc,
        obj=evidence,
        after={"item": item.title, "sha256": evidence.sha256, "size_bytes": size},
    )
    return evidence


@transaction.atomic
def test_day_record(*, test_day: TestDay, result: str, note: str = "", actor: Actor) -> TestDay:
    """Record one SIT/QT day's outcome (passed or failed, with a note)."""
    _require(actor, "stages.submit")
    _require_own(actor, test_day.ldc_id)
    _require_editable(test_day.ldc_stage)
    if result not in TestDay.Result.values:
        raise ValidationError(f"'{result}' is not a test result.")
    today = timezone.localdate()
    if result != TestDay.Result.NOT_RUN and test_day.day > today:
        # A day's result is what happened on it (SIT/QT test scripts are run on the day).
        raise ValidationError(
            f"Test day {test_day.number} is on {test_day.day:%Y-%m-%d}; its result cannot be "
            f"recorded before that day (today is {today:%Y-%m-%d})."
        )
    before = test_day.result
    test_day.result = result
    test_day.note = note
    test_day.recorded_by = actor.user
    test_day.recorded_at = timezone.now()
    test_day.save(update_fields=["result", "note", "recorded_by", "recorded_at"])
    audit(
        action="test_day.recorded",
        actor=actor,
        ldc=test_day.ldc,
        obj=test_day,
        before={"result": before},
        after={"result": result, "note": note},
    )
    return test_day


test_day_record.__test__ = False  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Selectors


def _progress_by_stage(ldc: LDC) -> dict[int, tuple[int, int]]:
    """(done, total) of checklist items and test days per stage row, in two queries."""
    counts: dict[int, list[int]] = {}
    items = ChecklistItem.objects.for_ldc(ldc).values_list("ldc_stage_id", "status")
    for stage_id, status in items:
        pair = counts.setdefault(stage_id, [0, 0])
        pair[0] += status != ChecklistItem.Status.OPEN
        pair[1] += 1
    for stage_id, result in TestDay.objects.for_ldc(ldc).values_list("ldc_stage_id", "result"):
        pair = counts.setdefault(stage_id, [0, 0])
        pair[0] += result == TestDay.Result.PASSED
        pair[1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def stage_timeline(ldc: LDC) -> list[dict[str, Any]]:
    """Every stage in order: status, started, due, late?, progress (0..1), current?"""
    today = timezone.localdate()
    rows = {s.stage: s for s in LdcStage.objects.for_ldc(ldc)}
    progress = _progress_by_stage(ldc)
    timeline = []
    for position, stage in enumerate(STAGE_ORDER):
        row = rows.get(stage)
        done, total = progress.get(row.pk, (0, 0)) if row else (0, 0)
        status = row.status if row else LdcStage.Status.NOT_STARTED
        due = row.due_date if row else None
        signed_off = status == LdcStage.Status.SIGNED_OFF
        timeline.append(
            {
                "stage": stage,
                "label": Stage(stage).label,
                "position": position,
                "row": row,
                "status": status,
                "status_label": LdcStage.Status(status).label,
                "started": row.started_at if row else None,
                "due": due,
                "decided": row.decided_at if row else None,
                "late": bool(due and not signed_off and due < today),
                "done": done,
                "total": total,
                "progress": (done / total) if total else (1.0 if signed_off else 0.0),
                "current": stage == ldc.stage,
            }
        )
    return timeline


def submitted_stages() -> dict[int, str]:
    """LDC pk -> the stage it submitted and the SME has not yet decided (one query)."""
    return dict(
        LdcStage.objects.filter(status=LdcStage.Status.SUBMITTED).values_list("ldc_id", "stage")
    )


def late_items(ldc: LDC) -> list[ChecklistItem]:
    """Open checklist items past their due date, of stages not signed off, oldest first."""
    return list(
        ChecklistItem.objects.for_ldc(ldc)
        .filter(status=ChecklistItem.Status.OPEN, due_date__lt=timezone.localdate())
        .exclude(ldc_stage__status=LdcStage.Status.SIGNED_OFF)
        .select_related("ldc_stage", "owner")
        .order_by("due_date", "id")
    )


def next_deadline(ldc: LDC) -> dt.date | None:
    """The nearest due date of the current stage or of its open items."""
    dates = [
        d
        for d in ChecklistItem.objects.for_ldc(ldc)
        .filter(ldc_stage__stage=ldc.stage, status=ChecklistItem.Status.OPEN)
        .values_list("due_date", flat=True)
        if d
    ]
    stage_due = (
        LdcStage.objects.for_ldc(ldc).filter(stage=ldc.stage).values_list("due_date", flat=True)
    )
    dates += [d for d in stage_due if d]
    return min(dates) if dates else None
