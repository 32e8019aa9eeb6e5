"""Pages of an LDC's staff: members and roles, API tokens, the audit trail; the MDM/R stages,
enrollment groups and GUI training."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views import View
from django.views.generic import TemplateView

from ldc import charts, enrollment, services, stages, training
from ldc.forms import (
    ChecklistItemForm,
    EvidenceForm,
    GroupFilterForm,
    GroupStepForm,
    GroupUploadForm,
    MemberAddForm,
    MemberRoleForm,
    TestDayForm,
    TokenCreateForm,
)
from ldc.models import (
    LDC,
    STAGE_ORDER,
    ApiToken,
    ChecklistItem,
    Course,
    EnrollmentGroup,
    Evidence,
    LdcStage,
    Membership,
    Stage,
    TestDay,
    TrainingRegistration,
    TrainingSession,
)
from meters.models import ServiceDeliveryPoint
from portal.access import write_trained
from portal.mixins import LdcMixin
from portal.models import AuditEvent


class MembersView(LdcMixin, View):
    """The LDC's staff and their roles; the administrator adds people and changes roles."""

    capability = "ldc.manage_members"
    template_name = "ldc/members.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, MemberAddForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = MemberAddForm(request.POST)
        if form.is_valid():
            try:
                services.member_add(ldc=self.ldc, actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error("email", exc)
            else:
                messages.success(request, f"{form.cleaned_data['email']} can now sign in.")
                return redirect("ldc:members")
        return self._render(request, form, status=400)

    def _render(self, request: HttpRequest, form: MemberAddForm, status: int = 200) -> HttpResponse:
        members = Membership.objects.for_ldc(self.ldc).select_related("user").order_by("role")
        context = {
            "members": members,
            "form": form,
            "role_form": MemberRoleForm(),
            "actor": self.actor,
        }
        return render(request, self.template_name, context, status=status)


class MemberRoleView(LdcMixin, View):
    """Change one member's role (POST)."""

    capability = "ldc.manage_members"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(Membership.objects.for_ldc(self.ldc), pk=kwargs["member_id"])
        form = MemberRoleForm(request.POST)
        if form.is_valid():
            try:
                services.member_set_role(
                    membership=membership, role=form.cleaned_data["role"], actor=self.actor
                )
                messages.success(
                    request, f"{membership.user.email} is now {membership.get_role_display()}."
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return redirect("ldc:members")


class MemberRemoveView(LdcMixin, View):
    """Remove a member's access (POST)."""

    capability = "ldc.manage_members"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(Membership.objects.for_ldc(self.ldc), pk=kwargs["member_id"])
        try:
            services.member_remove(membership=membership, actor=self.actor)
            messages.success(request, f"{membership.user.email} no longer has access.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("ldc:members")


class TokensView(LdcMixin, View):
    """API tokens of the LDC's systems: create (the key is shown once) and revoke."""

    capability = "ldc.manage_tokens"
    template_name = "ldc/tokens.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, TokenCreateForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TokenCreateForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        token, key = services.api_token_create(ldc=self.ldc, actor=self.actor, **form.cleaned_data)
        return self._render(request, TokenCreateForm(), new_key=key, new_token=token)

    def _render(
        self, request: HttpRequest, form: TokenCreateForm, status: int = 200, **extra: Any
    ) -> HttpResponse:
        tokens = ApiToken.objects.for_ldc(self.ldc).select_related("created_by")
        context = {"tokens": tokens, "form": form, **extra}
        return render(request, self.template_name, context, status=status)


class TokenRevokeView(LdcMixin, View):
    """Revoke a token (POST)."""

    capability = "ldc.manage_tokens"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = get_object_or_404(ApiToken.objects.for_ldc(self.ldc), key_id=kwargs["key_id"])
        services.api_token_revoke(token=token, actor=self.actor)
        messages.success(request, f"Token '{token.name}' is revoked.")
        return redirect("ldc:tokens")


class AuditView(LdcMixin, TemplateView):
    """The LDC's audit trail, newest first, filterable by action."""

    capability = "audit.view"
    template_name = "portal/audit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        events = AuditEvent.objects.for_ldc(self.ldc).select_related("actor")
        action = self.request.GET.get("action", "").strip()
        if action:
            events = events.filter(action__startswith=action)
        page = Paginator(events, 50).get_page(self.request.GET.get("page"))
        context.update(page=page, title=f"Audit trail — {self.ldc.name}", action=action)
        return context


# ---------------------------------------------------------------------------------------------
# MDM/R stages (the LDC's side)


def _stage_or_404(ldc: LDC, stage: str) -> LdcStage:
    if stage not in STAGE_ORDER:
        raise Http404("No such stage.")
    stages.stages_ensure(ldc=ldc)
    return get_object_or_404(LdcStage.objects.for_ldc(ldc), stage=stage)


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


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
        ldc_stage = _stage_or_404(self.ldc, kwargs["stage"])
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
        ldc_stage = _stage_or_404(self.ldc, kwargs["stage"])
        try:
            stages.stage_submit(ldc_stage=ldc_stage, actor=self.actor)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"{ldc_stage.get_stage_display()} is submitted to the SME.")
        return self.back(ldc_stage.stage)


class ChecklistItemUpdateView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = _stage_or_404(self.ldc, kwargs["stage"])
        item = get_object_or_404(ldc_stage.items.all(), pk=kwargs["item_id"])
        form = ChecklistItemForm(request.POST, ldc=self.ldc)
        if not form.is_valid():
            messages.error(request, "Check the item's fields: " + form.errors.as_text())
            return self.back(ldc_stage.stage)
        try:
            stages.checklist_item_update(item=item, actor=self.actor, **form.cleaned_data)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"'{item.title}' is saved.")
        return self.back(ldc_stage.stage)


class EvidenceUploadView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = _stage_or_404(self.ldc, kwargs["stage"])
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
            _errors(request, exc)
        else:
            messages.success(request, f"{evidence.original_name} is kept as evidence.")
        return self.back(ldc_stage.stage)


class TestDayRecordView(StageActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ldc_stage = _stage_or_404(self.ldc, kwargs["stage"])
        day = get_object_or_404(ldc_stage.test_days.all(), number=kwargs["day_number"])
        form = TestDayForm(request.POST)
        if form.is_valid():
            try:
                stages.test_day_record(test_day=day, actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                _errors(request, exc)
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


# ---------------------------------------------------------------------------------------------
# Enrollment groups


class GroupListView(LdcMixin, TemplateView):
    """The LDC's customer groups with their step progress and SDP counts."""

    capability = "enrollment.view"
    template_name = "ldc/group_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        groups = list(enrollment.groups_with_counts(self.ldc))
        for group in groups:
            group.progress = enrollment.group_progress(group)  # type: ignore[attr-defined]
        live = [g for g in groups if g.status != EnrollmentGroup.Status.CANCELLED]
        context.update(
            ldc=self.ldc,
            groups=groups,
            summary=enrollment.enrollment_summary(self.ldc),
            in_production=self.ldc.stage == Stage.PRODUCTION,
            can_manage=self.actor.can("enrollment.manage"),
            figure=charts.group_progress_bars(live) if live else None,
            figure_id="group-progress",
            uses_charts=bool(live),
        )
        return context


class GroupCreateView(LdcMixin, View):
    """A new customer group, from a filter or from an uploaded list of SDP ids."""

    capability = "enrollment.manage"
    template_name = "ldc/group_create.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, GroupFilterForm(ldc=self.ldc), GroupUploadForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("mode") == "upload":
            return self._upload(request)
        form = GroupFilterForm(request.POST, ldc=self.ldc)
        if form.is_valid():
            data = form.cleaned_data
            spec = enrollment.SdpFilter(
                rate_class=data["rate_class"],
                commodity_rate_class=data["commodity_rate_class"],
                postal_prefix=data["postal_prefix"],
                billing_cycle=data["billing_cycle"],
            )
            try:
                group = enrollment.group_create_from_filter(
                    ldc=self.ldc, spec=spec, name=data["name"], actor=self.actor
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return self._created(request, group)
        return self._render(request, form, GroupUploadForm(), status=400)

    def _upload(self, request: HttpRequest) -> HttpResponse:
        form = GroupUploadForm(request.POST, request.FILES)
        row_errors: list[str] = []
        if form.is_valid():
            try:
                group = enrollment.group_create_from_upload(
                    ldc=self.ldc,
                    stream=form.cleaned_data["file"],
                    name=form.cleaned_data["name"],
                    actor=self.actor,
                )
            except enrollment.UploadError as exc:
                row_errors = exc.messages
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return self._created(request, group)
        return self._render(
            request, GroupFilterForm(ldc=self.ldc), form, status=400, row_errors=row_errors
        )

    def _created(self, request: HttpRequest, group: EnrollmentGroup) -> HttpResponse:
        messages.success(request, f"{group} is created.")
        return redirect("ldc:group-detail", number=group.number)

    def _render(
        self,
        request: HttpRequest,
        filter_form: GroupFilterForm,
        upload_form: GroupUploadForm,
        status: int = 200,
        **extra: Any,
    ) -> HttpResponse:
        context = {
            "ldc": self.ldc,
            "filter_form": filter_form,
            "upload_form": upload_form,
            "in_production": self.ldc.stage == Stage.PRODUCTION,
            "free_count": enrollment.free_sdps(self.ldc).count(),
            **extra,
        }
        return render(request, self.template_name, context, status=status)


class GroupDetailView(LdcMixin, TemplateView):
    """One group: its steps, counts and SDPs."""

    capability = "enrollment.view"
    template_name = "ldc/group_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        group = get_object_or_404(enrollment.groups_with_counts(self.ldc), number=kwargs["number"])
        sdps = (
            ServiceDeliveryPoint.objects.for_ldc(self.ldc)
            .filter(group_memberships__group=group)
            .order_by("sdp_id")
        )
        context.update(
            ldc=self.ldc,
            group=group,
            progress=enrollment.group_progress(group),
            page=Paginator(sdps, 100).get_page(self.request.GET.get("page")),
            can_manage=self.actor.can("enrollment.manage")
            and group.status != EnrollmentGroup.Status.CANCELLED,
            step_form=GroupStepForm(initial=_next_step(group)),
            in_production=self.ldc.stage == Stage.PRODUCTION,
        )
        return context


def _next_step(group: EnrollmentGroup) -> dict[str, str]:
    """The step form's initial values: the first step not done, today."""
    progress = enrollment.group_progress(group)
    step = next((s["key"] for s in progress["steps"] if not s["done"]), "tou_billing")
    return {"step": step, "on": timezone.localdate().isoformat()}


class GroupStepView(LdcMixin, View):
    capability = "enrollment.manage"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        group = get_object_or_404(
            EnrollmentGroup.objects.for_ldc(self.ldc), number=kwargs["number"]
        )
        form = GroupStepForm(request.POST)
        if not form.is_valid():
            messages.error(request, form.errors.as_text())
            return redirect("ldc:group-detail", number=group.number)
        step, on = form.cleaned_data["step"], form.cleaned_data["on"]
        try:
            if step == "registered":
                enrollment.group_mark_registered(group=group, actor=self.actor)
            elif step == "enrolled":
                enrollment.group_enroll(group=group, on=on, actor=self.actor)
            elif step == "educated":
                channel = form.cleaned_data["channel"]
                enrollment.group_educate(group=group, on=on, channel=channel, actor=self.actor)
            else:
                enrollment.group_set_tou_start(group=group, start=on, actor=self.actor)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"{enrollment.STEP_LABELS[step]}: recorded.")
        return redirect("ldc:group-detail", number=group.number)


class GroupCancelView(LdcMixin, View):
    capability = "enrollment.manage"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        group = get_object_or_404(
            EnrollmentGroup.objects.for_ldc(self.ldc), number=kwargs["number"]
        )
        try:
            enrollment.group_cancel(group=group, actor=self.actor)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"{group} is cancelled; its SDPs are free again.")
        return redirect("ldc:group-detail", number=group.number)


# ---------------------------------------------------------------------------------------------
# GUI training (the staff's side)


class TrainingView(LdcMixin, TemplateView):
    """Courses and upcoming sessions, my seats and completions; the admin sees who is missing
    the course required for write access."""

    capability = "training.register"
    template_name = "ldc/training.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        mine = list(training.registrations_of(self.request.user))
        context.update(
            ldc=self.ldc,
            courses=Course.objects.all(),
            sessions=training.sessions_with_seats(),
            mine=mine,
            my_session_ids={r.session_id for r in mine},
            trained=write_trained(self.request.user),
            needs_training=self.actor.needs_training,
            in_production=self.ldc.stage == Stage.PRODUCTION,
        )
        if self.actor.can("training.view_missing"):
            context["missing"] = training.staff_missing_required(self.ldc)
            context["summary"] = training.training_summary(self.ldc)
        return context


class TrainingRegisterView(LdcMixin, View):
    capability = "training.register"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session = get_object_or_404(TrainingSession, pk=kwargs["session_id"])
        try:
            training.training_register(session=session, actor=self.actor)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"You have a seat in {session}.")
        return redirect("ldc:training")


class TrainingUnregisterView(LdcMixin, View):
    capability = "training.register"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        registration = get_object_or_404(
            TrainingRegistration.objects.filter(user=request.user), pk=kwargs["registration_id"]
        )
        try:
            training.training_unregister(registration=registration, actor=self.actor)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, "Your seat is given back.")
        return redirect("ldc:training")
