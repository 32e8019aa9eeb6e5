"""The SME coordinators' pages of the MDM/R stages and GUI training (ldc/sme_urls.py, /sme/)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from ldc import charts, stages, training
from ldc.forms import (
    AttendanceForm,
    OrgIdForm,
    SessionForm,
    StageReturnForm,
    WaveForm,
)
from ldc.models import Evidence, TrainingRegistration, TrainingSession
from ldc.views.stages import evidence_response, stage_or_404, stage_page_context
from portal.mixins import CoordinatorMixin, show_refusal
from portal.tenancy import LDC


class OnboardingListView(CoordinatorMixin, TemplateView):
    """Every LDC with its current stage, wave and organisation id, submitted stages first."""

    template_name = "ldc/sme_onboarding.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        submitted = stages.submitted_stages()
        ldcs = list(LDC.objects.order_by("name"))
        for ldc in ldcs:
            ldc.submitted_stage = submitted.get(ldc.pk)  # type: ignore[attr-defined]
        ldcs.sort(key=lambda x: (x.submitted_stage is None, x.name))  # type: ignore[attr-defined]
        context["ldcs"] = ldcs
        return context


class SmeStagesView(CoordinatorMixin, TemplateView):
    """One LDC's stages for the SME: sign off or return, the wave and the organisation id."""

    template_name = "ldc/sme_stages.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        stages.stages_ensure(ldc=ldc)
        timeline = stages.stage_timeline(ldc)
        context.update(
            ldc=ldc,
            timeline=timeline,
            late_items=stages.late_items(ldc),
            figure=charts.stage_gantt(timeline, timezone.localdate()),
            figure_id="stage-gantt",
            uses_charts=True,
            can_decide=self.actor.can("stages.sign_off"),
            return_form=StageReturnForm(),
            wave_form=WaveForm(initial={"enrollment_wave": ldc.enrollment_wave}),
            org_form=OrgIdForm(initial={"mdmr_org_id": ldc.mdmr_org_id}),
        )
        return context


class SmeStageDetailView(CoordinatorMixin, TemplateView):
    """One stage of one LDC as the SME sees it (checklist, evidence, test days; read only)."""

    template_name = "ldc/stage_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        context.update(stage_page_context(ldc, stage_or_404(ldc, kwargs["stage"])))
        context.update(
            sme=True,
            can_decide=self.actor.can("stages.sign_off"),
            return_form=StageReturnForm(),
        )
        return context


class SmeEvidenceView(CoordinatorMixin, View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        return evidence_response(
            get_object_or_404(Evidence.objects.for_ldc(ldc), pk=kwargs["evidence_id"])
        )


class SmeActionView(CoordinatorMixin, View):
    """Base of the coordinators' POST actions on one LDC."""

    capability = "stages.sign_off"

    def back(self, ldc: LDC) -> HttpResponse:
        return redirect("sme_onboarding:ldc-stages", slug=ldc.slug)


class SmeSignOffView(SmeActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        ldc_stage = stage_or_404(ldc, kwargs["stage"])
        try:
            stages.stage_sign_off(ldc_stage=ldc_stage, actor=self.actor)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            ldc.refresh_from_db()
            messages.success(
                request,
                f"{ldc_stage.get_stage_display()} is signed off; {ldc.name} is now in "
                f"{ldc.get_stage_display()}.",
            )
        return self.back(ldc)


class SmeReturnView(SmeActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        ldc_stage = stage_or_404(ldc, kwargs["stage"])
        form = StageReturnForm(request.POST)
        try:
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            stages.stage_return(ldc_stage=ldc_stage, reason=reason, actor=self.actor)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"{ldc_stage.get_stage_display()} is returned to {ldc}.")
        return self.back(ldc)


class SmeWaveView(SmeActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        form = WaveForm(request.POST)
        if not form.is_valid():
            messages.error(request, "A wave is a number from 1 to 99 (or blank).")
            return self.back(ldc)
        wave = form.cleaned_data["enrollment_wave"]
        stages.ldc_wave_assign(ldc=ldc, wave=wave, actor=self.actor)
        messages.success(request, f"{ldc} is in wave {wave}." if wave else f"{ldc} has no wave.")
        return self.back(ldc)


class SmeOrgIdView(SmeActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        form = OrgIdForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give the MDM/R organisation id.")
            return self.back(ldc)
        try:
            stages.ldc_org_id_assign(
                ldc=ldc, mdmr_org_id=form.cleaned_data["mdmr_org_id"], actor=self.actor
            )
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"{ldc}'s MDM/R organisation id is {ldc.mdmr_org_id}.")
        return self.back(ldc)


class SmeTrainingView(CoordinatorMixin, View):
    """Training sessions: schedule one; every session with its seats taken."""

    template_name = "ldc/sme_training.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, SessionForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.actor.can("training.manage"):
            raise PermissionDenied("For SME program coordinators.")
        form = SessionForm(request.POST)
        if form.is_valid():
            try:
                session = training.session_create(actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"{session} is scheduled.")
                return redirect("sme_onboarding:training")
        return self._render(request, form, status=400)

    def _render(self, request: HttpRequest, form: SessionForm, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "upcoming": training.sessions_with_seats(),
            "past": training.sessions_with_seats(upcoming=False).filter(
                starts_at__lt=timezone.now()
            ),
        }
        return render(request, self.template_name, context, status=status)


class SmeSessionView(CoordinatorMixin, TemplateView):
    """One session's registrations, with attendance and completion to record."""

    template_name = "ldc/sme_session.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        session = get_object_or_404(
            TrainingSession.objects.select_related("course"), pk=kwargs["session_id"]
        )
        registrations = session.registrations.select_related("user", "ldc").order_by(
            "ldc__name", "user__email"
        )
        context.update(session=session, registrations=registrations)
        return context


class SmeAttendanceView(CoordinatorMixin, View):
    capability = "training.manage"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        registration = get_object_or_404(TrainingRegistration, pk=kwargs["registration_id"])
        form = AttendanceForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Say whether the person attended.")
        else:
            try:
                training.training_attendance_record(
                    registration=registration,
                    attended=form.cleaned_data["attended"] == "yes",
                    completed=form.cleaned_data["completed"],
                    actor=self.actor,
                )
            except ValidationError as exc:
                show_refusal(request, exc)
            else:
                messages.success(request, f"{registration.user.email}: recorded.")
        return redirect("sme_onboarding:session", session_id=registration.session_id)
