"""The coordinators' Smart Metering Charge page: every LDC's statements, CSV, and the rebate."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from ldc import charges
from ldc.views.charges import ChargesPage
from portal.mixins import CoordinatorMixin


class SmeChargesView(CoordinatorMixin, ChargesPage):
    """Every LDC's Smart Metering Charge statements (``?format=csv``); record a rebate."""

    extra_context = {"rebate_form": True}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            year = int(request.POST.get("year", ""))
            surplus = Decimal(request.POST.get("surplus", "").replace(",", "").replace("$", ""))
        except (ValueError, InvalidOperation):
            messages.error(
                request, "Year: a number such as 2025; surplus: dollars, e.g. 7830000.00."
            )
            return redirect("sme_onboarding:charges")
        if not 2013 <= year <= 2100 or not surplus.is_finite():
            messages.error(request, f"Year {year}: the SMC began in 2013.")
            return redirect("sme_onboarding:charges")
        try:
            rows = charges.rebate_record(year=year, surplus=surplus, actor=self.actor)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Rebate for {year} shared among {len(rows)} LDCs.")
        return redirect("sme_onboarding:charges")
