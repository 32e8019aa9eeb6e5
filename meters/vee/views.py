"""VEE pages of an LDC's staff: the exception queue, one SDP-day with its edit form, settings."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from meters.models import MeterInstallation, ServiceDeliveryPoint, VeeException, VeeSettings
from meters.reads.charts import raw_against_current
from meters.reads.day_arrays import NEVER
from meters.reads.intervals import (
    current_flag_names,
    intervals_between,
    local_range_utc,
    rule_names,
)
from meters.vee import RULE_TITLES
from meters.vee.editing import EditError
from meters.vee.forms import VeeSettingsForm
from meters.vee.service import (
    EDIT_REASONS,
    exceptions_resolve,
    interval_edit,
    vee_settings_save,
)
from portal.mixins import LdcMixin

METHOD_CHOICES = [
    ("E2", "E2 linear interpolation"),
    ("E3", "E3 like days"),
    ("E6", "E6 average daily load"),
]


class QueueFilter(forms.Form):
    rule = forms.ChoiceField(
        required=False,
        choices=[("", "Any rule")] + [(r, f"{r} {t}") for r, t in RULE_TITLES.items()],
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *VeeException.Status.choices]
    )
    sdp = forms.CharField(required=False, label="SDP id")
    day_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    day_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )


class ExceptionQueueView(LdcMixin, View):
    """Open exceptions by rule, SDP and date, with bulk accept or estimate."""

    capability = "reads.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = QueueFilter(request.GET or {"status": "open"})
        rows = VeeException.objects.for_ldc(self.ldc).select_related("meter", "sdp")
        if form.is_valid():
            data = form.cleaned_data
            rows = rows.filter(
                **{
                    k: v
                    for k, v in {
                        "rule": data["rule"],
                        "status": data["status"],
                        "sdp__sdp_id__icontains": data["sdp"],
                        "day__gte": data["day_from"],
                        "day__lte": data["day_to"],
                    }.items()
                    if v
                }
            )
        counts = dict(
            VeeException.objects.for_ldc(self.ldc)
            .filter(status="open")
            .values_list("rule")
            .annotate(n=Count("pk"))
            .order_by()
        )
        page = Paginator(rows, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "meters/vee_queue.html",
            {
                "form": form,
                "page": page,
                "counts": counts,
                "titles": RULE_TITLES,
                "methods": METHOD_CHOICES,
                "can_edit": self.actor.can("reads.edit"),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if not self.actor.can("reads.edit"):
            raise PermissionDenied("Your role cannot resolve exceptions.")
        ids = request.POST.getlist("exception")
        action = request.POST.get("action", "")
        method = request.POST.get("method") or None
        if action not in {"accept", "estimate"} or not ids:
            messages.error(request, "Choose one or more exceptions and an action.")
            return redirect("vee:queue")
        chosen = list(
            VeeException.objects.for_ldc(self.ldc)
            .filter(public_id__in=ids, status=VeeException.Status.OPEN)
            .select_related("meter")
        )
        done = exceptions_resolve(
            ldc=self.ldc, exceptions=chosen, action=action, method=method, actor=self.actor
        )
        messages.success(
            request, f"{done} exception{'s' if done != 1 else ''} resolved ({action})."
        )
        return redirect(f"{request.path}?{request.GET.urlencode()}")


class EditForm(forms.Form):
    """Set the value of a range of hours of the local day."""

    first_hour = forms.IntegerField(min_value=0, max_value=24, label="From hour (local)")
    last_hour = forms.IntegerField(min_value=1, max_value=25, label="To hour (local, exclusive)")
    kwh = forms.DecimalField(max_digits=10, decimal_places=3, min_value=0, label="kWh per interval")
    reason = forms.ChoiceField(choices=list(EDIT_REASONS.items()))
    note = forms.CharField(required=False, max_length=300)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first_hour"), data.get("last_hour")
        if first is not None and last is not None and last <= first:
            raise forms.ValidationError("The last hour must come after the first.")
        return data


class SdpDayView(LdcMixin, View):
    """One SDP and local day: raw against validated values, each interval's flags and rules."""

    capability = "reads.view"

    def setup_day(self, sdp_id: str, day: str) -> None:
        self.sdp = get_object_or_404(ServiceDeliveryPoint.objects.for_ldc(self.ldc), sdp_id=sdp_id)
        try:
            self.day = dt.date.fromisoformat(day)
        except ValueError:
            raise Http404("not a date") from None
        install = (
            MeterInstallation.objects.for_ldc(self.ldc)
            .filter(sdp=self.sdp, effective_from__lte=self.day)
            .exclude(effective_to__lt=self.day)
            .select_related("meter")
            .first()
        )
        self.meter = install.meter if install else None
        self.tz = ZoneInfo(self.ldc.time_zone)

    def get(self, request: HttpRequest, sdp_id: str, day: str) -> HttpResponse:
        self.setup_day(sdp_id, day)
        return self.render_day(request, EditForm(initial={"first_hour": 0, "last_hour": 1}))

    def post(self, request: HttpRequest, sdp_id: str, day: str) -> HttpResponse:
        self.setup_day(sdp_id, day)
        if not self.actor.can("reads.edit"):
            raise PermissionDenied("Your role cannot edit reads.")
        form = EditForm(request.POST)
        if form.is_valid() and self.meter is not None:
            start = dt.datetime.combine(self.day, dt.time(), self.tz) + dt.timedelta(
                hours=form.cleaned_data["first_hour"]
            )
            end = dt.datetime.combine(self.day, dt.time(), self.tz) + dt.timedelta(
                hours=form.cleaned_data["last_hour"]
            )
            try:
                changed = interval_edit(
                    ldc=self.ldc,
                    meter=self.meter,
                    channel=1,
                    start=start.astimezone(dt.UTC),
                    end=end.astimezone(dt.UTC),
                    wh=int(form.cleaned_data["kwh"] * 1000),
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                    actor=self.actor,
                )
            except EditError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"{changed} interval{'s' if changed != 1 else ''} edited."
                )
                return redirect(request.path)
        return self.render_day(request, form, status=400)

    def render_day(self, request: HttpRequest, form: EditForm, status: int = 200) -> HttpResponse:
        context: dict[str, Any] = {
            "sdp": self.sdp,
            "day": self.day,
            "meter": self.meter,
            "form": form,
            "can_edit": self.actor.can("reads.edit"),
            "uses_charts": True,
        }
        if self.meter is not None:
            first, after = local_range_utc(self.day, self.day, self.tz)
            iv = intervals_between(self.ldc, first, after, meters=[self.meter.pk])
            iv = iv.select(iv.channel == 1)
            context["figure"] = raw_against_current(
                iv, self.tz, f"{self.sdp.sdp_id} on {self.day:%a %d %b %Y}"
            )
            context["rows"] = _interval_rows(iv, self.tz)
            context["exceptions"] = VeeException.objects.for_ldc(self.ldc).filter(
                meter=self.meter,
                day__gte=self.day - dt.timedelta(days=1),
                day__lte=self.day + dt.timedelta(days=1),
            )
        return render(request, "meters/vee_day.html", context, status=status)


