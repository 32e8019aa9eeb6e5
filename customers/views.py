"""Customer pages: link accounts, usage by TOU period, plans, insights, Green Button download.

Every usage page reads the SDP's stored days in one query (after the installations, one more)
and computes everything from the hourly arrays (customers.usage); another customer's SDP is a
404 because the SDP is looked up through the user's own links.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views import View
from django.views.generic import FormView, TemplateView

from billing.periods import CALENDAR, PERIOD_NAMES, TIER_THRESHOLDS_KWH
from billing.prices import price_set_on
from customers import charts, greenbutton, insights, selectors, usage
from customers.forms import DownloadForm, InvitationForm, LinkAccountForm, WhatIfForm, add_months
from customers.models import AccountLink, CustomerAccount
from customers.services import (
    account_link,
    account_unlink,
    customer_invitation_accept,
    customer_invitation_create,
    invitation_for_token,
    usage_export_record,
    user_has_email,
)
from customers.usage import Hours
from meters.models import ServiceDeliveryPoint
from meters.selectors import local_range_utc
from portal.mixins import CustomerMixin, LdcMixin

SCALES = ("day", "week", "month", "year")


class LinkAccountView(CustomerMixin, FormView):  # type: ignore[type-arg]
    """Link a customer account with its number, SDP id and a check the LDC controls."""

    template_name = "customers/link.html"
    form_class = LinkAccountForm
    success_url = reverse_lazy("home")

    def form_valid(self, form: LinkAccountForm) -> HttpResponse:
        try:
            account_link(user=self.request.user, actor=self.actor, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Your account is linked.")
        return super().form_valid(form)


class UnlinkAccountView(CustomerMixin, View):
    """Remove one of the customer's own links (another person's link is a 404)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        link = get_object_or_404(AccountLink, pk=kwargs["link_id"], user=request.user)
        account_unlink(link=link, actor=self.actor)
        messages.success(request, "The account is no longer linked.")
        return redirect("home")


# --- one SDP of the customer ---------------------------------------------------------------


class SdpMixin(CustomerMixin):
    """Resolves ``self.sdp`` among the customer's own SDPs, with its zone and plan."""

    sdp: ServiceDeliveryPoint
    tab = ""

    def check_actor(self, actor: Any) -> None:
        super().check_actor(actor)
        self.sdp = selectors.customer_sdp(
            self.request.user,  # type: ignore[attr-defined]
            self.kwargs["slug"],  # type: ignore[attr-defined]
            self.kwargs["sdp_id"],  # type: ignore[attr-defined]
        )
        self.tz = ZoneInfo(self.sdp.ldc.time_zone)
        self.plan = usage.plan_of(self.sdp.commodity_rate_class)
        self.rate_class = self.sdp.rate_class or "residential"

    def today(self) -> dt.date:
        return timezone.now().astimezone(self.tz).date()

    def load(self, start: dt.date, end: dt.date) -> tuple[Hours, int | None]:
        """Hours of local dates start..end and when the latest read ends (UTC s)."""
        first, after = local_range_utc(start, end, self.tz)
        spans = selectors.meter_spans(self.sdp, first, after)
        rows = selectors.stored_rows(self.sdp.ldc_id, spans, first, after)
        hours = usage.hours_from_days(selectors.day_blocks(rows, spans), first, after)
        if not spans:  # no meter in range: the latest read of the current meter
            now = int(time.time())
            spans = selectors.meter_spans(self.sdp, now - 86_400, now)
        return hours, selectors.latest_read(self.sdp, spans)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        url = {"slug": self.sdp.ldc.slug, "sdp_id": self.sdp.sdp_id}
        context.update(
            sdp=self.sdp,
            plan=self.plan,
            plan_label=charts.PLAN_LABELS[self.plan],
            tab=self.tab,
            uses_charts=True,
            tabs=[
                (name, label, reverse(f"customers:usage-{name}", kwargs=url))
                for name, label in (
                    ("day", "Day"),
                    ("week", "Week"),
                    ("month", "Month"),
                    ("year", "Year"),
                    ("plans", "Plans"),
                    ("insights", "Insights"),
                    ("download", "Download"),
                )
            ],
        )
        return context  # type: ignore[no-any-return]


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


