"""Home pages (one per kind of user) and the SME coordinators' pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.generic import TemplateView

from customers.selectors import links_for_user
from ldc.models import LDC
from portal.access import actor_for_request
from portal.mixins import CoordinatorMixin
from portal.models import AuditEvent
from portal.selectors import ldc_figures, ldcs_with_counts, province_totals


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The right home for the role: SME rollout, the LDC's figures, or the customer's accounts."""
    actor = actor_for_request(request)
    if actor.is_coordinator:
        ldcs = list(ldcs_with_counts())
        context = {"ldcs": ldcs, "totals": province_totals(ldcs)}
        return render(request, "portal/home_sme.html", context)
    if actor.is_ldc_staff:
        context = {"ldc": actor.ldc, "figures": ldc_figures(actor.ldc), "actor": actor}
        return render(request, "portal/home_ldc.html", context)
    return render(request, "portal/home_customer.html", {"links": links_for_user(request.user)})


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
        context.update(ldc=ldc, figures=ldc_figures(ldc))
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
