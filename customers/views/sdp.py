"""One SDP of the signed-in customer: found only through their own links (404 otherwise)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.urls import reverse
from django.utils import timezone

from customers import charts, occupancy, selectors, usage
from customers.forms import add_months
from customers.usage import Hours
from meters.models import ServiceDeliveryPoint
from meters.reads.intervals import local_range_utc
from portal.mixins import CustomerMixin


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
        # Only while the customer's accounts lived there (customers.occupancy).
        self.periods = occupancy.user_periods(self.request.user, self.sdp)  # type: ignore[attr-defined]
        self.plan = usage.plan_of(self.sdp.commodity_rate_class)
        self.rate_class = self.sdp.rate_class or "residential"

    def today(self) -> dt.date:
        return timezone.now().astimezone(self.tz).date()

    def load(self, start: dt.date, end: dt.date) -> tuple[Hours, int | None]:
        """Hours of local dates start..end and when the latest read ends (UTC s)."""
        first, after = local_range_utc(start, end, self.tz)
        spans = self.spans(first, after)
        rows = selectors.stored_rows(self.sdp.ldc_id, spans, first, after)
        hours = usage.hours_from_days(selectors.day_blocks(rows, spans), first, after)
        if not spans:  # no meter in range: the latest read of the current meter
            now = int(time.time())
            spans = self.spans(now - 86_400, now)
        if not spans and self.periods and self.periods[-1][1] is not None:
            # Moved out: the latest read of their last day there.
            last = local_range_utc(self.periods[-1][1], self.periods[-1][1], self.tz)
            spans = self.spans(*last)
        return hours, self._occupied_latest(selectors.latest_read(self.sdp, spans))

    def _occupied_latest(self, latest_s: int | None) -> int | None:
        """The latest read, no later than the end of the customer's occupancy (another
        occupant's latest read is not theirs); None when it is before they moved in."""
        if latest_s is None:
            return None
        occupied = occupancy.utc_spans(self.periods, self.tz, 0, latest_s)
        return max((hi for _, hi in occupied), default=None)

    def spans(self, first: int, after: int) -> list[tuple[int, str, int, int]]:
        """Meter installations at the SDP over [first, after) UTC s, cut to the occupancy."""
        return occupancy.occupied_meter_spans(self.periods, self.sdp, first, after)

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
