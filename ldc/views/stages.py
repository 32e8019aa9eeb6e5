"""The MDM/R registration and enrollment stages, the LDC's side: checklists, evidence, test days,
submission (the coordinators' side is ldc/sme_views.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views import View
from django.views.generic import TemplateView

from ldc import charts, stages
from ldc.forms import (
    ChecklistItemForm,
    EvidenceForm,
    TestDayForm,
)
from ldc.models import ChecklistItem, Evidence, LdcStage, TestDay
from portal.mixins import LdcMixin, show_refusal
from portal.tenancy import LDC, STAGE_ORDER


def stage_or_404(ldc: LDC, stage: str) -> LdcStage:
    if stage not in STAGE_ORDER:
        raise Http404("No such stage.")
    stages.stages_ensure(ldc=ldc)
    return get_object_or_404(LdcStage.objects.for_ldc(ldc), stage=stage)


def stage_page_context(ldc: LDC, ldc_stage: LdcStage) -> dict[str, Any]:
    """What the stage page shows (the LDC's staff and the coordinators see the same)."""
    items = list(ldc_stage.items.select_related("owner").prefetch_related("evidence__uploaded_by"))
    days = list(ldc_stage.test_days.select_related("recorded_by"))
    today = timezone.localdate()
    for item in items:
        item.late = bool(  # type: ignore[attr-defined]
            item.status == ChecklistItem.Status.OPEN and item.due_date and item.due_date < today
        )
    return {
        "ldc": ldc,
        "ldc_stage": ldc_stage,
        "items": items,
        "days": days,
        "days_passed": sum(d.result == TestDay.Result.PASSED for d in days),
        "editable": ldc_stage.status in stages.OPEN_STATUSES,
        "missing": stages._missing(ldc_stage) if ldc_stage.status in stages.OPEN_STATUSES else [],
        "timeline": stages.stage_timeline(ldc),
    }


class StagesView(LdcMixin, TemplateView):
    """Where the LDC stands in the MDM/R stages, what is late, and the plan as a Gantt chart."""

    capability = "stages.view"
    template_name = "ldc/stages.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        stages.stages_ensure(ldc=self.ldc)
        timeline = stages.stage_timeline(self.ldc)
        context.update(
            ldc=self.ldc,
            timeline=timeline,
            late_items=stages.late_items(self.ldc),
            next_deadline=stages.next_deadline(self.ldc),
            figure=charts.stage_gantt(timeline, timezone.localdate()),
            figure_id="stage-gantt",
            uses_charts=True,
        )
        return context


class StageDetailView(LdcMixin, TemplateView):
    """One stage: its checklist (owners, due dates, evidence), SIT/QT days, and submit."""

    capability = "stages.view"
    template_name = "ldc/stage_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ldc_stage = stage_or_404(self.ldc, kwargs["stage"])
        context.update(stage_page_context(self.ldc, ldc_stage))
        context.update(
            can_submit=self.actor.can("stages.submit"),
            item_form=ChecklistItemForm(ldc=self.ldc),
            evidence_form=EvidenceForm(),
            day_form=TestDayForm(),
            results=TestDay.Result.choices,
        )
        return context


class StageActionView(LdcMixin, View):
    """Base of the POST-only actions on a stage of the user's LDC."""

    capability = "stages.submit"

    def back(self, stage: str) -> HttpResponse:
        return redirect("ldc:stage-detail", stage=stage)


class StageSubmitView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = stage_or_404(self.ldc, kwargs["stage"])
        try:
            stages.stage_submit(ldc_stage=ldc_stage, actor=self.actor)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"{ldc_stage.get_stage_display()} is submitted to the SME.")
        return self.back(ldc_stage.stage)


class ChecklistItemUpdateView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = stage_or_404(self.ldc, kwargs["stage"])
        item = get_object_or_404(ldc_stage.items.all(), pk=kwargs["item_id"])
        form = ChecklistItemForm(request.POST, ldc=self.ldc)
        if not form.is_valid():
            messages.error(request, "Check the item's fields: " + form.errors.as_text())
            return self.back(ldc_stage.stage)
        try:
            stages.checklist_item_update(item=item, actor=self.actor, **form.cleaned_data)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"'{item.title}' is saved.")
        return self.back(ldc_stage.stage)


class EvidenceUploadView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = stage_or_404(self.ldc, kwargs["stage"])
        item = get_object_or_404(ldc_stage.items.all(), pk=kwargs["item_id"])
        form = EvidenceForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, "Choose a file to upload.")
            return self.back(ldc_stage.stage)
        try:
            evidence = stages.evidence_upload(
                item=item, upload=form.cleaned_data["file"], actor=self.actor
            )
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"{evidence.original_name} is kept as evidence.")
        return self.back(ldc_stage.stage)


class TestDayRecordView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = stage_or_404(self.ldc, kwargs["stage"])
        day = get_object_or_404(ldc_stage.test_days.all(), number=kwargs["day_number"])
        form = TestDayForm(request.POST)
        if form.is_valid():
            try:
                stages.test_day_record(test_day=day, actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                show_refusal(request, exc)
            else:
                messages.success(request, f"Day {day.number} is {day.get_result_display()}.")
        else:
            messages.error(request, "Choose a result.")
        return self.back(ldc_stage.stage)


def evidence_response(evidence: Evidence) -> HttpResponse:
    """The document as an attachment (evidence is at most 10 MB, so it is read whole)."""
    with evidence.file.open("rb") as stream:
        body = stream.read()
    response = HttpResponse(body, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, evidence.original_name)
    return response


class EvidenceDownloadView(LdcMixin, View):
    capability = "stages.view"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        evidence = get_object_or_404(Evidence.objects.for_ldc(self.ldc), pk=kwargs["evidence_id"])
        return evidence_response(evidence)
