"""The coordinators' pages of the rollout: the province home, the LDC table and its actions,
targets, every LDC's weekly data quality, and the SME's LDC list, detail and audit trail."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from ldc.models import LdcStage
from ldc.selectors import ldc_figures, ldcs_with_counts
from ldc.sme import charts, rollout
from ldc.views.quality import quality_context, quality_end
from portal.mixins import CoordinatorMixin, show_refusal
from portal.models import AuditEvent, RolloutMetric, RolloutTarget
from portal.tenancy import LDC, Stage


class SmeLdcListView(CoordinatorMixin, TemplateView):
    """Every LDC with its status and registry counts."""

    template_name = "portal/sme_ldc_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["ldcs"] = ldcs_with_counts()
        return context


class SmeLdcDetailView(CoordinatorMixin, TemplateView):
    """One LDC seen by the SME: identity, status, aggregate counts (no customer data)."""

    template_name = "portal/sme_ldc_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ldc = get_object_or_404(LDC, slug=self.kwargs["slug"])
        row = next(r for r in rollout.ldc_rows() if r.ldc_id == ldc.pk)
        context.update(
            ldc=ldc,
            figures=ldc_figures(ldc),
            row=row,
            timeline=_stage_timeline(ldc),
            stages_url=_stages_url(ldc),
            can_manage=self.actor.can("sme.manage"),
            uses_charts=True,
        )
        trend = rollout.ldc_trend(ldc)
        if trend:
            context["trend_figure"] = charts.ldc_trend(trend, ldc.name)
        return context


class SmeAuditView(CoordinatorMixin, TemplateView):
    """The SME's own trail: tenant provisioning, sign-offs and every coordinator's actions."""

    template_name = "portal/audit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        events = AuditEvent.objects.select_related("ldc").filter(
            actor__membership__role="sme_coordinator"
        ) | AuditEvent.objects.select_related("ldc").filter(ldc__isnull=True)
        page = Paginator(events.order_by("-at", "-id"), 50).get_page(self.request.GET.get("page"))
        context.update(page=page, title="SME audit trail", show_ldc=True)
        return context


# ---------------------------------------------------------------------------------------------
# Rollout monitoring (under /rollout/): coordinators see aggregates of every LDC; each LDC's
# staff see their own weekly data-quality dashboard.


class TargetForm(forms.Form):
    metric = forms.ChoiceField(choices=RolloutMetric.choices, label="Figure")
    value = forms.IntegerField(min_value=1, max_value=100_000_000, label="Target")
    due_date = forms.DateField(
        label="By (YYYY-MM-DD)", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        max_length=300, required=False, label="Note (the decision it comes from)"
    )


class WaveForm(forms.Form):
    wave = forms.IntegerField(min_value=1, max_value=99, required=False, label="Enrollment wave")


class StageDecisionForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    decision = forms.ChoiceField(choices=[("sign_off", "Sign off"), ("return", "Return")])
    reason = forms.CharField(max_length=2000, required=False)


def _stage_timeline(ldc: LDC) -> list[dict[str, Any]]:
    from ldc.stages import stage_timeline

    return stage_timeline(ldc)


def _stages_url(ldc: LDC) -> str:
    """The onboarding pages' view of this LDC's stages (ldc/sme_urls.py): not duplicated here."""
    return reverse("sme_onboarding:ldc-stages", args=[ldc.slug])


def _charts(rows: list[rollout.LdcRow], targets: dict[str, Any]) -> dict[str, Any]:
    snapshots = rollout.province_trend()
    trends = [
        {
            "id": f"trend-{key}",
            "label": label,
            "figure": charts.trend(snapshots, key, label, targets.get(key)),
        }
        for key, label in rollout.FIGURES[1:]
    ]
    share = rollout.top_share(rows)
    funnel = rollout.stage_funnel(rows)
    sizes = rollout.size_classes(rows)
    return {
        "trends": trends,
        "snapshot_weeks": len(snapshots),
        "funnel": funnel,
        "funnel_figure": charts.funnel(funnel),
        "sizes": sizes,
        "sizes_figure": charts.sizes(sizes),
        "share": share,
        "share_figure": charts.top_share(share),
    }


def rollout_home_context(actor: Any) -> dict[str, Any]:
    """The coordinators' rollout home: figures against targets, trends, funnel, size classes."""
    rows = rollout.ldc_rows()
    targets = rollout.current_targets()
    return {
        "actor": actor,
        "totals": rollout.province_totals(rows, targets),
        "obligation_pct": rollout.OBLIGATION_PCT,
        "waiting": [r for r in rows if r.awaiting_sign_off],
        "below": [r for r in rows if r.meets_obligation is False],
        "uses_charts": True,
        **_charts(rows, targets),
    }


class RolloutHomeView(CoordinatorMixin, TemplateView):
    """The province's rollout (also the coordinators' home page)."""

    template_name = "portal/home_sme.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **rollout_home_context(self.actor)}


def _table_filters(request: HttpRequest) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip()[:60] for k in ("stage", "wave", "size", "q")}


class RolloutLdcTableView(CoordinatorMixin, TemplateView):
    """Every LDC's rollout line: sortable, filterable, exportable as CSV."""

    template_name = "portal/rollout_ldcs.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filters = _table_filters(self.request)
        sort = self.request.GET.get("sort", "name")
        rows = rollout.ldc_rows()
        shown = rollout.sort_rows(rollout.filter_rows(rows, **filters), sort)
        waves = sorted({r.wave for r in rows if r.wave is not None})
        query = {k: v for k, v in filters.items() if v}
        context.update(
            rows=shown,
            total=len(rows),
            filters=filters,
            sort=sort,
            query=urlencode(query),
            csv_query=urlencode({**query, "sort": sort}),
            stages=Stage.choices,
            waves=waves,
            sizes=rollout.SIZE_CLASSES,
            obligation_pct=rollout.OBLIGATION_PCT,
            can_manage=self.actor.can("sme.manage"),
            headers=_headers(query, sort),
            next_url=self.request.get_full_path(),
        )
        return context


