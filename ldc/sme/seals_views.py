"""The coordinators' Measurement Canada page: per LDC, how many meters' seals are overdue or
expire this year or next (counts of meters, no customer data), as a page and ``?format=csv``."""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.generic import TemplateView

from meters import seals
from portal.mixins import CoordinatorMixin
from portal.tenancy import LDC


def _rows() -> list[dict[str, Any]]:
    rows = []
    for ldc in LDC.objects.order_by("name"):
        groups = seals.groups(ldc)
        due = {d: sum(g.meters for g in groups if g.due == d) for d in seals.DUE}
        rows.append({"ldc": ldc, "sealed": sum(g.meters for g in groups), **due})
    return rows


class SmeSealsView(CoordinatorMixin, TemplateView):
    template_name = "ldc/sme_seals.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="seals-by-ldc.csv"'
            out = csv.writer(response, lineterminator="\n")
            out.writerow(["ldc", "sealed", "overdue", "this_year", "next_year"])
            for r in _rows():
                out.writerow(
                    [r["ldc"].slug, r["sealed"], r["overdue"], r["this_year"], r["next_year"]]
                )
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "rows": _rows()}
