"""How TOU works: periods, prices and the calendar (for any signed-in customer)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.views.generic import TemplateView

from billing.periods import CALENDAR, TIER_THRESHOLDS_KWH
from billing.prices import price_set_on
from customers import charts, selectors, usage
from portal.mixins import CustomerMixin


class LearnView(CustomerMixin, TemplateView):
    """How TOU, ULO and tiered prices work, today's prices, and which period it is now."""

    template_name = "customers/learn.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        tz = ZoneInfo("America/Toronto")
        now = timezone.now().astimezone(tz)
        table = selectors.price_table()
        prices = price_set_on(now.date(), table)
        now_s = int(now.timestamp())
        current = []
        for plan in ("tou", "ulo"):
            period, until = usage.current_period(now_s, plan, tz)
            current.append(
                {
                    "plan": charts.PLAN_LABELS[plan],
                    "period": charts.LABELS[period],
                    "code": period,
                    "until": dt.datetime.fromtimestamp(until, tz),
                    "cents": prices.price(plan, period),
                }
            )
        context.update(
            now=now,
            current=current,
            prices=prices,
            calendar=_calendar_rows(),
            thresholds=TIER_THRESHOLDS_KWH,
            labels=charts.LABELS,
            price_rows=[
                (charts.PLAN_LABELS[plan], [(charts.LABELS[n], c) for n, c in periods.items()])
                for plan, periods in prices.cents_per_kwh.items()
            ],
        )
        return context


def _calendar_rows() -> list[dict[str, Any]]:
    """The hour table of TOU and ULO, for people (12-hour clock)."""
    rows = []
    for plan, season, kind, start, end, period in CALENDAR:
        if plan == "tiered":
            continue
        rows.append(
            {
                "plan": charts.PLAN_LABELS[plan],
                "season": {
                    "all": "All year",
                    "winter": "Winter (Nov–Apr)",
                    "summer": "Summer (May–Oct)",
                }[season],
                "days": {
                    "all": "Every day",
                    "weekday": "Weekdays",
                    "weekend": "Weekends and holidays",
                }[kind],
                "hours": f"{_clock(start)} – {_clock(end)}",
                "period": charts.LABELS[period],
                "code": period,
            }
        )
    return rows


def _clock(hour: int) -> str:
    if hour in (0, 24):
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{hour % 12} {'a.m.' if hour < 12 else 'p.m.'}"
