"""The weekly data-quality dashboard of an LDC: its staff see their own; coordinators (ldc.sme)
see every LDC's through the same context."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from django.views.generic import TemplateView

from ldc import charts
from meters.data_quality import weekly_quality
from meters.read_success import WINDOW_DAYS
from portal.mixins import LdcMixin
from portal.tenancy import LDC


def quality_end(request: HttpRequest) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        return None


def quality_context(ldc: LDC, end: dt.date | None) -> dict[str, Any]:
    week = weekly_quality(ldc, end)
    week_span = dt.timedelta(days=WINDOW_DAYS)
    latest = timezone.localdate() - dt.timedelta(days=1)
    return {
        "week": week,
        "read_figure": charts.daily_read_success(week["daily"], week["obligation_pct"]),
        "rule_figure": charts.exceptions_by_rule(week["exceptions"]),
        "previous_end": (week["last"] - week_span).isoformat(),
        "next_end": (week["last"] + week_span).isoformat() if week["last"] < latest else "",
        "uses_charts": True,
    }


class StaffQualityView(LdcMixin, TemplateView):
    """The LDC's own weekly data-quality dashboard (its staff see their LDC only)."""

    template_name = "portal/rollout_quality.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        asked = self.request.GET.get("ldc", "")
        if asked and asked != self.ldc.slug:
            raise Http404("No such LDC.")  # another LDC's: not found, like a missing one
        context.update(quality_context(self.ldc, quality_end(self.request)), coordinator=False)
        return context
