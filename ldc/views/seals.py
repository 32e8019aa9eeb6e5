"""Measurement Canada seals, the LDC's side: seal expiry by meter type and seal year, the
re-verification list (page and ``?format=csv``) and compliance-sampling lots (meters/seals.py)."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import TemplateView

from meters import seals
from meters.models import SamplingLot
from portal.mixins import LdcMixin

CSV_HEADER = ["meter_id", "meter_type", "seal_year", "seal_expires", "due", "removal_by"]


class SealsView(LdcMixin, TemplateView):
    template_name = "ldc/seals.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="reverification.csv"'
            out = csv.writer(response, lineterminator="\n")
            out.writerow(CSV_HEADER)
            for r in seals.reverification_list(self.ldc):
                out.writerow([r[k] if r[k] is not None else "" for k in CSV_HEADER])
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        groups = seals.groups(self.ldc)
        context["groups"] = groups
        context["due"] = {d: sum(g.meters for g in groups if g.due == d) for d in seals.DUE}
        context["can_sample"] = self.actor.can("registry.write")
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if "lot" in request.POST:
                lot = get_object_or_404(
                    SamplingLot.objects.for_ldc(self.ldc), pk=request.POST["lot"]
                )
                try:
                    nonconforming = int(request.POST.get("nonconforming", ""))
                except ValueError:
                    raise ValidationError("Non-conforming meters: a whole number.") from None
                lot = seals.lot_record_result(
                    lot=lot, nonconforming=nonconforming, actor=self.actor
                )
                messages.success(request, f"{lot}: {lot.get_result_display().lower()}.")
            else:
                try:
                    year = int(request.POST.get("seal_year", ""))
                except ValueError:
                    raise ValidationError("Seal year: a year such as 2018.") from None
                lot = seals.lot_create(
                    ldc=self.ldc,
                    meter_type=request.POST.get("meter_type", ""),
                    seal_year=year,
                    actor=self.actor,
                )
                messages.success(
                    request, f"Lot formed: sample {lot.sample_size} of {lot.lot_size}."
                )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("ldc:seals")
