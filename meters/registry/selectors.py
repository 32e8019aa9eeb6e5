"""Read-side queries of the registry with their rules."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from meters.models import Meter
from portal.tenancy import LDC


def data_quality(ldc: LDC) -> dict[str, QuerySet[Any]]:
    """The registry's data-quality issues: what would stop an SDP from being billed right."""
    from meters.models import MeterInstallation, ServiceDeliveryPoint
    from meters.registry.sync import POSTAL_CODE

    sdps = ServiceDeliveryPoint.objects.for_ldc(ldc)
    today = timezone.localdate()
    open_installs = (
        MeterInstallation.objects.for_ldc(ldc)
        .filter(effective_from__lte=today)
        .exclude(effective_to__lt=today)
    )
    return {
        "no_rate_class": sdps.filter(rate_class=""),
        "invalid_postal_code": sdps.exclude(postal_code__regex=POSTAL_CODE.pattern),
        "sdps_without_meter": sdps.filter(status="active").exclude(
            pk__in=open_installs.values("sdp_id")
        ),
        "meters_without_sdp": Meter.objects.for_ldc(ldc).exclude(
            pk__in=open_installs.values("meter_id")
        ),
    }
