"""Enrollment groups: customers enrolled group by group, by filter or CSV, step by step."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from ldc import charts, enrollment
from ldc.forms import (
    GroupFilterForm,
    GroupStepForm,
    GroupUploadForm,
)
from ldc.models import EnrollmentGroup
from meters.models import ServiceDeliveryPoint
from portal.mixins import LdcMixin, show_refusal
from portal.tenancy import Stage


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
            show_refusal(request, exc)
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
            show_refusal(request, exc)
        else:
            messages.success(request, f"{group} is cancelled; its SDPs are free again.")
        return redirect("ldc:group-detail", number=group.number)
