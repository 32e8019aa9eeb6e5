"""Billing pages: requests and their quantities, a request form, batches, OEB prices."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from billing import bills, charts, services
from billing.forms import BillingBatchForm, BillingRequestForm, PriceSetForm
from billing.models import (
    BillingBatch,
    BillingQuantity,
    BillingQuantityRequest,
    OebPriceSet,
    ReplacementNotice,
    Status,
)
from billing.provenance import billing_quantity_explain, billing_quantity_reproduce
from billing.shapes import latest_per_meter, quantities_csv, quantity_data
from meters.models import BillingCycle, ServiceDeliveryPoint
from portal.mixins import CoordinatorMixin, LdcMixin


class BillingListView(LdcMixin, ListView):  # type: ignore[type-arg]
    """Billing-quantity requests, newest first, filtered by status or SDP."""

    capability = "billing.view"
    template_name = "billing/request_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[BillingQuantityRequest]:
        rows = BillingQuantityRequest.objects.for_ldc(self.ldc).select_related("sdp", "batch")
        status = self.request.GET.get("status", "")
        if status in Status.values:
            rows = rows.filter(status=status)
        q = self.request.GET.get("q", "").strip()
        if q:
            rows = rows.filter(sdp__sdp_id__icontains=q)
        return rows

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["statuses"] = Status.choices
        context["can_request"] = self.actor.can("billing.request")
        context["batches"] = BillingBatch.objects.for_ldc(self.ldc).select_related("cycle")[:10]
        context["open_notices"] = (
            ReplacementNotice.objects.for_ldc(self.ldc).filter(acknowledged_at=None).count()
        )
        return context


class BillingRequestView(LdcMixin, FormView):  # type: ignore[type-arg]
    """Ask for an SDP's quantities for a billing period."""

    capability = "billing.request"
    template_name = "billing/request_form.html"
    form_class = BillingRequestForm

    def get_initial(self) -> dict[str, Any]:
        return {"sdp_id": self.request.GET.get("sdp_id", "")}

    def form_valid(self, form: BillingRequestForm) -> HttpResponse:
        sdp = (
            ServiceDeliveryPoint.objects.for_ldc(self.ldc)
            .filter(sdp_id=form.cleaned_data["sdp_id"])
            .first()
        )
        if sdp is None:
            form.add_error("sdp_id", "No SDP with this id.")
            return self.form_invalid(form)
        try:
            request = services.billing_quantity_request(
                ldc=self.ldc,
                sdp=sdp,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                plan=form.cleaned_data["plan"] or None,
                actor=self.actor,
            )
        except services.BillingError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        return redirect("billing:detail", public_id=request.public_id)


class BillingDetailView(LdcMixin, TemplateView):
    """One request: each meter's quantities, every version, notices, and the plan comparison."""

    capability = "billing.view"
    template_name = "billing/request_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = get_object_or_404(
            BillingQuantityRequest.objects.for_ldc(self.ldc).select_related("sdp"),
            public_id=self.kwargs["public_id"],
        )
        if request.status == Status.PENDING:
            services.billing_quantities_refresh(ldc=self.ldc, requests=[request], reason="viewed")
            request.refresh_from_db()
        versions = list(
            BillingQuantity.objects.for_ldc(self.ldc)
            .filter(request=request)
            .select_related("meter")
            .order_by("start", "meter_id", "-version")
        )
        current = [quantity_data(q, request) for q in latest_per_meter(versions)]
        context.update(
            request_obj=request,
            current=current,
            versions=[quantity_data(q, request) for q in versions],
            notices=ReplacementNotice.objects.for_ldc(self.ldc)
            .filter(request=request)
            .select_related("replaces", "quantity"),
            comparison=bills.plan_compare(
                ldc=self.ldc, sdp=request.sdp, start=request.start, end=request.end
            ),
            figure=charts.period_bars(current, f"{request.sdp.sdp_id}: kWh by price period"),
            figure_id="bq-figure",
            figure_label="kWh by price period of each meter",
            uses_charts=True,
            can_release=request.status == Status.COMPLETE and self.actor.can("billing.request"),
        )
        return context


class QuantityExplainView(LdcMixin, TemplateView):
    """One quantity's proof: the intervals of each price period (value, flags, estimation
    method, day version), and whether it recomputes from the day versions it recorded."""

    capability = "billing.view"
    template_name = "billing/quantity_explain.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        quantity = get_object_or_404(
            BillingQuantity.objects.for_ldc(self.ldc).select_related(
                "ldc", "meter", "request__sdp"
            ),
            public_id=self.kwargs["public_id"],
        )
        context.update(
            quantity=quantity,
            explained=billing_quantity_explain(quantity=quantity),
            differences=billing_quantity_reproduce(quantity=quantity),
        )
        return context


