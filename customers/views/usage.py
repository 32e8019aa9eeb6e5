"""Usage by day, week, month and year: kWh and cost by TOU period against last year.

Every usage page reads the SDP's stored days in one query (after the installations, one more)
and computes everything from the hourly arrays (customers.usage)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.generic import TemplateView

from billing.periods import PERIOD_NAMES
from customers import charts, selectors, usage
from customers.forms import add_months
from customers.usage import Hours
from customers.views.sdp import SdpMixin
from meters.reads.intervals import local_range_utc

SCALES = ("day", "week", "month", "year")


def _parse_date(text: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else default
    except ValueError:
        return default


def scale_range(scale: str, day: dt.date) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """(start, end, previous anchor, next anchor) of the day/week/month/year holding ``day``."""
    if scale == "day":
        return day, day, day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    if scale == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=6)
        return start, end, start - dt.timedelta(days=7), start + dt.timedelta(days=7)
    if scale == "month":
        start = day.replace(day=1)
        after = add_months(start, 1)
        return start, after - dt.timedelta(days=1), add_months(start, -1), after
    start = day.replace(month=1, day=1)
    return (
        start,
        day.replace(month=12, day=31),
        start.replace(year=start.year - 1),
        start.replace(year=start.year + 1),
    )


def last_year(scale: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The same period a year before: weeks 52 weeks back (same weekdays), else by calendar."""
    if scale in ("day", "week"):
        shift = dt.timedelta(days=364)
        return start - shift, end - shift
    return add_months(start, -12), add_months(end.replace(day=1), -11) - dt.timedelta(days=1)