def _headers(query: dict[str, str], sort: str) -> list[dict[str, Any]]:
    """Column headings that sort the table (again: the other way round)."""
    headers = []
    for key, label, numeric, title in _COLUMNS:
        current = sort.lstrip("-") == key
        descending = sort.startswith("-")
        following = key if not current or descending else f"-{key}"
        if not current and numeric:
            following = f"-{key}"  # numbers: largest first on the first click
        state = ("descending" if descending else "ascending") if current else ""
        url = "?" + urlencode({**query, "sort": following})
        headers.append(
            {"key": key, "label": label, "title": title or label, "url": url}
            | {"state": state, "numeric": numeric}
        )
    return headers


# (sort key, heading, numeric?, what it counts) of the table's sortable columns.
_COLUMNS = [
    ("name", "LDC", False, ""),
    ("customers", "Customers", True, "Residential and GS < 50 kW customers"),
    ("meters", "Meters", True, "Smart meters installed (% of customers)"),
    ("registered", "Registered", True, "SDPs registered"),
    ("enrolled", "Enrolled", True, "SDPs enrolled"),
    ("tou", "TOU", True, "Customers on TOU billing"),
    ("stage", "Stage", False, "Stage and days in it"),
    ("wave", "Wave", True, "Enrollment wave"),
    ("reads", "Reads 7 d", True, "Read success of the last 7 days against 98.0 %"),
    ("exceptions", "VEE", True, "Open VEE exceptions"),
    ("dq", "DQ", True, "Data-quality issues: SDPs without rate class, invalid postal codes"),
]


class RolloutLdcCsvView(CoordinatorMixin, View):
    """The table as CSV, with the filters and order of the page (stable columns)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rows = rollout.filter_rows(rollout.ldc_rows(), **_table_filters(request))
        rows = rollout.sort_rows(rows, request.GET.get("sort", "name"))
        response = HttpResponse(rollout.rows_csv(rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="rollout-ldcs-{stamp}.csv"'
        return response


class RolloutTargetsView(CoordinatorMixin, View):
    """The province's targets: the current ones, their history, and the form to set one."""

    template_name = "portal/rollout_targets.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, TargetForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.actor.can("sme.manage"):
            raise PermissionDenied("Only SME coordinators set targets.")
        form = TargetForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        target = rollout.rollout_target_set(actor=self.actor, **form.cleaned_data)
        messages.success(request, f"Target set: {target}.")
        return redirect("rollout:targets")

    def _render(self, request: HttpRequest, form: TargetForm, status: int = 200) -> HttpResponse:
        rows = rollout.ldc_rows()
        targets = rollout.current_targets()
        context = {
            "form": form,
            "totals": rollout.province_totals(rows, targets),
            "history": RolloutTarget.objects.select_related("set_by").order_by("-set_at", "-id"),
            "actor": self.actor,
        }
        return render(request, self.template_name, context, status=status)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the page the action came from (this site's pages only)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


class RolloutWaveView(CoordinatorMixin, View):
    """Put an LDC in an enrollment wave (POST; empty: no wave)."""

    capability = "sme.manage"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from ldc.stages import ldc_wave_assign

        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        form = WaveForm(request.POST)
        if not form.is_valid():
            messages.error(request, "A wave is a number from 1 to 99, or empty.")
            return _back(request, "rollout:ldc-table")
        try:
            ldc_wave_assign(ldc=ldc, wave=form.cleaned_data["wave"], actor=self.actor)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            wave = form.cleaned_data["wave"]
            messages.success(request, f"{ldc.name}: {f'wave {wave}' if wave else 'no wave'}.")
        return _back(request, "rollout:ldc-table")


class RolloutStageDecisionView(CoordinatorMixin, View):
    """Sign off or return an LDC's submitted stage (POST), through the stage workflow."""

    capability = "sme.manage"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from ldc.stages import stage_return, stage_sign_off

        ldc = get_object_or_404(LDC, slug=kwargs["slug"])
        form = StageDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a stage and a decision.")
            return _back(request, "rollout:ldc-table")
        data = form.cleaned_data
        ldc_stage = get_object_or_404(LdcStage.objects.for_ldc(ldc), stage=data["stage"])
        try:
            if data["decision"] == "sign_off":
                stage_sign_off(ldc_stage=ldc_stage, actor=self.actor)
                done = "signed off"
            else:
                stage_return(ldc_stage=ldc_stage, reason=data["reason"], actor=self.actor)
                done = "returned to the LDC"
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"{ldc.name}: {ldc_stage.get_stage_display()} {done}.")
        return _back(request, "rollout:ldc-table")


class RolloutQualityIndexView(CoordinatorMixin, TemplateView):
    """Every LDC's read success and issues of the last 7 days, each linking to its dashboard."""

    template_name = "portal/rollout_quality_index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rows = rollout.sort_rows(rollout.ldc_rows(), "reads")
        context.update(rows=rows, obligation_pct=rollout.OBLIGATION_PCT, days=rollout.window())
        return context


class RolloutLdcQualityView(CoordinatorMixin, TemplateView):
    """One LDC's weekly data-quality dashboard, as the SME publishes it."""

    template_name = "portal/rollout_quality.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ldc = get_object_or_404(LDC, slug=self.kwargs["slug"])
        context.update(quality_context(ldc, quality_end(self.request)), coordinator=True)
        return context
