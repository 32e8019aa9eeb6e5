"""The MDM/R stages: checklists, SIT/QT days, submit, sign-off and return, and their pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ldc import stages
from ldc.models import ChecklistItem, Evidence, LdcStage
from ldc.models import TestDay as SitQtDay
from portal.access import actor_for_user
from portal.models import AuditEvent
from portal.tenancy import LDC, STAGE_ORDER, Membership, Stage
from tests import factories

pytestmark = pytest.mark.django_db


def actor(world: Any, ldc: str = "north", role: str = "ldc_admin") -> Any:
    return actor_for_user(world.user(ldc, role))


def coordinator(world: Any) -> Any:
    return actor_for_user(world.coordinator)


def complete(ldc_stage: LdcStage, who: Any) -> None:
    """Every item done and every test day passed, through the services.

    The stage's test days are moved into the past first (a result is only recorded once its
    day has come), and for BPV every staff member completes the required course (the item
    'Staff trained' follows the training records).
    """
    days = list(ldc_stage.test_days.order_by("number"))
    today = timezone.localdate()
    for i, day in enumerate(days):
        day.day = today - dt.timedelta(days=len(days) - i)
        day.save(update_fields=["day"])
    if ldc_stage.stage == Stage.BPV:
        for m in Membership.objects.for_ldc(ldc_stage.ldc):
            factories.complete_required_course(m.user, ldc_stage.ldc)
    if ldc_stage.stage == Stage.PREPARATION:
        factories.onboarding_records(ldc_stage.ldc)
    for item in ldc_stage.items.all():
        stages.checklist_item_update(item=item, status="done", actor=who)
    for day in ldc_stage.test_days.all():
        stages.test_day_record(test_day=day, result="passed", actor=who)


def stage_of(ldc: LDC, stage: str) -> LdcStage:
    return LdcStage.objects.for_ldc(ldc).get(stage=stage)


def pass_stage(world: Any, stage: str) -> None:
    row = stage_of(world.north, stage)
    complete(row, actor(world))
    stages.stage_submit(ldc_stage=row, actor=actor(world))
    stages.stage_sign_off(ldc_stage=row, actor=coordinator(world))


def test_ensure_creates_every_stage_once_with_its_checklist(world: Any) -> None:
    rows = stages.stages_ensure(ldc=world.north)
    again = stages.stages_ensure(ldc=world.north)
    assert [r.stage for r in rows] == list(STAGE_ORDER) == [r.stage for r in again]
    assert LdcStage.objects.for_ldc(world.north).count() == len(STAGE_ORDER)
    assert [r.status for r in rows[:2]] == ["in_progress", "not_started"]
    titles = list(rows[0].items.values_list("title", flat=True))
    assert len(titles) == 3 and "Organisation contacts named" in titles
    assert rows[1].items.count() == 5
    assert AuditEvent.objects.for_ldc(world.north).filter(action="ldc_stage.created").count() == 1


def test_sit_has_ten_business_days_and_qt_twenty_one_consecutive(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    sit = list(stage_of(world.north, Stage.SIT).test_days.values_list("day", flat=True))
    qt = list(stage_of(world.north, Stage.QT).test_days.values_list("day", flat=True))
    assert len(sit) == 10 and all(d.weekday() < 5 for d in sit)
    assert len(qt) == 21 and (qt[-1] - qt[0]).days == 20


def test_business_days_skip_weekends_and_ontario_holidays() -> None:
    # 2026-12-24 is a Thursday; Christmas and Boxing Day (observed Monday 28th) are holidays.
    days = stages.business_days(dt.date(2026, 12, 24), 3)
    assert days == [dt.date(2026, 12, 24), dt.date(2026, 12, 29), dt.date(2026, 12, 30)]


def test_submit_names_what_is_missing(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    prep = stage_of(world.north, Stage.PREPARATION)
    with pytest.raises(ValidationError) as caught:
        stages.stage_submit(ldc_stage=prep, actor=actor(world))
    assert "Registration application submitted to the SME" in " ".join(caught.value.messages)


def test_a_stage_cannot_be_skipped(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    development = stage_of(world.north, Stage.DEVELOPMENT)
    with pytest.raises(ValidationError, match="only the current stage"):
        stages.stage_submit(ldc_stage=development, actor=actor(world))
    with pytest.raises(ValidationError):
        stages.checklist_item_update(
            item=development.items.first(), status="done", actor=actor(world)
        )


def test_sign_off_moves_the_ldc_on_and_keeps_status_in_step(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    pass_stage(world, Stage.PREPARATION)
    world.north.refresh_from_db()
    assert world.north.stage == Stage.DEVELOPMENT and world.north.status == "registering"
    assert stage_of(world.north, Stage.DEVELOPMENT).status == "in_progress"
    pass_stage(world, Stage.DEVELOPMENT)
    world.north.refresh_from_db()
    assert world.north.stage == Stage.SIT and world.north.status == "testing"
    first_sit_day = stage_of(world.north, Stage.SIT).test_days.first().day
    assert first_sit_day >= timezone.localdate() - dt.timedelta(days=1)
    actions = set(AuditEvent.objects.for_ldc(world.north).values_list("action", flat=True))
    assert {"ldc_stage.submitted", "ldc_stage.signed_off", "checklist_item.updated"} <= actions


def test_walking_every_stage_reaches_production(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    for stage in STAGE_ORDER[:-1]:
        pass_stage(world, stage)
    world.north.refresh_from_db()
    assert world.north.stage == Stage.PRODUCTION and world.north.status == "production"
    with pytest.raises(ValidationError, match="last stage"):
        stages.stage_submit(ldc_stage=stage_of(world.north, Stage.PRODUCTION), actor=actor(world))


def test_failed_test_day_blocks_submission(world: Any) -> None:
    world.north.stage = Stage.SIT
    world.north.save()
    stages.stages_ensure(ldc=world.north)
    sit = stage_of(world.north, Stage.SIT)
    assert stage_of(world.north, Stage.DEVELOPMENT).status == "signed_off"
    complete(sit, actor(world))
    day = sit.test_days.get(number=4)
    stages.test_day_record(test_day=day, result="failed", note="file rejected", actor=actor(world))
    with pytest.raises(ValidationError, match="test day 4"):
        stages.stage_submit(ldc_stage=sit, actor=actor(world))


def test_return_needs_a_reason_and_lets_the_ldc_resubmit(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    prep = stage_of(world.north, Stage.PREPARATION)
    complete(prep, actor(world))
    stages.stage_submit(ldc_stage=prep, actor=actor(world))
    with pytest.raises(ValidationError):
        stages.stage_return(ldc_stage=prep, reason="  ", actor=coordinator(world))
    stages.stage_return(ldc_stage=prep, reason="Contacts incomplete", actor=coordinator(world))
    prep.refresh_from_db()
    assert prep.status == "returned" and prep.return_reason == "Contacts incomplete"
    stages.stage_submit(ldc_stage=prep, actor=actor(world))
    assert stage_of(world.north, Stage.PREPARATION).status == "submitted"


def test_only_coordinators_sign_off_and_only_staff_submit(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    prep = stage_of(world.north, Stage.PREPARATION)
    complete(prep, actor(world))
    with pytest.raises(PermissionDenied):
        stages.stage_submit(ldc_stage=prep, actor=actor(world, role="billing_agent"))
    with pytest.raises(PermissionDenied):
        stages.stage_submit(ldc_stage=prep, actor=actor(world, ldc="south"))
    stages.stage_submit(ldc_stage=prep, actor=actor(world))
    with pytest.raises(PermissionDenied):
        stages.stage_sign_off(ldc_stage=prep, actor=actor(world))


def test_wave_and_org_id_are_assigned_by_the_sme_and_audited(world: Any) -> None:
    stages.ldc_wave_assign(ldc=world.north, wave=2, actor=coordinator(world))
    stages.ldc_org_id_assign(ldc=world.north, mdmr_org_id="MDMR-0200", actor=coordinator(world))
    with pytest.raises(ValidationError, match="already another LDC"):
        stages.ldc_org_id_assign(ldc=world.south, mdmr_org_id="MDMR-0200", actor=coordinator(world))
    with pytest.raises(PermissionDenied):
        stages.ldc_wave_assign(ldc=world.north, wave=3, actor=actor(world))
    world.north.refresh_from_db()
    assert (world.north.enrollment_wave, world.north.mdmr_org_id) == (2, "MDMR-0200")
    event = AuditEvent.objects.for_ldc(world.north).get(action="ldc.wave_assigned")
    assert event.before == {"enrollment_wave": None} and event.after == {"enrollment_wave": 2}


def test_evidence_is_kept_with_its_sha256_and_limited_in_size(
    world: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    stages.stages_ensure(ldc=world.north)
    item = stage_of(world.north, Stage.PREPARATION).items.first()
    upload = SimpleUploadedFile("application.pdf", b"%PDF-1.4 application", "application/pdf")
    evidence = stages.evidence_upload(item=item, upload=upload, actor=actor(world))
    again = stages.evidence_upload(
        item=item, upload=SimpleUploadedFile("application.pdf", b"v2"), actor=actor(world)
    )
    assert Evidence.objects.for_ldc(world.north).count() == 2 and evidence.pk != again.pk
    import hashlib

    assert evidence.sha256 == hashlib.sha256(b"%PDF-1.4 application").hexdigest()
    settings_limit = stages.EVIDENCE_MAX_BYTES
    stages.EVIDENCE_MAX_BYTES = 4
    try:
        with pytest.raises(ValidationError, match="limited to"):
            stages.evidence_upload(
                item=item, upload=SimpleUploadedFile("big.pdf", b"12345"), actor=actor(world)
            )
    finally:
        stages.EVIDENCE_MAX_BYTES = settings_limit


def test_timeline_and_late_items(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    prep = stage_of(world.north, Stage.PREPARATION)
    item = prep.items.first()
    stages.checklist_item_update(
        item=item, due_date=timezone.localdate() - dt.timedelta(days=2), actor=actor(world)
    )
    stages.checklist_item_update(item=prep.items.last(), status="n/a", actor=actor(world))
    timeline = stages.stage_timeline(world.north)
    assert [t["stage"] for t in timeline] == list(STAGE_ORDER)
    assert timeline[0]["current"] and timeline[0]["done"] == 1 and timeline[0]["total"] == 3
    assert [i.pk for i in stages.late_items(world.north)] == [item.pk]
    assert stages.next_deadline(world.north) == item.due_date
    LdcStage.objects.filter(pk=prep.pk).update(due_date=timezone.localdate() - dt.timedelta(days=1))
    assert stages.stage_timeline(world.north)[0]["late"]


# --- pages -----------------------------------------------------------------------------------


def test_stages_page_shows_where_the_ldc_stands(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "ami_operator"))
    response = client.get(reverse("ldc:stages"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Current stage: <strong>Preparation" in body and 'data-figure="stage-gantt"' in body


def test_stage_page_lists_the_checklist_and_sit_days(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "back_office"))
    body = client.get(reverse("ldc:stage-detail", args=["sit"])).content.decode()
    assert "SIT defects closed" in body and "Day 10" in body
    assert client.get(reverse("ldc:stage-detail", args=["nope"])).status_code == 404


def test_admin_completes_and_submits_through_the_pages(
    client: Any, world: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    factories.onboarding_records(world.north)
    client.force_login(world.user("north", "ldc_admin"))
    client.get(reverse("ldc:stages"))
    prep = stage_of(world.north, Stage.PREPARATION)
    owner = world.user("north", "back_office")
    for item in prep.items.all():
        response = client.post(
            reverse("ldc:item-update", args=["preparation", item.pk]),
            {"status": "done", "owner": owner.pk, "due_date": "2030-01-01", "note": "ok"},
        )
        assert response.status_code == 302
    item = prep.items.first()
    upload = SimpleUploadedFile("contacts.pdf", b"contacts")
    client.post(reverse("ldc:evidence-upload", args=["preparation", item.pk]), {"file": upload})
    evidence = Evidence.objects.for_ldc(world.north).get()
    download = client.get(reverse("ldc:evidence", args=[evidence.pk]))
    assert download.status_code == 200 and download.content == b"contacts"
    assert "contacts.pdf" in download["Content-Disposition"]
    assert client.post(reverse("ldc:stage-submit", args=["preparation"])).status_code == 302
    assert stage_of(world.north, Stage.PREPARATION).status == "submitted"
    assert ChecklistItem.objects.for_ldc(world.north).filter(owner=owner).count() == 3


def test_test_day_is_recorded_through_the_page(client: Any, world: Any) -> None:
    world.north.stage = Stage.QT
    world.north.save()
    client.force_login(world.user("north", "back_office"))
    client.get(reverse("ldc:stages"))
    SitQtDay.objects.for_ldc(world.north).filter(ldc_stage__stage="qt", number=3).update(
        day=timezone.localdate()
    )
    url = reverse("ldc:test-day", args=["qt", 3])
    assert client.post(url, {"result": "passed", "note": "cycle 1"}).status_code == 302
    day = SitQtDay.objects.for_ldc(world.north).get(ldc_stage__stage="qt", number=3)
    assert day.result == "passed" and day.recorded_by == world.user("north", "back_office")


def test_other_ldcs_evidence_is_not_found(
    client: Any, world: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    stages.stages_ensure(ldc=world.north)
    item = stage_of(world.north, Stage.PREPARATION).items.first()
    evidence = stages.evidence_upload(
        item=item, upload=SimpleUploadedFile("a.pdf", b"north"), actor=actor(world)
    )
    client.force_login(world.user("south", "ldc_admin"))
    assert client.get(reverse("ldc:evidence", args=[evidence.pk])).status_code == 404
    response = client.post(
        reverse("ldc:item-update", args=["preparation", item.pk]), {"status": "done"}
    )
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


def test_lower_roles_cannot_submit_or_edit(client: Any, world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    client.force_login(world.user("north", "billing_agent"))
    assert client.post(reverse("ldc:stage-submit", args=["preparation"])).status_code == 403
    item = stage_of(world.north, Stage.PREPARATION).items.first()
    url = reverse("ldc:item-update", args=["preparation", item.pk])
    assert client.post(url, {"status": "done"}).status_code == 403
    client.force_login(world.customer)
    assert client.get(reverse("ldc:stages")).status_code == 403


def test_coordinator_signs_off_and_returns_on_the_sme_pages(client: Any, world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    prep = stage_of(world.north, Stage.PREPARATION)
    complete(prep, actor(world))
    stages.stage_submit(ldc_stage=prep, actor=actor(world))
    client.force_login(world.coordinator)
    page = client.get(reverse("sme_onboarding:ldc-stages", args=["north"])).content.decode()
    assert "Sign off" in page
    detail = client.get(reverse("sme_onboarding:stage-detail", args=["north", "preparation"]))
    assert detail.status_code == 200
    client.post(reverse("sme_onboarding:return", args=["north", "preparation"]), {"reason": ""})
    assert stage_of(world.north, Stage.PREPARATION).status == "submitted"
    client.post(reverse("sme_onboarding:sign-off", args=["north", "preparation"]))
    world.north.refresh_from_db()
    assert world.north.stage == Stage.DEVELOPMENT
    client.post(reverse("sme_onboarding:wave", args=["north"]), {"enrollment_wave": "3"})
    client.post(reverse("sme_onboarding:org-id", args=["north"]), {"mdmr_org_id": "MDMR-9"})
    world.north.refresh_from_db()
    assert (world.north.enrollment_wave, world.north.mdmr_org_id) == (3, "MDMR-9")
    assert client.get(reverse("sme_onboarding:ldc-list")).status_code == 200


def test_ldc_staff_cannot_use_the_coordinator_pages(client: Any, world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    prep = stage_of(world.north, Stage.PREPARATION)
    complete(prep, actor(world))
    stages.stage_submit(ldc_stage=prep, actor=actor(world))
    client.force_login(world.user("north", "ldc_admin"))
    for name in ("sign-off", "return"):
        url = reverse(f"sme_onboarding:{name}", args=["north", "preparation"])
        assert client.post(url, {"reason": "x"}).status_code == 403
    assert (
        client.post(
            reverse("sme_onboarding:wave", args=["north"]), {"enrollment_wave": 1}
        ).status_code
        == 403
    )
    assert client.get(reverse("sme_onboarding:ldc-stages", args=["north"])).status_code == 403
    assert stage_of(world.north, Stage.PREPARATION).status == "submitted"


# --- dates are real ---------------------------------------------------------------------------


def test_a_test_days_result_cannot_be_recorded_before_that_day(world: Any) -> None:
    world.north.stage = Stage.SIT
    world.north.save()
    stages.stages_ensure(ldc=world.north)
    day = stage_of(world.north, Stage.SIT).test_days.get(number=1)
    day.day = timezone.localdate() + dt.timedelta(days=1)
    day.save(update_fields=["day"])
    with pytest.raises(ValidationError, match="cannot be recorded before that day"):
        stages.test_day_record(test_day=day, result="passed", actor=actor(world))
    day.refresh_from_db()
    assert day.result == "not_run" and day.recorded_at is None
    # "not run" may be set at any time; on the day itself the result is taken
    stages.test_day_record(test_day=day, result="not_run", actor=actor(world))
    day.day = timezone.localdate()
    day.save(update_fields=["day"])
    assert stages.test_day_record(test_day=day, result="passed", actor=actor(world)).result == (
        "passed"
    )


def test_a_future_test_day_is_refused_on_the_page_with_the_reason(client: Any, world: Any) -> None:
    world.north.stage = Stage.QT
    world.north.save()
    client.force_login(world.user("north", "back_office"))
    client.get(reverse("ldc:stages"))
    day = SitQtDay.objects.for_ldc(world.north).get(ldc_stage__stage="qt", number=5)
    day.day = timezone.localdate() + dt.timedelta(days=9)
    day.save(update_fields=["day"])
    page = client.post(
        reverse("ldc:test-day", args=["qt", 5]), {"result": "passed"}, follow=True
    ).content.decode()
    assert "cannot be recorded before that day" in page
    day.refresh_from_db()
    assert day.result == "not_run"


def test_staff_trained_follows_the_training_records(world: Any) -> None:
    world.north.stage = Stage.BPV
    world.north.save()
    stages.stages_ensure(ldc=world.north)
    row = stage_of(world.north, Stage.BPV)
    item = row.items.get(title=stages.STAFF_TRAINED)
    with pytest.raises(ValidationError, match="4 staff have not completed"):
        stages.checklist_item_update(item=item, status="done", actor=actor(world))
    item.refresh_from_db()
    assert item.status == "open"
    for m in Membership.objects.for_ldc(world.north):
        factories.complete_required_course(m.user, world.north)
    stages.checklist_item_update(item=item, status="done", actor=actor(world))
    for other in row.items.exclude(pk=item.pk):
        stages.checklist_item_update(item=other, status="done", actor=actor(world))
    # a new member without the course: the done item no longer lets BPV be submitted
    factories.staff_user(world.north, "back_office", "newcomer@north.test.example")
    with pytest.raises(ValidationError) as err:
        stages.stage_submit(ldc_stage=row, actor=actor(world))
    assert "newcomer@north.test.example" in str(err.value)


def test_preparation_follows_the_onboarding_records(world: Any) -> None:
    stages.stages_ensure(ldc=world.north)
    row = stage_of(world.north, Stage.PREPARATION)
    for item in row.items.all():
        stages.checklist_item_update(item=item, status="done", actor=actor(world))
    with pytest.raises(ValidationError) as err:
        stages.stage_submit(ldc_stage=row, actor=actor(world))
    text = str(err.value)
    assert "registration application is not on file" in text
    assert "no primary, technical, billing, privacy contact is named" in text
    factories.onboarding_records(world.north)
    assert stages.stage_submit(ldc_stage=row, actor=actor(world)).status == "submitted"