def _interval_rows(iv: Any, tz: ZoneInfo) -> list[dict[str, Any]]:
    from meters.reads.charts import local_iso

    names = current_flag_names(iv.flags)
    rules = rule_names(iv.rules)
    labels = local_iso(iv.start, tz)
    return [
        {
            "local": labels[i][11:16],
            "raw": "" if iv.raw_quality[i] in (NEVER, 3) else f"{iv.raw_wh[i] / 1000:.3f}",
            "raw_flag": "not received"
            if iv.raw_quality[i] == NEVER
            else ["actual", "suspect", "estimated", "missing"][iv.raw_quality[i]],
            "current": "" if names[i] == "MISSING" else f"{iv.wh[i] / 1000:.3f}",
            "state": names[i].lower(),
            "method": f"E{iv.methods[i]}" if iv.methods[i] else "",
            "rules": rules[i],
            "validated": bool(iv.flags[i] & 32),
        }
        for i in range(len(iv))
    ]


class VeeSettingsView(LdcMixin, View):
    """The LDC's VEE rules, limits and thresholds (data, not code); administrators change them."""

    capability = "reads.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        row = VeeSettings.objects.for_ldc(self.ldc).first()
        return self.render_settings(request, VeeSettingsForm(current=row.params if row else {}))

    def post(self, request: HttpRequest) -> HttpResponse:
        if not self.actor.can("ldc.manage_members"):
            raise PermissionDenied("Only the LDC's administrators change VEE settings.")
        form = VeeSettingsForm(request.POST)
        if not form.is_valid():
            return self.render_settings(request, form, status=400)
        vee_settings_save(ldc=self.ldc, params=form.overrides(), actor=self.actor)
        messages.success(request, "VEE settings saved; they apply from the next run.")
        return redirect("vee:settings")

    def render_settings(
        self, request: HttpRequest, form: VeeSettingsForm, status: int = 200
    ) -> HttpResponse:
        return render(
            request,
            "meters/vee_settings.html",
            {"form": form, "can_change": self.actor.can("ldc.manage_members")},
            status=status,
        )
