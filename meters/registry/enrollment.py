"""TOU billing enrollment as the registry holds it: which SDPs are TOU-billed on a date.

One rule, used by the billing quantities (a span before it is refused as ``not_enrolled``) and
by the coordinators' rollout counts (TOU-billed customers): an SDP is TOU-billed on local date D
when it has a TOU billing start (``ServiceDeliveryPoint.tou_billing_from``: its enrollment
group's start, set by the group's step 4, or the registry column ``tou_billing_from`` for SDPs
already TOU-billed when their LDC came to OpenMDMR) on or before D. An SDP in no enrollment
group has no start and is TOU-billed on no date. (The SME's MDM/R turns an LDC's smart-meter
data into TOU billing quantity data, O. Reg. 393/07 s. 0.1, for the SDPs the LDC has enrolled
with it, group by group, from the TOU billing start the LDC gives each group.)
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q


def tou_billed_on(day: dt.date) -> Q:
    """The SDPs (a ServiceDeliveryPoint filter) that are TOU-billed on local date ``day``."""
    return Q(tou_billing_from__isnull=False, tou_billing_from__lte=day)


def is_tou_billed_on(tou_billing_from: dt.date | None, day: dt.date) -> bool:
    """The same rule for one SDP's start."""
    return tou_billing_from is not None and tou_billing_from <= day


def split_at_enrollment(
    first: dt.date, last: dt.date, tou_billing_from: dt.date | None
) -> tuple[tuple[dt.date, dt.date] | None, tuple[dt.date, dt.date] | None]:
    """Local days first..last as (the span before TOU billing starts, the span from it on);
    either is None when empty."""
    if is_tou_billed_on(tou_billing_from, first):
        return None, (first, last)
    if tou_billing_from is None or tou_billing_from > last:
        return (first, last), None
    return (first, tou_billing_from - dt.timedelta(days=1)), (tou_billing_from, last)
