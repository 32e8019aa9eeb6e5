"""Price plans compared on the customer's own year, a what-if, and insights."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from customers import charts, insights, selectors, usage
from customers.forms import WhatIfForm
from customers.views.sdp import YearWindowMixin


class PlansView(YearWindowMixin, TemplateView):
    """TOU, ULO and tiered over the customer's own last 12 months; a what-if of shifting use."""

    template_name = "customers/plans.html"
    tab = "plans"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        hours, start, end = self.year_hours()
        table = selectors.price_table()
        compared = insights.plan_comparison(hours, self.tz, table, self.rate_class)
        form = WhatIfForm(self.request.GET or None)
        share, target = 20, "off_peak"
        if form.is_bound and form.is_valid():
            share, target = form.cleaned_data["share"], form.cleaned_data["target"]
        what_plan = "ulo" if target == "ultra_low_overnight" else "tou"
        what_if = usage.shift_saving(
            hours, what_plan, self.tz, table, share=share / 100, target=target
        )
        charges = {p["plan"]: p["charge"] for p in compared["plans"]}
        context.update(
            compared=compared,
            figure=charts.plan_bars(compared["plans"], compared["cheapest"]),
            start=start,
            end=end,
            current_charge=charges.get(self.plan),
            saving_vs_current=(
                charges[self.plan] - charges[compared["cheapest"]] if compared["cheapest"] else 0.0
            ),
            form=form if form.is_bound else WhatIfForm(initial={"share": 20}),
            share=share,
            target=target,
            what_plan=charts.PLAN_LABELS[what_plan],
            what_if=what_if,
            plan_labels=charts.PLAN_LABELS,
        )
        return context


class InsightsView(YearWindowMixin, TemplateView):
    """On-peak share against the typical split, base load, unusual days, tips."""

    template_name = "customers/insights.html"
    tab = "insights"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        hours, start, end = self.year_hours()
        table = selectors.price_table()
        compared = insights.plan_comparison(hours, self.tz, table, self.rate_class)
        figures = insights.insight_figures(
            hours, self.tz, table, cheapest=compared["cheapest"], plan=self.plan
        )
        context.update(
            start=start,
            end=end,
            figures=figures,
            split_figure=charts.share_bars(figures["split"], figures["typical"]),
            heatmap=charts.heatmap(usage.heatmap(hours, self.tz)),
            shares=[
                {
                    "name": charts.LABELS[n],
                    "code": n,
                    "mine": figures["split"][n],
                    "typical": figures["typical"][n],
                }
                for n in ("off_peak", "mid_peak", "on_peak")
            ],
        )
        return context
