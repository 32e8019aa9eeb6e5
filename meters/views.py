"""Registry and read-file pages of an LDC's staff."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.views.generic import DetailView, ListView

from meters.models import Meter, MeterInstallation, ReadFile, ServiceDeliveryPoint
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
        context["installs"] = MeterInstallation.objects.for_ldc(self.ldc).filter(
            sdp=self.object
        ).select_related("meter").order_by("-effective_from")
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
        context["installs"] = MeterInstallation.objects.for_ldc(self.ldc).filter(
            meter=self.object
        ).select_related("sdp").order_by("-effective_from")
        return context


class ReadFileListView(LdcMixin, ListView):  # type: ignore[type-arg]
    """Delivered read files, newest first, with their status."""

    capability = "reads.view"
    template_name = "meters/readfile_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[ReadFile]:
        return ReadFile.objects.for_ldc(self.ldc).defer("report")
