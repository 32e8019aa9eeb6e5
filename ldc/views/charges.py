"""The Smart Metering Charge statements page and CSV (an LDC's own; the coordinators' page in
ldc/sme/views.py shows every LDC's through the same template and CSV)."""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.generic import TemplateView

from ldc import charges
from ldc.models import SmcRebate
from portal.access import Actor
from portal.mixins import LdcMixin


def charges_csv(actor: Actor) -> HttpResponse:
    """``ldc,month,meters,rate,amount`` of what the actor may see."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="smart-metering-charge.csv"'
    out = csv.writer(response, lineterminator="\n")
    out.writerow(charges.CSV_HEADER)
    out.writerows(charges.csv_rows(charges.statements_for(actor)))
    return response


def charges_context(actor: Actor) -> dict[str, Any]:
    rebates = SmcRebate.objects.select_related("ldc").order_by("-year", "ldc__slug")
    if not actor.is_coordinator:
        rebates = rebates.filter(ldc=actor.ldc)
    return {"statements": charges.statements_for(actor), "rebates": list(rebates)}


class ChargesPage(TemplateView):
    """The statements page of ``self.actor`` (``?format=csv``), scoped by charges_context."""

    template_name = "ldc/charges.html"
    actor: Actor

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("format") == "csv":
            return charges_csv(self.actor)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **charges_context(self.actor)}


class ChargesView(LdcMixin, ChargesPage):
    """The LDC's own Smart Metering Charge statements and rebates (``?format=csv``)."""
