"""Read-side figures of an LDC's home page: where it stands in the MDM/R stages, its registry,
yesterday's read success against the 98.0 % obligation, VEE and billing work waiting, enrollment
progress and data-quality issues."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from billing.models import BillingQuantityRequest
from billing.models import Status as BqStatus
from ldc import charts
from ldc.enrollment import enrollment_summary, group_progress, groups_with_counts
from ldc.models import LDC, EnrollmentGroup
from ldc.stages import late_items, next_deadline, stage_timeline, stages_ensure
from meters.ingest import OBLIGATION_PCT
from meters.localtime import day_number, local_day_bounds, local_days
from meters.models import IntervalDay, MeterInstallation, VeeException
from meters.runs import sorted_unique
from meters.selectors import data_quality
from meters.storage import IntervalFlag
from portal.selectors import ldc_figures

READ_SUCCESS_DAYS = 7
READ_SUCCESS_CACHE_S = 300
DATA_QUALITY_LABELS = {
    "no_rate_class": "SDPs without a rate class",
    "invalid_postal_code": "SDPs with an invalid postal code",
    "sdps_without_meter": "active SDPs without a meter",
    "meters_without_sdp": "meters not installed at an SDP",
}


def read_success_by_day(ldc: LDC, first: dt.date, last: dt.date) -> dict[str, Any]:
    """Per local day: intervals expected of the installed meters and actual reads delivered.

    Expected is each installed meter's intervals in the local day (23 or 25 hours on DST days;
    hourly unless its stored reads say otherwise); delivered are intervals received with a
    value that is not an estimate (channel 1, delivered energy). Cached for a few minutes per
    LDC and window (dropped when reads change): the page is opened far more often than reads
    arrive, and at 10,000 meters the count reads 80,000 stored days.
    """
    key = f"dashboard:read-success:{ldc.pk}:{first}:{last}"
    cached = cache.get(key)
    if cached is None:
        cached = _read_success_by_day(ldc, first, last)
        cache.set(key, cached, READ_SUCCESS_CACHE_S)
        keys = cache.get(_keys_of(ldc.pk), set()) | {key}
        cache.set(_keys_of(ldc.pk), keys, READ_SUCCESS_CACHE_S)
    return cached


def _keys_of(ldc_id: int) -> str:
    return f"dashboard:read-success-keys:{ldc_id}"


def forget_read_success(ldc_id: int) -> None:
    """Drop an LDC's cached read-success windows (reads were merged, edited or estimated)."""
    cache.delete_many([*cache.get(_keys_of(ldc_id), set()), _keys_of(ldc_id)])


def _read_success_by_day(ldc: LDC, first: dt.date, last: dt.date) -> dict[str, Any]:
    tz = ZoneInfo(ldc.time_zone)
    days = np.arange(day_number(first), day_number(last) + 1, dtype=np.int64)
    start_s, _ = local_day_bounds(tz, int(days[0]))
    _, end_s = local_day_bounds(tz, int(days[-1]))
    delivered, minutes = _delivered_per_local_day(ldc, days, start_s, end_s, tz)
    seconds = np.array([np.subtract(*local_day_bounds(tz, int(d))[::-1]) for d in days])
    installed = _installed_per_day(ldc, first, last)
    expected = installed * (seconds // (minutes * 60))
    pct = np.where(expected > 0, 100.0 * delivered / np.maximum(expected, 1), np.nan)
    return {
        "days": [first + dt.timedelta(days=i) for i in range(len(days))],
        "expected": expected.tolist(),
        "delivered": delivered.tolist(),
        "pct": [None if np.isnan(p) else round(float(p), 2) for p in pct],
    }


def _delivered_per_local_day(
    ldc: LDC, days: np.ndarray, start_s: int, end_s: int, tz: ZoneInfo
) -> tuple[np.ndarray, int]:
    """Actual reads per local day and the usual interval length, from the flags column only
    (one query; the values are not needed to count)."""
    first_utc = dt.datetime.fromtimestamp(start_s, dt.UTC).date()
    last_utc = dt.datetime.fromtimestamp(end_s - 1, dt.UTC).date()
    rows = list(
        IntervalDay.objects.for_ldc(ldc)
        .filter(channel=1, day__gte=first_utc, day__lte=last_utc)
        .values_list("day", "interval_minutes", "flags")
    )
    delivered = np.zeros(len(days), np.int64)
    if not rows:
        return delivered, 60
    lengths = np.array([r[1] for r in rows], np.int64)
    for length in sorted_unique(lengths).tolist():
        n = 1440 // length
        mine = [r for r in rows if r[1] == length and len(r[2]) == n]
        if not mine:
            continue
        flags = np.frombuffer(b"".join(bytes(r[2]) for r in mine), np.uint8).reshape(-1, n)
        day_s = np.array([day_number(r[0]) for r in mine], np.int64) * 86400
        starts = day_s[:, None] + np.arange(n, dtype=np.int64)[None, :] * length * 60
        good = ((flags & IntervalFlag.RECEIVED) != 0) & (
            (flags & (IntervalFlag.MISSING | IntervalFlag.ESTIMATED)) == 0
        )
        inside = good & (starts >= start_s) & (starts < end_s)
        day_of = local_days(starts[inside], tz) - days[0]
        delivered += np.bincount(day_of, minlength=len(days))[: len(days)]
    return delivered, int(np.median(lengths))


def _installed_per_day(ldc: LDC, first: dt.date, last: dt.date) -> np.ndarray:
    """How many meters were installed at an SDP on each local day (one query, numpy)."""
    rows = list(
        MeterInstallation.objects.for_ldc(ldc)
        .filter(effective_from__lte=last)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=first))
        .values_list("effective_from", "effective_to")
    )
    n = (last - first).days + 1
    if not rows:
        return np.zeros(n, np.int64)
    start = np.array([day_number(a) for a, _ in rows], np.int64)
    end = np.array([day_number(b) if b else 10**7 for _, b in rows], np.int64)
    days = np.arange(day_number(first), day_number(first) + n, dtype=np.int64)
    # [effective_from, effective_to], both inclusive (meters.models.EffectiveDated)
    return ((start[None, :] <= days[:, None]) & (end[None, :] >= days[:, None])).sum(axis=1)


def ldc_dashboard(ldc: LDC, *, has_reads: bool = True) -> dict[str, Any]:
    """Everything the LDC's home page shows, with its plotly figures. ``has_reads`` False (no read
    file ever received): read success is not measured yet rather than 0 %."""
    stages_ensure(ldc=ldc)
    timeline = stage_timeline(ldc)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    success = read_success_by_day(
        ldc, yesterday - dt.timedelta(days=READ_SUCCESS_DAYS - 1), yesterday
    )
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
        "uses_charts": True,
    }