class YearWindowMixin(SdpMixin):
    """The last 12 months of whole local days (to yesterday)."""

    def window(self) -> tuple[dt.date, dt.date]:
        end = self.today() - dt.timedelta(days=1)
        return add_months(end, -12) + dt.timedelta(days=1), end

    def year_hours(self) -> tuple[Hours, dt.date, dt.date]:
        start, end = self.window()
        hours, _ = self.load(start, end)
        present = np.flatnonzero(~hours.missing)
        if present.size:  # "or what exists": from the first hour with a value
            hours = hours.select(slice(int(present[0]), None))
            start = dt.datetime.fromtimestamp(int(hours.start[0]), self.tz).date()
        return hours, start, end


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


class DownloadView(SdpMixin, FormView):  # type: ignore[type-arg]
    """Green Button Download My Data: ESPI XML or CSV of up to 24 months; every export audited."""

    template_name = "customers/download.html"
    form_class = DownloadForm
    tab = "download"

    def get_initial(self) -> dict[str, Any]:
        end = self.today() - dt.timedelta(days=1)
        start = add_months(end, -12) + dt.timedelta(days=1)
        # ISO strings: the date inputs need them, whatever the locale's date format.
        return {"start": start.isoformat(), "end": end.isoformat(), "format": "xml"}

    def form_valid(self, form: DownloadForm) -> HttpResponse:
        start, end, fmt = (form.cleaned_data[k] for k in ("start", "end", "format"))
        body, count = export(self.sdp, start, end, fmt)
        usage_export_record(
            sdp=self.sdp, start=start, end=end, fmt=fmt, intervals=count, actor=self.actor
        )
        kind = "application/atom+xml" if fmt == "xml" else "text/csv"
        response = HttpResponse(body, content_type=f"{kind}; charset=utf-8")
        name = f"greenbutton_{self.sdp.sdp_id}_{start:%Y%m%d}_{end:%Y%m%d}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        patch_cache_control(response, private=True, no_store=True)
        return response


def export(sdp: ServiceDeliveryPoint, start: dt.date, end: dt.date, fmt: str) -> tuple[str, int]:
    """The export text of an SDP's reads over local dates start..end, and its interval count."""
    tz = ZoneInfo(sdp.ldc.time_zone)
    first, after = local_range_utc(start, end, tz)
    spans = selectors.meter_spans(sdp, first, after)
    meters = selectors.export_days(selectors.stored_rows(sdp.ldc_id, spans, first, after), spans)
    count = greenbutton.interval_count(meters)
    if fmt == "csv":
        return greenbutton.csv_text(meters, tz), count
    label = f"{sdp.ldc.name} SDP {sdp.sdp_id}"
    key = f"{sdp.ldc.slug}-{sdp.sdp_id}"
    return greenbutton.espi_feed(
        meters, tz=tz, sdp_label=label, feed_key=key, now=timezone.now()
    ), count


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


# --- invitations ----------------------------------------------------------------------------


class InvitationListView(LdcMixin, FormView):  # type: ignore[type-arg]
    """LDC staff invite a customer by e-mail to link an account, and see the invitations."""

    capability = "customers.invite"
    template_name = "customers/invitations.html"
    form_class = InvitationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["invitations"] = selectors.invitations_for_ldc(self.ldc)[:100]
        context["now"] = timezone.now()
        return context

    def form_valid(self, form: InvitationForm) -> HttpResponse:
        account = (
            CustomerAccount.objects.for_ldc(self.ldc)
            .filter(account_number=form.cleaned_data["account_number"].strip())
            .first()
        )
        if account is None:
            form.add_error("account_number", "No account with this number.")
            return self.form_invalid(form)
        request = self.request
        customer_invitation_create(
            ldc=self.ldc,
            account=account,
            email=form.cleaned_data["email"],
            accept_url=lambda token: request.build_absolute_uri(
                reverse("customers:invite-accept", args=[token])
            ),
            actor=self.actor,
        )
        messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        return redirect("customers:invitations")


class InvitationAcceptView(CustomerMixin, TemplateView):
    """The link in the invitation e-mail: after sign-up or login, link the account in one click.

    Only the person the invitation was sent to (by e-mail address) sees it; anyone else, a used
    or an expired token get a 404, so the page tells a stranger nothing.
    """

    template_name = "customers/invite_accept.html"

    def check_actor(self, actor: Any) -> None:
        super().check_actor(actor)
        invitation = invitation_for_token(self.kwargs["token"])
        if (
            invitation is None
            or not invitation.is_open()
            or not user_has_email(self.request.user, invitation.email)
        ):
            raise Http404("No such invitation.")
        self.invitation = invitation

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["invitation"] = self.invitation
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            customer_invitation_accept(
                invitation=self.invitation, user=request.user, actor=self.actor
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect("home")
        messages.success(request, f"Account {self.invitation.account.account_number} is linked.")
        return redirect("home")
