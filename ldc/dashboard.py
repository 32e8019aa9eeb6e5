"""Read-side figures of an LDC's home page: where it stands in the MDM/R stages, its registry,
yesterday's read success against the 98.0 % obligation, VEE and billing work waiting, enrollment
progress and data-quality issues."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from billing.models import BillingQuantityRequest
from billing.models import Status as BqStatus
from ldc import charts
from ldc.enrollment import enrollment_summary, group_progress, groups_with_counts
from ldc.models import EnrollmentGroup
from ldc.selectors import ldc_figures
from ldc.stages import late_items, next_deadline, stage_timeline, stages_ensure
from meters.models import VeeException
from meters.read_success import ldc_read_success, window
from meters.reads.spool import OBLIGATION_PCT
from meters.registry.selectors import data_quality
from portal.tenancy import LDC

DATA_QUALITY_LABELS = {
    "no_rate_class": "SDPs without a rate class",
    "invalid_postal_code": "SDPs with an invalid postal code",
    "sdps_without_meter": "active SDPs without a meter",
    "meters_without_sdp": "meters not installed at an SDP",
}


def read_success_by_day(ldc: LDC, first: dt.date, last: dt.date) -> dict[str, Any]:
    """Per local day from ``first`` to ``last``: reads expected of the installed meters, actual
    reads delivered and the rate (meters.read_success, the count the SME's pages show too)."""
    days = window(last, (last - first).days + 1)
    counts = list(ldc_read_success(ldc, days).values())
    return {
        "days": days,
        "expected": [c.expected for c in counts],
        "delivered": [c.delivered for c in counts],
        "pct": [c.pct for c in counts],
    }


def ldc_dashboard(ldc: LDC, *, has_reads: bool = True) -> dict[str, Any]:
    """Everything the LDC's home page shows, with its plotly figures. ``has_reads`` False (no read
    file ever received): read success is not measured yet rather than 0 %."""
    stages_ensure(ldc=ldc)
    timeline = stage_timeline(ldc)
    week = window()
    success = read_success_by_day(ldc, week[0], week[-1])
    yesterday = week[-1]
    groups = list(groups_with_counts(ldc).exclude(status=EnrollmentGroup.Status.CANCELLED))
    for group in groups:
        group.progress = group_progress(group)  # type: ignore[attr-defined]
    quality = [
        {"key": key, "label": DATA_QUALITY_LABELS[key], "count": qs.count()}
        for key, qs in data_quality(ldc).items()
    ]
    if not has_reads:
        success["pct"] = [None] * len(success["pct"])
    yesterday_pct = success["pct"][-1]
    return {
        "timeline": timeline,
        "current": next(s for s in timeline if s["current"]),
        "next_deadline": next_deadline(ldc),
        "late_items": late_items(ldc)[:5],
        "read_success": {
            "day": yesterday,
            "pct": yesterday_pct,
            "target": OBLIGATION_PCT,
            "meets": yesterday_pct is not None and yesterday_pct >= OBLIGATION_PCT,
            "expected": success["expected"][-1],
            "delivered": success["delivered"][-1],
        },
        "open_vee": VeeException.objects.for_ldc(ldc)
        .filter(status=VeeException.Status.OPEN)
        .count(),
        "pending_bq": BillingQuantityRequest.objects.for_ldc(ldc)
        .filter(status=BqStatus.PENDING)
        .count(),
        "groups": groups,
        "enrollment": enrollment_summary(ldc),
        "quality": quality,
        "quality_total": sum(q["count"] for q in quality),
        "stage_figure": charts.stage_gantt(timeline, timezone.localdate()),
        "read_figure": charts.read_success_bars(success, OBLIGATION_PCT),
        "group_figure": charts.group_progress_bars(groups) if groups else None,
    }


def home_context(ldc: LDC, actor: Any) -> dict[str, Any]:
    """The context of templates/portal/home_ldc.html."""
    figures = ldc_figures(ldc)
    return {
        "ldc": ldc,
        "actor": actor,
        "figures": figures,
        "dashboard": ldc_dashboard(ldc, has_reads=bool(figures["recent_files"])),
        "can_upload": actor.can("reads.upload"),
        "uses_charts": True,
    }