class BillingReleaseView(LdcMixin, View):
    """Release a complete request's quantities (POST): audited, then never changed."""

    capability = "billing.request"

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        row = get_object_or_404(
            BillingQuantityRequest.objects.for_ldc(self.ldc), public_id=public_id
        )
        try:
            services.billing_request_release(request=row, actor=self.actor)
            messages.success(request, "Quantities released to the billing system.")
        except services.BillingError as exc:
            messages.error(request, str(exc))
        return redirect("billing:detail", public_id=public_id)


class BillingBatchView(LdcMixin, FormView):  # type: ignore[type-arg]
    """Request every SDP of a billing cycle for one period."""

    capability = "billing.request"
    template_name = "billing/batch_form.html"
    form_class = BillingBatchForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["cycles"] = list(
            BillingCycle.objects.for_ldc(self.ldc).values_list("code", flat=True)
        )
        return kwargs

    def form_valid(self, form: BillingBatchForm) -> HttpResponse:
        cycle = get_object_or_404(
            BillingCycle.objects.for_ldc(self.ldc), code=form.cleaned_data["cycle"]
        )
        try:
            batch = services.billing_batch_request(
                ldc=self.ldc,
                cycle=cycle,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                actor=self.actor,
            )
        except services.BillingError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, f"{batch.sdps} SDPs requested.")
        return redirect(f"{_list_url()}?batch={batch.public_id}")


def _list_url() -> str:
    from django.urls import reverse

    return reverse("billing:list")


class BillingBatchCsvView(LdcMixin, View):
    """A batch's current quantities as CSV, one line per meter."""

    capability = "billing.view"

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        batch = get_object_or_404(BillingBatch.objects.for_ldc(self.ldc), public_id=public_id)
        requests = BillingQuantityRequest.objects.for_ldc(self.ldc).filter(batch=batch)
        rows = (
            BillingQuantity.objects.for_ldc(self.ldc)
            .filter(request__in=requests)
            .select_related("meter", "request__sdp")
        )
        data = [quantity_data(q) for q in latest_per_meter(rows)]
        response = HttpResponse(quantities_csv(data), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="bq-{public_id}.csv"'
        return response


class SettlementCsvView(LdcMixin, View):
    """The LDC's hourly kWh by rate class (?start=&end= local dates) as CSV."""

    capability = "billing.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        import datetime as dt

        try:
            start = dt.date.fromisoformat(request.GET.get("start", ""))
            end = dt.date.fromisoformat(request.GET.get("end", ""))
        except ValueError:
            return HttpResponse("start and end are dates YYYY-MM-DD\n", status=400)
        if end < start or (end - start).days > 62:
            return HttpResponse("end before start, or over 62 days\n", status=400)
        result = bills.settlement_hourly(ldc=self.ldc, start=start, end=end)
        lines = bills.settlement_csv_lines(result, ZoneInfo(self.ldc.time_zone))
        response = HttpResponse("\n".join(lines) + "\n", content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="settlement-{start}-{end}.csv"'
        return response


class PriceListView(CoordinatorMixin, ListView):  # type: ignore[type-arg]
    """The OEB price sets in force, by effective date."""

    template_name = "billing/price_list.html"

    def get_queryset(self) -> QuerySet[OebPriceSet]:
        return OebPriceSet.objects.order_by("-effective")


class PriceEditView(CoordinatorMixin, FormView):  # type: ignore[type-arg]
    """Add a price set, or correct one (``day``: its effective date); audited."""

    capability = "sme.manage"
    template_name = "billing/price_form.html"
    form_class = PriceSetForm

    def get_initial(self) -> dict[str, Any]:
        day = self.kwargs.get("day")
        if day is None:
            return {}
        row = get_object_or_404(OebPriceSet, effective=day)
        return {
            "effective": row.effective,
            "source": row.source,
            **PriceSetForm.initial_from(row.cents_per_kwh),
        }

    def form_valid(self, form: PriceSetForm) -> HttpResponse:
        try:
            services.price_set_save(
                effective=form.cleaned_data["effective"],
                cents_per_kwh=form.cents_per_kwh(),
                source=form.cleaned_data["source"],
                actor=self.actor,
            )
        except services.BillingError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, "Prices saved.")
        return redirect("billing:prices")
