"""Registry pages of an LDC's staff: SDPs, meters, the registry upload, data quality."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import DetailView, FormView, ListView, TemplateView

from meters.models import (
    BillingCycle,
    IntervalDay,
    Meter,
    MeterInstallation,
    SdpTerms,
    ServiceDeliveryPoint,
)
from meters.reads.charts import interval_bars
from meters.reads.day_arrays import NEVER
from meters.reads.intervals import intervals_between
from meters.registry.cycles import billing_cycle_save
from meters.registry.forms import BillingCycleForm, RegistryUploadForm
from meters.registry.selectors import data_quality
from meters.registry.sync import RowError, read_registry_csv, registry_sync
from portal.mixins import LdcMixin


class SdpListView(LdcMixin, ListView):  # type: ignore[type-arg]
    """Service delivery points, searchable by SDP id or postal code."""

    capability = "registry.view"
    template_name = "meters/sdp_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[ServiceDeliveryPoint]:
        rows = ServiceDeliveryPoint.objects.for_ldc(self.ldc).select_related("billing_cycle")
        q = self.request.GET.get("q", "").strip()
        if q:
            rows = rows.filter(Q(sdp_id__icontains=q) | Q(postal_code__icontains=q))
        return rows


class SdpDetailView(LdcMixin, DetailView):  # type: ignore[type-arg]
    """One SDP: its attributes and the meters installed there over time."""

    capability = "registry.view"
    template_name = "meters/sdp_detail.html"
    context_object_name = "sdp"

    def get_object(self, queryset: Any = None) -> ServiceDeliveryPoint:
        return get_object_or_404(
            ServiceDeliveryPoint.objects.for_ldc(self.ldc), sdp_id=self.kwargs["sdp_id"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The terms history, newest first (#19: a change is a row from its date).
        context["terms"] = (
            SdpTerms.objects.for_ldc(self.ldc)
            .filter(sdp=self.object)
            .select_related("billing_cycle", "billing_agent")
            .order_by("-effective_from")
        )
        context["today"] = timezone.localdate()
        context["installs"] = (
            MeterInstallation.objects.for_ldc(self.ldc)
            .filter(sdp=self.object)
            .select_related("meter")
            .order_by("-effective_from")
        )
        return context


class MeterListView(LdcMixin, ListView):  # type: ignore[type-arg]
    """Meters, searchable by serial."""

    capability = "registry.view"
    template_name = "meters/meter_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Meter]:
        rows = Meter.objects.for_ldc(self.ldc).select_related("headend")
        q = self.request.GET.get("q", "").strip()
        if q:
            rows = rows.filter(serial__icontains=q)
        return rows


class MeterDetailView(LdcMixin, DetailView):  # type: ignore[type-arg]
    """One meter and its installation history."""

    capability = "registry.view"
    template_name = "meters/meter_detail.html"
    context_object_name = "meter"

    def get_object(self, queryset: Any = None) -> Meter:
        return get_object_or_404(Meter.objects.for_ldc(self.ldc), serial=self.kwargs["serial"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(self._recent_reads())
        context["installs"] = (
            MeterInstallation.objects.for_ldc(self.ldc)
            .filter(meter=self.object)
            .select_related("sdp")
            .order_by("-effective_from")
        )
        return context

    def _recent_reads(self) -> dict[str, Any]:
        """The last 14 days the repository holds for this meter, as a chart."""
        tz = ZoneInfo(self.ldc.time_zone)
        last = (
            IntervalDay.objects.for_ldc(self.ldc).filter(meter=self.object).order_by("-day").first()
        )
        if last is None:
            return {"figure": None}
        after = int(dt.datetime.combine(last.day, dt.time(), dt.UTC).timestamp()) + 86_400
        iv = intervals_between(self.ldc, after - 14 * 86_400, after, meters=[self.object.pk])
        received = iv.select(iv.raw_quality != NEVER)
        title = f"{self.object.serial}: last 14 days of reads (local time)"
        return {
            "figure": interval_bars(received, tz, title),
            "uses_charts": True,
            "reads_summary": {
                "intervals": len(received),
                "missing": int((received.raw_quality == 3).sum()),
                "estimated": int((received.raw_quality == 2).sum()),
            },
        }


class RegistryUploadView(LdcMixin, FormView):  # type: ignore[type-arg]
    """Sync the registry from the LDC's CSV; refused rows are listed with their row number."""

    capability = "registry.write"
    template_name = "meters/registry_upload.html"
    form_class = RegistryUploadForm

    def form_valid(self, form: RegistryUploadForm) -> HttpResponse:
        upload = form.cleaned_data["file"]
        try:
            result = registry_sync(
                ldc=self.ldc,
                rows=read_registry_csv(upload.file, upload.name),
                actor=self.actor,
                source=upload.name,
            )
        except (RowError, UnicodeDecodeError) as exc:
            form.add_error("file", str(exc))
            return self.form_invalid(form)
        return self.render_to_response(
            self.get_context_data(form=self.form_class(), result=result, source=upload.name)
        )


class DataQualityView(LdcMixin, TemplateView):
    """Registry data-quality issues: SDPs without rate class, bad postal codes, orphan meters."""

    capability = "registry.view"
    template_name = "meters/data_quality.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        issues = data_quality(self.ldc)
        context["issues"] = [
            ("SDPs without a rate class", issues["no_rate_class"], "sdp"),
            ("SDPs with an invalid postal code", issues["invalid_postal_code"], "sdp"),
            ("Active SDPs without a meter", issues["sdps_without_meter"], "sdp"),
            ("Meters not installed at any SDP", issues["meters_without_sdp"], "meter"),
        ]
        return context


class BillingCycleView(LdcMixin, FormView):  # type: ignore[type-arg]
    """The LDC's billing cycles (code, read day, SDPs billed in each today) and a form to add
    one or change one (registry writers)."""

    capability = "registry.view"
    template_name = "meters/billing_cycles.html"
    form_class = BillingCycleForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["cycles"] = (
            BillingCycle.objects.for_ldc(self.ldc)
            .annotate(sdp_count=Count("sdps"))
            .order_by("code")
        )
        context["can_edit"] = self.actor.can("registry.write")
        return context

    def form_valid(self, form: BillingCycleForm) -> HttpResponse:
        if not self.actor.can("registry.write"):
            form.add_error(None, "Your role may see the billing cycles but not change them.")
            return self.form_invalid(form)
        data = form.cleaned_data
        try:
            billing_cycle_save(
                ldc=self.ldc,
                code=data["code"],
                name=data["name"],
                read_day=data["read_day"],
                actor=self.actor,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        return redirect(reverse("meters:billing-cycles") + f"?saved={data['code']}")
