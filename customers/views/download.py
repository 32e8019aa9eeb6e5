"""The customer's data as Green Button XML or CSV (up to 24 months, audited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.generic import FormView

from customers import greenbutton, selectors
from customers.forms import DownloadForm, add_months
from customers.services import (
    usage_export_record,
)
from customers.summaries import usage_summary_entries
from customers.views.sdp import SdpMixin
from meters.models import ServiceDeliveryPoint
from meters.reads.intervals import local_range_utc


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
        body, count = export(self.sdp, start, end, fmt, spans=self.spans)
        usage_export_record(
            sdp=self.sdp, start=start, end=end, fmt=fmt, intervals=count, actor=self.actor
        )
        kind = "application/atom+xml" if fmt == "xml" else "text/csv"
        response = HttpResponse(body, content_type=f"{kind}; charset=utf-8")
        name = f"greenbutton_{self.sdp.sdp_id}_{start:%Y%m%d}_{end:%Y%m%d}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        patch_cache_control(response, private=True, no_store=True)
        return response


def export(
    sdp: ServiceDeliveryPoint,
    start: dt.date,
    end: dt.date,
    fmt: str,
    *,
    spans: Callable[[int, int], list[tuple[int, str, int, int]]],
) -> tuple[str, int]:
    """The export text of an SDP's reads over local dates start..end, and its interval count.

    ``spans(first_s, after_s)`` gives the meter installations cut to the asker's occupancy
    (SdpMixin.spans; customers.occupancy): nothing outside it is exported."""
    tz = ZoneInfo(sdp.ldc.time_zone)
    first, after = local_range_utc(start, end, tz)
    spans_ = spans(first, after)
    rows = selectors.stored_rows(sdp.ldc_id, spans_, first, after)
    meters = selectors.export_days(rows, spans_)
    count = greenbutton.interval_count(meters)
    if fmt == "csv":
        return greenbutton.csv_text(meters, tz), count
    label = f"{sdp.ldc.name} SDP {sdp.sdp_id}"
    key = f"{sdp.ldc.slug}-{sdp.sdp_id}"
    now = timezone.now()
    subscription = greenbutton.subscription_of(key)
    summaries = [  # the period's use and cost per month (NAESB REQ.21 UsageSummary)
        entry
        for serial in dict.fromkeys(m.serial for m in meters)
        for entry in usage_summary_entries(
            sdp,
            start,
            end,
            serial=serial,
            usage_point=greenbutton.usage_point_of(subscription, serial),
            base=greenbutton.BASE,
            now=now,
            spans=spans,
        )
    ]
    feed = greenbutton.espi_feed(
        meters, tz=tz, sdp_label=label, feed_key=key, now=now, summaries=summaries
    )
    return feed, count
