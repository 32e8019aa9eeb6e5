"""ESPI UsageSummary entries of one meter at one SDP: per local calendar month, its Wh and the
RPP commodity cost of that use at the OEB prices in effect (usage.hour_costs, billing's prices).

NAESB REQ.21 UsageSummary: billingPeriod, billLastPeriod (in hundred-thousandths of the
currency), currency (ISO 4217 numeric: 124 = CAD), overallConsumptionLastPeriod (Wh),
qualityOfReading (8 estimated, 14 validated), statusTimeStamp. Used by Download My Data
(customers.views.download) and Connect My Data (connect.espi).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from billing.periods import PERIOD_NAMES
from customers import greenbutton, selectors, usage
from customers.greenbutton import Entry
from meters.models import ServiceDeliveryPoint
from meters.reads.intervals import local_range_utc


def usage_summary_entries(
    sdp: ServiceDeliveryPoint,
    start: dt.date,
    end: dt.date,
    *,
    serial: str,
    usage_point: str,
    base: str,
    now: dt.datetime,
    spans: Callable[[int, int], list[tuple[int, str, int, int]]],
) -> list[Entry]:
    """One UsageSummary per local month of start..end with reads of meter ``serial``;
    ``spans(first_s, after_s)`` gives the installations cut to the asker's occupancy."""
    tz = ZoneInfo(sdp.ldc.time_zone)
    first, after = local_range_utc(start, end, tz)
    spans_ = [s for s in spans(first, after) if s[1] == serial]
    if not spans_:
        return []
    rows = selectors.stored_rows(sdp.ldc_id, spans_, first, after)
    hours = usage.hours_from_days(selectors.day_blocks(rows, spans_), first, after)
    plan = usage.plan_of(sdp.commodity_rate_class)
    cost = usage.hour_costs(hours, plan, tz, selectors.price_table(), sdp.rate_class)
    months = range(usage.month_index(start), usage.month_index(end) + 1)
    grouped = usage.by_month(
        hours, usage.hour_codes(hours, plan, tz), cost, len(PERIOD_NAMES[plan]), tz, months
    )
    stamp = greenbutton.atom_time(now)
    used = grouped.hours > 0  # months with data (none before move-in or the first read)
    out = []
    for key, kwh, dollars, estimated in zip(
        grouped.keys[used],
        grouped.total_kwh[used],
        grouped.cost[used],
        grouped.estimated_kwh[used],
        strict=True,
    ):
        month = usage.month_start(int(key))
        lo, hi = local_range_utc(month, usage.month_start(int(key) + 1) - dt.timedelta(days=1), tz)
        content = (
            '<UsageSummary xmlns="http://naesb.org/espi">'
            f"<billingPeriod><duration>{hi - lo}</duration><start>{lo}</start></billingPeriod>"
            f"<billLastPeriod>{round(float(dollars) * 100_000)}</billLastPeriod>"
            "<currency>124</currency><overallConsumptionLastPeriod>"
            "<powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom>"
            f"<value>{round(float(kwh) * 1000)}</value></overallConsumptionLastPeriod>"
            f"<qualityOfReading>{8 if estimated > 0 else 14}</qualityOfReading>"
            f"<statusTimeStamp>{int(now.timestamp())}</statusTimeStamp>"
            "<commodity>1</commodity></UsageSummary>"
        )
        out.append(
            greenbutton.summary_entry(
                f"{usage_point}/UsageSummary/{month:%Y%m}",
                f"{usage_point}/UsageSummary",
                content,
                stamp=stamp,
                base=base,
                title=f"{month:%B %Y}",
            )
        )
    return out