class UsageView(SdpMixin, TemplateView):
    """Day, week, month or year of an SDP: kWh by price period, cost, against last year."""

    scale = "day"

    @property
    def tab(self) -> str:  # type: ignore[override]
        return self.scale

    def get_template_names(self) -> list[str]:
        return ["customers/usage_day.html" if self.scale == "day" else "customers/usage_range.html"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        # Reads of past days change only by VEE and edits: a short private cache is safe.
        patch_cache_control(response, private=True, max_age=60)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        today = self.today()
        anchor = _parse_date(self.request.GET.get("date"), today - dt.timedelta(days=1))
        start, end, before, after = scale_range(self.scale, anchor)
        prior = last_year(self.scale, start, end)
        load_from = prior[0] if self.scale != "day" else start
        hours, latest_s = self.load(load_from, end)
        table = selectors.price_table()
        now_s = int(time.time())
        period, until_s = usage.current_period(now_s, self.plan, self.tz)
        context.update(
            anchor=anchor,
            start=start,
            end=end,
            prev_date=before,
            next_date=after if after <= today else None,
            today=today,
            includes_today=start <= today <= end,
            latest=_local_dt(latest_s, self.tz),
            now_period=charts.LABELS[period],
            now_period_code=period,
            now_until=_local_dt(until_s, self.tz),
            last_year_start=prior[0],
            last_year_end=prior[1],
        )
        if self.scale == "day":
            context.update(self._day(hours, table))
        else:
            context.update(self._range(hours, table, start, end, prior))
        return context

    def _day(self, hours: Hours, table: Any) -> dict[str, Any]:
        codes = usage.hour_codes(hours, self.plan, self.tz)
        cost = usage.hour_costs(hours, self.plan, self.tz, table, self.rate_class)
        _, local_hour = usage.local_clock(hours.start, self.tz)
        labels = charts.hour_labels(local_hour.tolist())
        names = PERIOD_NAMES[self.plan]
        by_period = usage.period_totals(hours.kwh, codes, self.plan)
        cost_by = np.bincount(codes, cost, len(names)) if len(hours) else np.zeros(len(names))
        rows = [
            {
                "label": labels[i],
                "period": charts.LABELS[names[c]],
                "code": names[c],
                # Formatted here: 24 rows x floatformat is a good part of the page's time.
                "kwh": f"{hours.kwh[i]:.3f}",
                "cents": f"{cost[i] * 100:.1f}",
                "estimated": bool(hours.estimated[i]),
                "missing": bool(hours.missing[i]),
            }
            for i, c in enumerate(codes.tolist())
        ]
        present = int((~hours.missing).sum())
        return {
            "figure": charts.day_bars(
                labels, hours.kwh, codes, cost, hours.estimated, hours.missing, self.plan
            ),
            "rows": rows,
            "periods": [
                {
                    "name": charts.LABELS[n],
                    "code": n,
                    "kwh": by_period[n],
                    "cost": float(cost_by[i]),
                }
                for i, n in enumerate(names)
            ],
            "total_kwh": float(hours.kwh.sum()),
            "total_cost": float(cost.sum()),
            "hours_present": present,
            "hours_estimated": int(hours.estimated.sum()),
            "hours_total": len(hours),
        }

    def _range(
        self,
        hours: Hours,
        table: Any,
        start: dt.date,
        end: dt.date,
        prior: tuple[dt.date, dt.date],
    ) -> dict[str, Any]:
        tz, plan = self.tz, self.plan
        first, after = local_range_utc(start, end, tz)
        current = hours.between(first, after)
        before = hours.between(*local_range_utc(prior[0], prior[1], tz))
        n = len(PERIOD_NAMES[plan])
        now_codes = usage.hour_codes(current, plan, tz)
        now_cost = usage.hour_costs(current, plan, tz, table, self.rate_class)
        old_codes = usage.hour_codes(before, plan, tz)
        old_cost = np.zeros(len(before))
        if self.scale == "year":
            months = range(usage.month_index(start), usage.month_index(end) + 1)
            grouped = usage.by_month(current, now_codes, now_cost, n, tz, months)
            old_months = range(months.start - 12, months.stop - 12)
            old = usage.by_month(before, old_codes, old_cost, n, tz, old_months)
            labels = [usage.month_start(m).strftime("%b") for m in months]
        else:
            days = range(usage.day_number(start), usage.day_number(end) + 1)
            grouped = usage.by_day(current, now_codes, now_cost, n, tz, days)
            old_days = range(usage.day_number(prior[0]), usage.day_number(prior[1]) + 1)
            old = usage.by_day(before, old_codes, old_cost, n, tz, old_days)
            fmt = "%a %-d" if self.scale == "week" else "%-d"
            labels = [usage.local_date(d).strftime(fmt) for d in days]
        old_totals = old.total_kwh
        if old_totals.size != grouped.keys.size:  # months of 28-31 days: align by position
            old_totals = np.resize(
                np.r_[old_totals, np.zeros(grouped.keys.size)], grouped.keys.size
            )
        names = PERIOD_NAMES[plan]
        totals = grouped.kwh.sum(axis=0)
        base = usage.base_load_kw(current, tz)
        return {
            "figure": charts.range_bars(
                labels, grouped.kwh, grouped.cost, old_totals, plan, grouped.hours > 0
            ),
            "heatmap": charts.heatmap(usage.heatmap(current, tz)),
            "periods": [
                {"name": charts.LABELS[nm], "code": nm, "kwh": float(totals[i])}
                for i, nm in enumerate(names)
            ],
            "total_kwh": float(totals.sum()),
            "total_cost": float(grouped.cost.sum()),
            "last_year_kwh": float(old.total_kwh.sum()),
            "estimated_kwh": float(grouped.estimated_kwh.sum()),
            "base_kw": base,
            "base_share_pct": (
                100 * base * int((~current.missing).sum()) / float(totals.sum())
                if base and totals.sum() > 0
                else None
            ),
            "hours_present": int((~current.missing).sum()),
        }


def _local_dt(epoch_s: int | None, tz: ZoneInfo) -> dt.datetime | None:
    return None if epoch_s is None else dt.datetime.fromtimestamp(epoch_s, tz)
