"""The weekly data-quality figures of one LDC (read success per day against 98.0 %, rejected files,
VEE exceptions by rule, registry issues): what the SME publishes to each LDC; counts only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from meters.models import ReadFile, VeeException
from meters.read_success import (
    ldc_read_success,
    success_pct,
    window,
)
from meters.reads.spool import OBLIGATION_PCT
from portal.tenancy import LDC


def weekly_quality(ldc: LDC, end: dt.date | None = None) -> dict[str, Any]:
    """One LDC's week: read success per day vs 98.0 %, rejected files, VEE exceptions by rule,
    registry data-quality issues (counts only)."""
    from meters.registry.selectors import data_quality
    from meters.vee.rules import RULE_TITLES

    days = window(end)
    per_day = ldc_read_success(ldc, days)
    rejected = _rejected_files(ldc, days)
    daily: list[dict[str, Any]] = []
    for day, files in zip(days, rejected, strict=True):
        counts = per_day[day]
        daily.append(
            {"day": day, "delivered": counts.delivered, "expected": counts.expected}
            | {"pct": counts.pct}
            | {"files_rejected": files["files"], "files_received": files["received"]}
        )
    by_rule = (
        VeeException.objects.for_ldc(ldc)
        .filter(day__gte=days[0], day__lte=days[-1])
        .order_by()
        .values("rule")
        .annotate(total=Count("pk"), open=Count("pk", filter=Q(status=VeeException.Status.OPEN)))
        .order_by("rule")
    )
    dq = data_quality(ldc)
    return {
        "ldc": ldc,
        "days": days,
        "first": days[0],
        "last": days[-1],
        "daily": daily,
        "success_pct": success_pct(per_day),
        "obligation_pct": OBLIGATION_PCT,
        "days_below": sum(1 for d in daily if d["pct"] is not None and d["pct"] < OBLIGATION_PCT),
        "rejected": rejected,
        "rejected_total": sum(d["files"] for d in rejected),
        "exceptions": [
            {**row, "title": RULE_TITLES.get(row["rule"], row["rule"])} for row in by_rule
        ],
        "open_exceptions_all": VeeException.objects.for_ldc(ldc)
        .filter(status=VeeException.Status.OPEN)
        .count(),
        "dq": [
            ("SDPs without a rate class", dq["no_rate_class"].count()),
            ("SDPs with an invalid postal code", dq["invalid_postal_code"].count()),
            ("Active SDPs without a meter", dq["sdps_without_meter"].count()),
            ("Meters not installed at an SDP", dq["meters_without_sdp"].count()),
        ],
    }


def _rejected_files(ldc: LDC, days: list[dt.date]) -> list[dict[str, Any]]:
    files = (
        ReadFile.objects.for_ldc(ldc)
        .annotate(local_day=TruncDate("received_at"))
        .filter(local_day__gte=days[0], local_day__lte=days[-1])
        .order_by()
        .values("local_day")
        .annotate(
            files=Count("pk"),
            rejected=Count("pk", filter=Q(status=ReadFile.Status.REJECTED)),
        )
    )
    by_day = {row["local_day"]: row for row in files}
    return [
        {
            "day": day,
            "files": by_day.get(day, {}).get("rejected", 0),
            "received": by_day.get(day, {}).get("files", 0),
        }
        for day in days
    ]
