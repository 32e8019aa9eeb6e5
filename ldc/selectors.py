"""Read-side queries of the home pages: aggregates per LDC, never one customer's data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from meters.models import Meter, ReadFile, ServiceDeliveryPoint
from portal.tenancy import LDC, Membership


def _count_of(model: Any, **filters: Any) -> Coalesce:
    rows = (
        model.objects.filter(ldc=OuterRef("pk"), **filters)
        .order_by()
        .values("ldc")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def ldcs_with_counts() -> QuerySet[LDC]:
    """Every LDC with its registry counts, in one query."""
    return LDC.objects.annotate(
        sdp_count=_count_of(ServiceDeliveryPoint),
        meter_count=_count_of(Meter),
        staff_count=_count_of(Membership),
    ).order_by("name")


def province_totals(ldcs: list[LDC]) -> dict[str, int]:
    return {
        "ldcs": len(ldcs),
        "customers": sum(ldc.customer_base for ldc in ldcs),
        "meters": sum(ldc.meter_count for ldc in ldcs),  # type: ignore[attr-defined]
        "sdps": sum(ldc.sdp_count for ldc in ldcs),  # type: ignore[attr-defined]
        "production": sum(1 for ldc in ldcs if ldc.status == LDC.Status.PRODUCTION),
    }


def ldc_figures(ldc: LDC) -> dict[str, Any]:
    """The headline figures of one LDC's home page."""
    since = timezone.now() - dt.timedelta(days=7)
    files = ReadFile.objects.for_ldc(ldc)
    recent = files.filter(received_at__gte=since).aggregate(
        n=Count("pk"),
        accepted=Coalesce(Sum("intervals_accepted"), 0),
        rejected=Coalesce(Sum("intervals_rejected"), 0),
    )
    return {
        "sdps": ServiceDeliveryPoint.objects.for_ldc(ldc).count(),
        "meters": Meter.objects.for_ldc(ldc).count(),
        "staff": Membership.objects.for_ldc(ldc).count(),
        "files_7d": recent["n"],
        "intervals_accepted_7d": recent["accepted"],
        "intervals_rejected_7d": recent["rejected"],
        "files_rejected_7d": files.filter(
            received_at__gte=since, status=ReadFile.Status.REJECTED
        ).count(),
        "recent_files": list(files.order_by("-received_at")[:5]),
    }
